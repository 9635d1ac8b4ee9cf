//! Tensor names of the Hugging Face DINOv2 layout (`facebook/dinov2-small`, `-base`, and
//! the `*-with-registers` variants), as the hub files spell them. Files saved by
//! transformers 5 rename the attention weights; [`aliases`] lists the names to try.
//! facebookresearch/dinov2's own checkpoints (`dinov2_vits14_pretrain.pth`, and the backbone
//! inside Depth Anything's original `.pth`) name the same tensors after its modules, with
//! query, key and value fused: [`meta_name`].

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

/// The tensor facebookresearch/dinov2's own checkpoints are recognised by (its prefix is the
/// backbone's: `pretrained.` in Depth Anything's original files).
pub const META_ANCHOR: &str = "patch_embed.proj.weight";

/// Where a hub tensor is in facebookresearch/dinov2's layout: its name there, and for the
/// attention's query, key and value which third (0, 1, 2) of `attn.qkv`'s rows it is.
pub fn meta_name(hub_name: &str) -> Option<(String, Option<usize>)> {
    const TOP: [(&str, &str); 8] = [
        (CLS_TOKEN, "cls_token"),
        (MASK_TOKEN, "mask_token"),
        (POSITION_EMBEDDINGS, "pos_embed"),
        (REGISTER_TOKENS, "register_tokens"),
        (PATCH_WEIGHT, META_ANCHOR),
        (PATCH_BIAS, "patch_embed.proj.bias"),
        (NORM_WEIGHT, "norm.weight"),
        (NORM_BIAS, "norm.bias"),
    ];
    if let Some((_, meta)) = TOP.iter().find(|(hub, _)| *hub == hub_name) {
        return Some((meta.to_string(), None));
    }
    let rest = hub_name.strip_prefix("encoder.layer.")?;
    let (index, name) = rest.split_once('.')?;
    let (part, name) = match name.split_once('.')? {
        ("attention", attention) => match attention.rsplit_once('.')? {
            ("attention.query", kind) => (Some(0), format!("attn.qkv.{kind}")),
            ("attention.key", kind) => (Some(1), format!("attn.qkv.{kind}")),
            ("attention.value", kind) => (Some(2), format!("attn.qkv.{kind}")),
            ("output.dense", kind) => (None, format!("attn.proj.{kind}")),
            _ => return None,
        },
        ("layer_scale1", "lambda1") => (None, "ls1.gamma".into()),
        ("layer_scale2", "lambda1") => (None, "ls2.gamma".into()),
        _ => (None, name.to_string()),
    };
    Some((format!("blocks.{index}.{name}"), part))
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

    #[test]
    fn meta_names_fuse_query_key_and_value() {
        assert_eq!(
            meta_name(&block_tensor(2, "attention.attention.key.bias")),
            Some(("blocks.2.attn.qkv.bias".into(), Some(1)))
        );
        assert_eq!(
            meta_name(&block_tensor(0, "attention.output.dense.weight")),
            Some(("blocks.0.attn.proj.weight".into(), None))
        );
        assert_eq!(meta_name(&block_tensor(11, "layer_scale2.lambda1")), Some(("blocks.11.ls2.gamma".into(), None)));
        assert_eq!(meta_name(&block_tensor(1, "mlp.fc1.weight")), Some(("blocks.1.mlp.fc1.weight".into(), None)));
        assert_eq!(meta_name(POSITION_EMBEDDINGS), Some(("pos_embed".into(), None)));
        assert_eq!(meta_name(NORM_BIAS), Some(("norm.bias".into(), None)));
    }
}
