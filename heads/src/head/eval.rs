//! Evaluating a depth model on an RGB-D folder: the standard metrics over the valid pixels
//! at full frame resolution, for the model and, on the same pixels, for the median
//! baseline (every pixel predicted at the training set's median depth) and the pixel
//! baseline (log depth regressed on each patch's input pixels alone).

use ndarray::Array2;
use serde::Serialize;

use super::model::DepthModel;
use super::pixels::{PixelBaseline, patch_pixels};
use super::upsample::bilinear;
use crate::data::RgbdFolder;
use crate::metrics::{DepthMetrics, MetricsAccumulator};
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::preprocess;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub frames: usize,
    pub head: DepthMetrics,
    pub median_baseline: DepthMetrics,
    pub median_m: f32,
    /// The pixel baseline's metrics, when the head file has one.
    pub pixel_baseline: Option<DepthMetrics>,
}

pub fn evaluate(
    model: &DepthModel,
    folder: &RgbdFolder,
    median_m: f32,
    pixel_baseline: Option<&PixelBaseline>,
    progress: &dyn Fn(usize, usize),
) -> Result<EvalReport> {
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
        head.add(prediction.view(), truth.view());
        median.add(Array2::from_elem(truth.dim(), median_m).view(), truth.view());
        progress(i + 1, folder.len());
    }
    let none = || ModelError::Data { path: folder.root.clone(), reason: "no valid depth in any frame".into() };
    Ok(EvalReport {
        frames: folder.len(),
        head: head.finish().ok_or_else(none)?,
        median_baseline: median.finish().ok_or_else(none)?,
        median_m,
        pixel_baseline: pixel.finish(),
    })
}
