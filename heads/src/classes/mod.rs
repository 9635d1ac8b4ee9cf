//! The class head: a linear layer on the backbone's frozen patch features (the same features
//! the depth head reads, from the same backbone pass) to one logit per [`ObjectClass`], and
//! the class map of a frame (each class's logits upsampled to the frame like the depth map,
//! then the most likely class per pixel). Training data: each patch's share of labelled pixels
//! per class ([`targets`]), fitted by softmax regression ([`train`]); the file binds the head
//! to its backbone ([`file`]).

pub mod file;
pub mod targets;
pub mod train;

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::head::linear::{HeadLayers, features};
use crate::head::upsample::bilinear;
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::runtime::BackboneOutputs;
use dinoedge_config::ObjectClass;

/// How many classes a head tells apart: every [`ObjectClass`], in index order.
pub const CLASSES: usize = ObjectClass::ALL.len();

#[derive(Debug, Clone, PartialEq)]
pub struct ClassHead {
    pub layers: HeadLayers,
    /// [CLASSES, F]
    pub weight: Array2<f32>,
    /// [CLASSES]
    pub bias: Array1<f32>,
}

impl ClassHead {
    /// Logits [N, CLASSES] of features [N, F].
    pub fn logits(&self, features: ArrayView2<f32>) -> Array2<f32> {
        features.dot(&self.weight.t()) + &self.bias
    }

    /// Each pixel's most likely class, [height, width]: the logits of the patch grid
    /// upsampled bilinearly to the frame, then compared.
    pub fn class_map(&self, outputs: &BackboneOutputs, height: usize, width: usize) -> Result<Array2<ObjectClass>> {
        let (rows, cols, _) = outputs.patch_tokens.dim();
        let features = features(outputs, self.layers)?;
        if features.ncols() != self.weight.ncols() {
            return Err(ModelError::Inference(format!(
                "the class head reads {} features per patch, the backbone gives {}",
                self.weight.ncols(),
                features.ncols()
            )));
        }
        let logits = self.logits(features.view());
        let maps: Vec<Array2<f32>> = logits
            .axis_iter(Axis(1))
            .map(|class| {
                let grid = class.to_owned().into_shape_with_order((rows, cols)).expect("one logit per patch");
                bilinear(grid.view(), height, width)
            })
            .collect();
        Ok(Array2::from_shape_fn((height, width), |(y, x)| {
            let best = (0..CLASSES).max_by(|&a, &b| maps[a][[y, x]].total_cmp(&maps[b][[y, x]])).expect("classes");
            ObjectClass::ALL[best]
        }))
    }

    /// The most likely class of each patch of `features` [N, F].
    pub fn predict(&self, features: ArrayView2<f32>) -> Vec<ObjectClass> {
        train::argmax(&self.logits(features))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dinoedge_backbone::runtime::BlockTokens;
    use ndarray::Array3;

    #[test]
    fn the_class_map_is_the_most_likely_class_of_the_upsampled_logits() {
        // Two patches, one feature each (+ the class token's): patch 0 has feature −1, patch 1 +1.
        let outputs = BackboneOutputs {
            cls: Array1::zeros(1),
            patch_tokens: Array3::from_shape_vec((1, 2, 1), vec![-1.0, 1.0]).unwrap(),
            blocks: Vec::<BlockTokens>::new(),
            depth: None,
        };
        let mut head =
            ClassHead { layers: HeadLayers::One, weight: Array2::zeros((CLASSES, 2)), bias: Array1::zeros(CLASSES) };
        head.weight[[ObjectClass::Forklift.index() as usize, 0]] = -1.0; // likes patch 0
        head.weight[[ObjectClass::Person.index() as usize, 0]] = 1.0; // likes patch 1
        let map = head.class_map(&outputs, 1, 4).unwrap();
        use ObjectClass::{Forklift, Person};
        assert_eq!(map.row(0).to_vec(), [Forklift, Forklift, Person, Person]);
        head.weight = Array2::zeros((CLASSES, 6));
        assert!(head.class_map(&outputs, 1, 4).unwrap_err().to_string().contains("reads 6 features"));
    }
}
