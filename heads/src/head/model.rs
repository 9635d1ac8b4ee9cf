//! A [`DepthModel`]: the backbone and a depth head trained on it, turning a frame into a
//! metric depth map of the frame's size.

use std::path::Path;

use image::RgbImage;
use ndarray::{Array2, Array4};

use super::file;
use super::linear::LinearHead;
use super::upsample::bilinear;
use dinoedge_backbone::error::Result;
use dinoedge_backbone::preprocess;
use dinoedge_backbone::runtime::Backbone;

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
        let input = preprocess::to_input(frame, self.backbone.meta().input);
        self.depth_of_input(input, frame.height() as usize, frame.width() as usize)
    }

    /// Depth in metres, [height, width], from a frame already resized and normalised
    /// ([`preprocess::to_input`]) for callers that need that input for something else too.
    pub fn depth_of_input(&self, input: Array4<f32>, height: usize, width: usize) -> Result<Array2<f32>> {
        let patches = self.head.patch_depth(&self.backbone.run(input)?)?;
        Ok(bilinear(patches.view(), height, width))
    }
}
