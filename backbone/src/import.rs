//! `dinoedge model import`: a Hugging Face DINOv2 safetensors file (with its optional
//! `config.json`) to a dinoedge backbone ONNX graph for one input size.

use std::path::Path;

use crate::error::{ModelError, Result};
use crate::files::write_atomically;
use crate::onnx::dinov2;
use crate::onnx::meta::{AttentionForm, BackboneMeta};
use crate::size::InputSize;
use crate::vit::DinoWeights;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub input: InputSize,
    /// 1-based blocks whose normed tokens become outputs; `None`: four evenly spaced
    /// blocks ending with the last (3, 6, 9, 12 for a 12-block model).
    pub blocks: Option<Vec<usize>>,
    pub attention: AttentionForm,
}

/// Reads `weights`, builds the graph and writes it to `out` atomically.
pub fn import(weights: &Path, out: &Path, options: &ImportOptions) -> Result<BackboneMeta> {
    let w = DinoWeights::load(weights)?;
    let depth = w.spec.depth;
    let blocks = match &options.blocks {
        Some(blocks) => {
            if let Some(bad) = blocks.iter().find(|b| **b == 0 || **b > depth) {
                return Err(ModelError::Config {
                    path: weights.to_path_buf(),
                    field: "blocks".into(),
                    reason: format!("block {bad} does not exist; the model has blocks 1 to {depth}"),
                });
            }
            let mut blocks = blocks.clone();
            blocks.sort_unstable();
            blocks.dedup();
            blocks
        }
        None => default_blocks(depth),
    };
    options.input.grid(w.spec.patch)?;
    let meta = BackboneMeta {
        spec: w.spec.clone(),
        input: options.input,
        blocks,
        attention: options.attention,
        weights_sha256: w.sha256.clone(),
        depth: None,
    };
    let bytes = dinov2::build(&w, &meta)?;
    write_atomically(out, &bytes)?;
    Ok(meta)
}

/// Four evenly spaced blocks ending with the last, as DINOv2's depth heads read them.
pub fn default_blocks(depth: usize) -> Vec<usize> {
    let mut blocks: Vec<usize> = (1..=4).map(|k| (k * depth).div_ceil(4)).filter(|b| *b > 0).collect();
    blocks.dedup();
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_blocks_are_the_quarters() {
        assert_eq!(default_blocks(12), vec![3, 6, 9, 12]);
        assert_eq!(default_blocks(24), vec![6, 12, 18, 24]);
        assert_eq!(default_blocks(3), vec![1, 2, 3]);
    }
}
