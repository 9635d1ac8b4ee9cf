//! Evaluating a depth model on an RGB-D folder: the standard metrics over the valid pixels
//! at full frame resolution, for the model and, on the same pixels, for the median
//! baseline (every pixel predicted at one median depth: the training set's for a trained
//! head, the folder's own for an imported model, which has no training set here) and the
//! pixel baseline (log depth regressed on each patch's input pixels alone; trained heads only).
//!
//! A model of relative output (inverse depth up to scale and shift) is scored as its
//! publishers score it: per frame, `1/depth = a · output + b` fitted to the truth by least
//! squares over the valid pixels, then the metrics on the aligned depth (capped at
//! [`DepthKind::RELATIVE_MAX_DEPTH_M`], as calibration caps it). Metric models are scored as they are.

use ndarray::Array2;
use serde::Serialize;

use super::model::DepthModel;
use super::pixels::{PixelBaseline, patch_pixels};
use super::upsample::bilinear;
use crate::data::{RgbdFolder, is_valid};
use crate::metrics::{DepthMetrics, MetricsAccumulator};
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::onnx::meta::DepthKind;
use dinoedge_backbone::preprocess;

/// Every how many valid pixels one is kept to estimate the folder's median depth.
const MEDIAN_STRIDE: usize = 7;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub frames: usize,
    /// How the model's output was scored: `metric`, or `relative` (aligned per frame).
    pub output: DepthKind,
    pub head: DepthMetrics,
    pub median_baseline: DepthMetrics,
    pub median_m: f32,
    /// Whose median the baseline predicts.
    pub median_of: MedianOf,
    /// The pixel baseline's metrics, when the head file has one.
    pub pixel_baseline: Option<DepthMetrics>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MedianOf {
    /// The head's training set (stored in its file).
    TrainingSet,
    /// The evaluated folder itself: an imported model brings no training set.
    Folder,
}

/// Scores `model` on `folder`. `median_m` is the median baseline's depth (the training set's);
/// None takes the folder's own median.
pub fn evaluate(
    model: &DepthModel,
    folder: &RgbdFolder,
    median_m: Option<f32>,
    pixel_baseline: Option<&PixelBaseline>,
    progress: &dyn Fn(usize, usize),
) -> Result<EvalReport> {
    let (median_m, median_of) = match median_m {
        Some(m) => (m, MedianOf::TrainingSet),
        None => (folder_median(folder)?, MedianOf::Folder),
    };
    let (mut head, mut median, mut pixel) =
        (MetricsAccumulator::default(), MetricsAccumulator::default(), MetricsAccumulator::default());
    let meta = model.backbone.meta();
    let (rows, cols) = meta.input.grid(meta.spec.patch)?;
    for i in 0..folder.len() {
        let (rgb, truth) = folder.load(i)?;
        // Resized and normalised once, for the pixel baseline and the model.
        let input = preprocess::to_input(&rgb, meta.input);
        if let Some(baseline) = pixel_baseline {
            let pixels = patch_pixels(&input, meta.spec.patch);
            let patches = baseline.depth(pixels.view()).into_shape_with_order((rows, cols)).expect("one per patch");
            pixel.add(bilinear(patches.view(), truth.nrows(), truth.ncols()).view(), truth.view());
        }
        let prediction = model.depth_of_input(input, truth.nrows(), truth.ncols())?;
        let prediction = match model.kind() {
            DepthKind::Metric => prediction,
            DepthKind::Relative => align(&prediction, &truth),
        };
        head.add(prediction.view(), truth.view());
        median.add(Array2::from_elem(truth.dim(), median_m).view(), truth.view());
        progress(i + 1, folder.len());
    }
    let none = || ModelError::Data { path: folder.root.clone(), reason: "no valid depth in any frame".into() };
    Ok(EvalReport {
        frames: folder.len(),
        output: model.kind(),
        head: head.finish().ok_or_else(none)?,
        median_baseline: median.finish().ok_or_else(none)?,
        median_m,
        median_of,
        pixel_baseline: pixel.finish(),
    })
}

/// The median of the folder's valid depths (every [`MEDIAN_STRIDE`]th valid pixel).
fn folder_median(folder: &RgbdFolder) -> Result<f32> {
    let mut depths = Vec::new();
    for i in 0..folder.len() {
        let (_, truth) = folder.load(i)?;
        depths.extend(truth.iter().copied().filter(|d| is_valid(*d)).step_by(MEDIAN_STRIDE));
    }
    if depths.is_empty() {
        return Err(ModelError::Data { path: folder.root.clone(), reason: "no valid depth in any frame".into() });
    }
    let middle = depths.len() / 2;
    Ok(*depths.select_nth_unstable_by(middle, f32::total_cmp).1)
}

/// A relative prediction (inverse depth up to scale and shift) in metres: `1/depth = a · p + b`
/// fitted by least squares to the valid pixels of `truth`, capped at [`DepthKind::RELATIVE_MAX_DEPTH_M`]. A frame
/// with fewer than two distinct predictions on valid pixels is scored at the cap.
pub fn align(prediction: &Array2<f32>, truth: &Array2<f32>) -> Array2<f32> {
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&p, &t) in prediction.iter().zip(truth) {
        if is_valid(t) && p.is_finite() {
            let (x, y) = (f64::from(p), 1.0 / f64::from(t));
            n += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
    }
    let spread = n * sxx - sx * sx;
    let (a, b) = if n >= 2.0 && spread > f64::EPSILON * n * sxx.max(1.0) {
        let a = (n * sxy - sx * sy) / spread;
        (a, (sy - a * sx) / n)
    } else {
        (0.0, 0.0)
    };
    prediction.mapv(|p| DepthKind::Relative.metres(a * f64::from(p) + b) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn alignment_recovers_depth_from_an_affine_inverse_depth() {
        let truth = array![[2.0f32, 4.0], [1.0, 0.0]]; // the last pixel is invalid
        // output = 3 / depth + 0.5 on the valid pixels; anything on the invalid one.
        let prediction = array![[2.0f32, 1.25], [3.5, 99.0]];
        let aligned = align(&prediction, &truth);
        for (got, want) in aligned.iter().zip(&truth).take(3) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn a_flat_prediction_is_scored_at_the_cap() {
        let aligned = align(&array![[1.0f32, 1.0]], &array![[2.0f32, 3.0]]);
        assert!(aligned.iter().all(|d| *d == DepthKind::RELATIVE_MAX_DEPTH_M as f32));
    }
}
