//! The DINOv2 forward pass as an ONNX graph with a fixed input size.
//!
//! Inputs: `pixel_values` [1, 3, H, W], normalised. Outputs: `cls` [1, D] and
//! `patch_tokens` [1, N, D] after the final LayerNorm, and for each requested block b
//! `block{b}_cls` [1, D] and `block{b}_patch_tokens` [1, N, D]: that block's output passed
//! through the final LayerNorm, as DINOv2's `get_intermediate_layers(norm=True)` does.
//! Register tokens are dropped from the outputs.
//!
//! The graph is shaped for CPU inference rather than copied op for op: tokens flow as a
//! 2-D [T, D] matrix (batch 1), the position embedding is resampled at import and baked
//! in with the class token, the attention scale is folded into the query weights and each
//! LayerScale into the projection before it. These are exact rewrites (up to float
//! rounding), checked by the parity tests against the reference.

use ndarray::{Array1, Array2, Axis, concatenate, s};

use super::graph::{Attr, GraphBuilder};
use super::meta::{AttentionForm, BackboneMeta};
use super::{OPSET_20, OPSET_23, Opset};
use crate::error::Result;
use crate::posembed::resample;
use crate::vit::{DinoWeights, LayerNorm, Linear};

/// Names of the graph's input and fixed outputs.
pub const INPUT: &str = "pixel_values";
pub const CLS: &str = "cls";
pub const PATCH_TOKENS: &str = "patch_tokens";

pub fn block_cls(block: usize) -> String {
    format!("block{block}_cls")
}

pub fn block_patch_tokens(block: usize) -> String {
    format!("block{block}_patch_tokens")
}

/// The encoder appended to a graph: its tokens where a head can read them.
pub struct Encoded {
    /// The final tokens [T, D] (class token, registers, patches), before the final LayerNorm.
    pub last: String,
    /// (1-based block, that block's output [T, D] before the final LayerNorm), for the
    /// requested blocks in increasing order.
    pub blocks: Vec<(usize, String)>,
    pub rows: usize,
    pub cols: usize,
    /// Register tokens between the class token and the patches.
    pub registers: usize,
}

impl Encoded {
    /// The raw tokens of `block` (1-based), if it was requested.
    pub fn block(&self, block: usize) -> Option<&str> {
        self.blocks.iter().find(|(b, _)| *b == block).map(|(_, name)| name.as_str())
    }

    /// `block`'s raw class token [1, D] and patch tokens [N, D] (registers dropped), sliced
    /// off in the graph; None if the block was not requested.
    pub fn class_and_patches(&self, g: &mut GraphBuilder, block: usize) -> Option<(String, String)> {
        let tokens = self.block(block)?;
        let t = (1 + self.registers + self.rows * self.cols) as i64;
        Some((g.slice(tokens, 0, 0, 1), g.slice(tokens, 0, (1 + self.registers) as i64, t)))
    }
}

/// Builds the encoded ONNX model. `meta.blocks` must already be validated (1..=depth).
pub fn build(w: &DinoWeights, meta: &BackboneMeta) -> Result<Vec<u8>> {
    let mut g = GraphBuilder::default();
    let encoded = encode(&mut g, w, meta)?;
    emit_features(&mut g, w, &encoded);
    Ok(g.finish("dinov2", opset(meta.attention), &meta.to_props()))
}

/// The opset a graph holding the encoder declares.
pub fn opset(attention: AttentionForm) -> Opset {
    match attention {
        AttentionForm::Decomposed => OPSET_20,
        AttentionForm::Fused => OPSET_23,
    }
}

