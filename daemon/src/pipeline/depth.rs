//! Depth for a frame: the DINOv2 backbone and depth head (the product: metres, or a relative
//! model's inverse depth until the calibration aligns it), or — for tests and the demo only,
//! and named so — the simulator's exact depth stored beside each frame.

use std::path::Path;

use anyhow::{Context, Result, bail};
use dinoedge_config::DepthKind;
use dinoedge_heads::head::DepthModel;
use ndarray::Array2;

use crate::source::Frame;

pub enum DepthProvider {
    Model(Box<DepthModel>),
    /// `depth/NAME.png` (millimetres) beside `rgb/NAME.png`: the simulator's truth.
    SimTruth,
}

impl DepthProvider {
    /// What [`depth`](Self::depth) returns: metres, or a relative model's inverse depth.
    pub fn kind(&self) -> DepthKind {
        match self {
            DepthProvider::Model(model) => model.kind(),
            DepthProvider::SimTruth => DepthKind::Metric,
        }
    }

    pub fn depth(&self, frame: &Frame) -> Result<Array2<f32>> {
        match self {
            DepthProvider::Model(model) => Ok(model.depth(&frame.image)?),
            DepthProvider::SimTruth => {
                let file = frame.file.as_deref().context("sim-truth depth needs frames from files")?;
                let depth_file = truth_path(file)?;
                let depth = dinoedge_calibration::file::read_depth_mm(&depth_file).map_err(anyhow::Error::msg)?;
                if depth.dim() != (frame.image.height() as usize, frame.image.width() as usize) {
                    bail!("{}: not the size of {}", depth_file.display(), file.display());
                }
                Ok(depth)
            }
        }
    }
}

/// `…/rgb/NAME.ext` → `…/depth/NAME.png`.
fn truth_path(rgb: &Path) -> Result<std::path::PathBuf> {
    let folder = rgb.parent().filter(|p| p.file_name().is_some_and(|n| n == "rgb"));
    let (Some(folder), Some(stem)) = (folder, rgb.file_stem()) else {
        bail!("{}: sim-truth frames must be in an rgb/ folder with depth/ beside it", rgb.display());
    };
    Ok(folder.with_file_name("depth").join(stem).with_extension("png"))
}
