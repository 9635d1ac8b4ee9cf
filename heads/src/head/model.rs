//! A [`DepthModel`]: the backbone and a depth head trained on it, turning a frame into a
//! metric depth map of the frame's size.

use std::path::Path;

use image::RgbImage;
use ndarray::Array2;

use super::file;
use super::linear::LinearHead;
use super::upsample::bilinear;
use crate::backbone::Backbone;
use crate::error::Result;

pub struct DepthModel {
    pub backbone: Backbone,
    pub head: LinearHead,
}

impl DepthModel {
    /// Loads both, refusing a head trained on another backbone.
    pub fn load(backbone: &Path, head: &Path, threads: usize) -> Result<Self> {
        let backbone = Backbone::load(backbone, threads)?;
        let head = file::load(head, Some(backbone.meta()))?.head;
        Ok(Self { backbone, head })
    }

    /// Depth in metres, [frame height, frame width].
    pub fn depth(&self, frame: &RgbImage) -> Result<Array2<f32>> {
        let outputs = self.backbone.embed(frame)?;
        let patches = self.head.patch_depth(&outputs)?;
        Ok(bilinear(patches.view(), frame.height() as usize, frame.width() as usize))
    }
}
