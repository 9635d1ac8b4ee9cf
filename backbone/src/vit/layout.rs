//! Tensor names of the Hugging Face DINOv2 layout (`facebook/dinov2-small`, `-base`, and
//! the `*-with-registers` variants), as the hub files spell them. Files saved by
//! transformers 5 rename the attention weights; [`aliases`] lists the names to try.

/// The hub name of a tensor that belongs to no block.
pub const CLS_TOKEN: &str = "embeddings.cls_token";
pub const MASK_TOKEN: &str = "embeddings.mask_token";
pub const POSITION_EMBEDDINGS: &str = "embeddings.position_embeddings";
pub const REGISTER_TOKENS: &str = "embeddings.register_tokens";
pub const PATCH_WEIGHT: &str = "embeddings.patch_embeddings.projection.weight";
pub const PATCH_BIAS: &str = "embeddings.patch_embeddings.projection.bias";
pub const NORM_WEIGHT: &str = "layernorm.weight";
pub const NORM_BIAS: &str = "layernorm.bias";

/// The tensors of one transformer block, by their name inside `encoder.layer.{i}.`.
pub const BLOCK_TENSORS: [&str; 18] = [
    "norm1.weight",
    "norm1.bias",
    "attention.attention.query.weight",
    "attention.attention.query.bias",
    "attention.attention.key.weight",
    "attention.attention.key.bias",
    "attention.attention.value.weight",
    "attention.attention.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "layer_scale1.lambda1",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
    "layer_scale2.lambda1",
];

/// The hub name of tensor `name` (one of [`BLOCK_TENSORS`]) of block `index` (0-based).
pub fn block_tensor(index: usize, name: &str) -> String {
    format!("encoder.layer.{index}.{name}")
}

/// The names a tensor may have in a file: the hub name, then transformers 5's name.
pub fn aliases(hub_name: &str) -> [String; 2] {
    const RENAMES: [(&str, &str); 4] = [
        ("attention.attention.query.", "attention.q_proj."),
        ("attention.attention.key.", "attention.k_proj."),
        ("attention.attention.value.", "attention.v_proj."),
        ("attention.output.dense.", "attention.o_proj."),
    ];
    let renamed = RENAMES
        .iter()
        .find(|(old, _)| hub_name.contains(old))
        .map(|(old, new)| hub_name.replace(old, new))
        .unwrap_or_else(|| hub_name.to_string());
    [hub_name.to_string(), renamed]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_weights_have_a_transformers5_alias() {
        let hub = block_tensor(3, "attention.output.dense.weight");
        assert_eq!(aliases(&hub)[1], "encoder.layer.3.attention.o_proj.weight");
        assert_eq!(aliases(NORM_WEIGHT)[1], NORM_WEIGHT);
    }
}
