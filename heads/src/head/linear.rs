//! The linear depth head of the DINOv2 paper: per patch, the tokens of the last block
//! (lin.1) or of four blocks (lin.4), each concatenated with its class token, a linear
//! layer to K depth-bin logits, softmax, and depth as the probability-weighted bin centres.

use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::bins::Bins;
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::runtime::BackboneOutputs;

/// Which backbone outputs the head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeadLayers {
    /// lin.1: the final patch tokens and class token (2·D features per patch).
    One,
    /// lin.4: the last four requested blocks' patch and class tokens (8·D features).
    Four,
}

impl HeadLayers {
    pub fn count(&self) -> usize {
        match self {
            HeadLayers::One => 1,
            HeadLayers::Four => 4,
        }
    }

    pub fn feature_dim(&self, hidden: usize) -> usize {
        2 * hidden * self.count()
    }
}

/// The per-patch features a head reads: [rows · cols, F], patches row-major.
pub fn features(outputs: &BackboneOutputs, layers: HeadLayers) -> Result<Array2<f32>> {
    let (rows, cols, d) = outputs.patch_tokens.dim();
    let n = rows * cols;
    let pairs: Vec<(&Array1<f32>, &ndarray::Array3<f32>)> = match layers {
        HeadLayers::One => vec![(&outputs.cls, &outputs.patch_tokens)],
        HeadLayers::Four => {
            if outputs.blocks.len() < 4 {
                return Err(ModelError::Inference(format!(
                    "a lin.4 head needs four intermediate blocks; the backbone outputs {}",
                    outputs.blocks.len()
                )));
            }
            outputs.blocks[outputs.blocks.len() - 4..].iter().map(|b| (&b.cls, &b.patch_tokens)).collect()
        }
    };
    let mut parts = Vec::with_capacity(2 * pairs.len());
    for (cls, patches) in pairs {
        parts.push(patches.to_shape((n, d)).expect("contiguous tokens").into_owned());
        parts.push(cls.view().insert_axis(Axis(0)).broadcast((n, d)).expect("a row per patch").to_owned());
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    Ok(concatenate(Axis(1), &views).expect("same number of patches"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    pub layers: HeadLayers,
    pub bins: Bins,
    /// [K, F]
    pub weight: Array2<f32>,
    /// [K]
    pub bias: Array1<f32>,
}

impl LinearHead {
    /// A head of zero weights (every patch predicts the mean of the bin centres).
    pub fn zeros(layers: HeadLayers, bins: Bins, hidden: usize) -> Self {
        let f = layers.feature_dim(hidden);
        Self { layers, bins, weight: Array2::zeros((bins.count, f)), bias: Array1::zeros(bins.count) }
    }

    /// Logits [N, K] of features [N, F].
    pub fn logits(&self, features: ArrayView2<f32>) -> Array2<f32> {
        features.dot(&self.weight.t()) + &self.bias
    }

    /// Depth in metres per patch, [N], from features [N, F].
    pub fn depth_of_features(&self, features: ArrayView2<f32>) -> Array1<f32> {
        let logits = self.logits(features);
        let centers = self.bins.centers();
        let mut scratch = vec![0.0; self.bins.count];
        logits.rows().into_iter().map(|row| Bins::decode(row, &centers, &mut scratch)).collect()
    }

    /// The depth map over the patch grid, [rows, cols] metres.
    pub fn patch_depth(&self, outputs: &BackboneOutputs) -> Result<Array2<f32>> {
        let (rows, cols, d) = outputs.patch_tokens.dim();
        let features = features(outputs, self.layers)?;
        if features.ncols() != self.weight.ncols() {
            return Err(ModelError::Inference(format!(
                "the head reads {} features per patch, the backbone gives {} ({} wide)",
                self.weight.ncols(),
                features.ncols(),
                d
            )));
        }
        Ok(self.depth_of_features(features.view()).into_shape_with_order((rows, cols)).expect("one depth per patch"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::bins::BinSpacing;
    use dinoedge_backbone::runtime::BlockTokens;
    use ndarray::{Array3, array};

    fn outputs(d: usize) -> BackboneOutputs {
        let tokens = |k: f32| Array3::from_shape_fn((1, 2, d), |(_, c, j)| k + c as f32 + j as f32 / 10.0);
        BackboneOutputs {
            cls: Array1::from_elem(d, 9.0),
            patch_tokens: tokens(0.0),
            blocks: (1..=4)
                .map(|b| BlockTokens {
                    block: b,
                    cls: Array1::from_elem(d, b as f32),
                    patch_tokens: tokens(b as f32 * 10.0),
                })
                .collect(),
            depth: None,
        }
    }

    #[test]
    fn lin1_features_are_patch_tokens_then_the_class_token() {
        let f = features(&outputs(2), HeadLayers::One).unwrap();
        assert_eq!(f, array![[0.0, 0.1, 9.0, 9.0], [1.0, 1.1, 9.0, 9.0]]);
        let f4 = features(&outputs(2), HeadLayers::Four).unwrap();
        assert_eq!(f4.dim(), (2, 16));
        assert_eq!(f4.row(1).to_vec()[..4], [11.0, 11.1, 1.0, 1.0]);
    }

    #[test]
    fn a_head_decodes_each_patch_through_its_bins() {
        let bins = Bins::new(1.0, 5.0, 2, BinSpacing::Uniform).unwrap();
        let mut head = LinearHead::zeros(HeadLayers::One, bins, 2);
        // Logit of the far bin = first feature · ln 3: patch 0 has feature 0 (even odds, 3 m), patch 1 feature 1 (3.5 m).
        head.weight[[1, 0]] = 3f32.ln();
        let depth = head.patch_depth(&outputs(2)).unwrap();
        assert_eq!(depth.dim(), (1, 2));
        assert!((depth[[0, 0]] - 3.0).abs() < 1e-6 && (depth[[0, 1]] - 3.5).abs() < 1e-6, "{depth}");
    }
}
