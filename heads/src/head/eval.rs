//! Evaluating a depth model on an RGB-D folder: the standard metrics over the valid pixels
//! at full frame resolution, for the model and, on the same pixels, for the median
//! baseline (every pixel predicted at the training set's median depth).

use ndarray::Array2;
use serde::Serialize;

use super::model::DepthModel;
use crate::data::RgbdFolder;
use crate::error::{ModelError, Result};
use crate::metrics::{DepthMetrics, MetricsAccumulator};

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub frames: usize,
    pub head: DepthMetrics,
    pub median_baseline: DepthMetrics,
    pub median_m: f32,
}

pub fn evaluate(
    model: &DepthModel,
    folder: &RgbdFolder,
    median_m: f32,
    progress: &dyn Fn(usize, usize),
) -> Result<EvalReport> {
    let (mut head, mut median) = (MetricsAccumulator::default(), MetricsAccumulator::default());
    for i in 0..folder.len() {
        let (rgb, truth) = folder.load(i)?;
        let prediction = model.depth(&rgb)?;
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
    })
}
