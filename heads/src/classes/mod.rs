//! The class head: a linear layer on the backbone's frozen patch features (the same features
//! the depth head reads, from the same backbone pass) to one logit per [`ObjectClass`], and
//! the class map of a frame (each class's logits upsampled to the frame like the depth map,
//! then the most likely class per pixel). Training data: each patch's share of labelled pixels
//! per class ([`targets`]), fitted by softmax regression ([`train`]); the file binds the head
//! to its backbone ([`file`]).

pub mod file;
pub mod targets;
pub mod train;

use ndarray::{Array1, Array2, ArrayView2};

use crate::head::linear::{HeadLayers, features};
use crate::head::upsample::coords;
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
    /// upsampled bilinearly to the frame, then compared ([`class_map`]).
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
        Ok(class_map(self.logits(features.view()).view(), rows, cols, height, width))
    }

    /// The most likely class of each patch of `features` [N, F].
    pub fn predict(&self, features: ArrayView2<f32>) -> Vec<ObjectClass> {
        train::argmax(&self.logits(features))
    }
}

/// Each pixel's most likely class, [height, width], from the logits [rows · cols, CLASSES] of a
/// patch grid, row-major. One pass over the frame: each pixel interpolates every class's logit
/// between its four patch centres (as `bilinear` does one map) and keeps the largest.
pub fn class_map(
    logits: ArrayView2<f32>,
    rows: usize,
    cols: usize,
    height: usize,
    width: usize,
) -> Array2<ObjectClass> {
    let logits = logits.as_standard_layout();
    let at = |patch: usize| &logits.as_slice().expect("standard layout")[patch * CLASSES..(patch + 1) * CLASSES];
    let (ys, xs) = (coords(height, rows), coords(width, cols));
    let mut out = Array2::from_elem((height, width), ObjectClass::Other);
    for (y, mut row) in out.rows_mut().into_iter().enumerate() {
        let (y0, y1, fy) = ys[y];
        for (x, pixel) in row.iter_mut().enumerate() {
            let (x0, x1, fx) = xs[x];
            let w = [(1.0 - fy) * (1.0 - fx), (1.0 - fy) * fx, fy * (1.0 - fx), fy * fx];
            let corners = [at(y0 * cols + x0), at(y0 * cols + x1), at(y1 * cols + x0), at(y1 * cols + x1)];
            let values = corners[0].iter().zip(corners[1]).zip(corners[2]).zip(corners[3]);
            let values = values.map(|(((a, b), c), d)| w[0] * a + w[1] * b + w[2] * c + w[3] * d);
            // The last of equal maxima, as `Iterator::max_by` picks.
            let (best, _) = values
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(bk, bv), (k, v)| if v >= bv { (k, v) } else { (bk, bv) });
            *pixel = ObjectClass::ALL[best];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dinoedge_backbone::runtime::BlockTokens;
    use ndarray::Array3;

    /// The one-pass class map against the plain way: each class's logits upsampled by
    /// `bilinear`, then the largest per pixel.
    #[test]
    fn the_one_pass_class_map_is_the_argmax_of_each_class_upsampled_alone() {
        let (rows, cols, d) = (3, 4, 6);
        let value = |i: usize| ((i * 7919 % 1000) as f32 / 500.0) - 1.0;
        let outputs = BackboneOutputs {
            cls: Array1::from_shape_fn(d, |i| value(i + 99)),
            patch_tokens: Array3::from_shape_fn((rows, cols, d), |(r, c, j)| value(r * 131 + c * 17 + j)),
            blocks: Vec::<BlockTokens>::new(),
            depth: None,
        };
        let head = ClassHead {
            layers: HeadLayers::One,
            weight: Array2::from_shape_fn((CLASSES, 2 * d), |(k, j)| value(k * 37 + j * 3 + 5)),
            bias: Array1::from_shape_fn(CLASSES, |k| value(k + 500) / 10.0),
        };
        let (height, width) = (17, 23);
        let logits = head.logits(features(&outputs, HeadLayers::One).unwrap().view());
        let maps: Vec<Array2<f32>> = (0..CLASSES)
            .map(|k| {
                let grid = logits.column(k).to_owned().into_shape_with_order((rows, cols)).unwrap();
                crate::head::upsample::bilinear(grid.view(), height, width)
            })
            .collect();
        let reference = Array2::from_shape_fn((height, width), |(y, x)| {
            ObjectClass::ALL[(0..CLASSES).max_by(|&a, &b| maps[a][[y, x]].total_cmp(&maps[b][[y, x]])).unwrap()]
        });
        assert_eq!(head.class_map(&outputs, height, width).unwrap(), reference);
    }

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