/// Declares the input and appends the encoder for `meta`'s input size, keeping the raw
/// tokens of `meta.blocks`.
pub fn encode(g: &mut GraphBuilder, w: &DinoWeights, meta: &BackboneMeta) -> Result<Encoded> {
    let spec = &w.spec;
    let (rows, cols) = meta.input.grid(spec.patch)?;
    let (d, r, n) = (spec.hidden, spec.registers, rows * cols);
    let t = 1 + r + n;
    // Patch embedding: a stride-P convolution, then [D, N] -> [N, D].
    let pixels = g.input(INPUT, &[1, 3, meta.input.height, meta.input.width]);
    let kernel = g.constant("patch_weight", w.patch_weight.view());
    let bias = g.constant("patch_bias", w.patch_bias.view());
    let p = spec.patch as i64;
    let conv = g.node(
        "Conv",
        &[&pixels, &kernel, &bias],
        &[("kernel_shape", Attr::Ints(vec![p, p])), ("strides", Attr::Ints(vec![p, p]))],
    );
    let flat = g.reshape(&conv, &[d as i64, n as i64]);
    let patches = g.transpose(&flat, &[1, 0]);

    // Position embedding for this grid (the reference skips resampling for its own square grid).
    let grid =
        w.pos_embed.slice(s![1.., ..]).into_shape_with_order((spec.pos_grid, spec.pos_grid, d)).expect("checked");
    let same = rows == spec.pos_grid && cols == spec.pos_grid && meta.input.height == meta.input.width;
    let pos = if same { grid.to_owned() } else { resample(grid, rows, cols, spec.pos_resample) };
    let pos = pos.into_shape_with_order((n, d)).expect("rows × cols = n");
    let pos = g.constant("pos_embed", pos.view());
    let patches = g.add(&patches, &pos);

    // [class token + its position; registers (no position)] then the patches.
    let cls = (&w.cls_token + &w.pos_embed.row(0)).insert_axis(Axis(0));
    let head = concatenate(Axis(0), &[cls.view(), w.registers.view()]).expect("both are [_, D]");
    let head = g.constant("cls_and_registers", head.view());
    let mut x = g.node("Concat", &[&head, &patches], &[("axis", Attr::Int(0))]);

    let (heads, head_dim) = (spec.heads as i64, spec.head_dim() as i64);
    let scale = 1.0 / (spec.head_dim() as f32).sqrt();
    let mut kept = Vec::new();
    for (i, block) in w.blocks.iter().enumerate() {
        // Attention.
        let h = layer_norm(g, &x, &block.norm1, spec.layer_norm_eps);
        // One [D, 3D] projection for q, k and v.
        let qkv = Linear::stack_outputs(&[&block.query, &block.key, &block.value]);
        let mut column_scale = Array1::ones(3 * d);
        column_scale.slice_mut(s![..d]).fill(scale);
        let qkv = linear(g, &h, &qkv, Some(&column_scale));
        let mixed = match meta.attention {
            AttentionForm::Decomposed => {
                // [T, 3D] -> [3, H, T, hd]; per head softmax(q kᵀ) v.
                let qkv = g.reshape(&qkv, &[t as i64, 3, heads, head_dim]);
                let qkv = g.transpose(&qkv, &[1, 2, 0, 3]);
                let part = |g: &mut GraphBuilder, index: i64| {
                    let one = g.slice(&qkv, 0, index, index + 1);
                    g.reshape(&one, &[heads, t as i64, head_dim])
                };
                let q = part(g, 0); // [H, T, hd]
                let k = part(g, 1);
                let k = g.transpose(&k, &[0, 2, 1]); // [H, hd, T]
                let v = part(g, 2); // [H, T, hd]
                let scores = g.matmul(&q, &k);
                let probs = g.node("Softmax", &[&scores], &[("axis", Attr::Int(-1))]);
                let mixed = g.matmul(&probs, &v);
                let mixed = g.transpose(&mixed, &[1, 0, 2]);
                g.reshape(&mixed, &[t as i64, d as i64])
            }
            AttentionForm::Fused => {
                // [T, 3D] -> three [1, T, D]; the scale is already in the query weights.
                let part = |g: &mut GraphBuilder, index: i64| {
                    let one = g.slice(&qkv, 1, index * d as i64, (index + 1) * d as i64);
                    g.reshape(&one, &[1, t as i64, d as i64])
                };
                let (q, k, v) = (part(g, 0), part(g, 1), part(g, 2));
                let mixed = g.node(
                    "Attention",
                    &[&q, &k, &v],
                    &[
                        ("q_num_heads", Attr::Int(heads)),
                        ("kv_num_heads", Attr::Int(heads)),
                        ("scale", Attr::Float(1.0)),
                    ],
                );
                g.reshape(&mixed, &[t as i64, d as i64])
            }
        };
        let attended = linear(g, &mixed, &block.output, Some(&block.scale1));
        x = g.add(&x, &attended);
        // MLP.
        let h = layer_norm(g, &x, &block.norm2, spec.layer_norm_eps);
        let hidden = linear(g, &h, &block.fc1, None);
        let hidden = g.node("Gelu", &[&hidden], &[]);
        let out = linear(g, &hidden, &block.fc2, Some(&block.scale2));
        x = g.add(&x, &out);
        if meta.blocks.contains(&(i + 1)) {
            kept.push((i + 1, x.clone()));
        }
    }

    Ok(Encoded { last: x, blocks: kept, rows, cols, registers: spec.registers })
}

/// The backbone's feature outputs: [`CLS`] and [`PATCH_TOKENS`] from the final tokens, and
/// per kept block its tokens through the final LayerNorm (registers dropped). Returns each
/// kept block's normed patch tokens [N, D], for heads that read them.
pub fn emit_features(g: &mut GraphBuilder, w: &DinoWeights, encoded: &Encoded) -> Vec<(usize, String)> {
    let spec = &w.spec;
    let (d, r, n) = (spec.hidden, spec.registers, encoded.rows * encoded.cols);
    let t = 1 + r + n;
    let emit = |g: &mut GraphBuilder, tokens: &str, cls_name: &str, patch_name: &str| -> String {
        let normed = layer_norm(g, tokens, &w.norm, spec.layer_norm_eps);
        let cls = g.slice(&normed, 0, 0, 1);
        g.output(&cls, cls_name, &[1, d]);
        let patches = g.slice(&normed, 0, (1 + r) as i64, t as i64);
        let batched = g.reshape(&patches, &[1, n as i64, d as i64]);
        g.output(&batched, patch_name, &[1, n, d]);
        patches
    };
    emit(g, &encoded.last, CLS, PATCH_TOKENS);
    encoded.blocks.iter().map(|(b, tokens)| (*b, emit(g, tokens, &block_cls(*b), &block_patch_tokens(*b)))).collect()
}

pub fn layer_norm(g: &mut GraphBuilder, x: &str, norm: &LayerNorm, eps: f32) -> String {
    let scale = g.constant("ln_weight", norm.weight.view());
    let bias = g.constant("ln_bias", norm.bias.view());
    g.node("LayerNormalization", &[x, &scale, &bias], &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))])
}

/// `x · Wᵀ + b`, with the output columns multiplied by `column_scale` when given
/// (folding a following LayerScale or the attention scale into the weights).
fn linear(g: &mut GraphBuilder, x: &str, layer: &Linear, column_scale: Option<&Array1<f32>>) -> String {
    let mut weight: Array2<f32> = layer.weight.t().as_standard_layout().into_owned(); // [in, out]
    let mut bias = layer.bias.clone();
    if let Some(scale) = column_scale {
        weight *= &scale.view().insert_axis(Axis(0));
        bias *= scale;
    }
    let weight = g.constant("weight", weight.view());
    let bias = g.constant("bias", bias.view());
    let product = g.matmul(x, &weight);
    g.add(&product, &bias)
}
