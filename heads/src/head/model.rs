//! A [`DepthModel`]: the backbone and its depth head, turning a frame into a depth map of the
//! frame's size. The head is either a head trained on the backbone ([`DepthHead::Trained`],
//! run here on the backbone's features) or the one inside an imported depth model's graph
//! ([`DepthHead::Imported`], run by tract in the same pass). What the map means, metres or
//! relative inverse depth, is the model's [`DepthKind`].

use std::path::Path;

use image::RgbImage;
use ndarray::{Array2, Array4};

use super::file;
use super::linear::LinearHead;
use super::upsample::bilinear;
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::onnx::meta::DepthKind;
use dinoedge_backbone::preprocess;
use dinoedge_backbone::runtime::{Backbone, BackboneOutputs, Settings};

pub struct DepthModel {
    pub backbone: Backbone,
    pub head: DepthHead,
}

pub enum DepthHead {
    /// A linear head trained on this backbone (`dinoedge heads train`): metric depth.
    Trained(LinearHead),
    /// The head inside the backbone's graph (`dinoedge model import --depth`).
    Imported(DepthKind),
}

impl DepthModel {
    /// Loads the backbone (with `settings`: threads, operators, precision) and, when given, a
    /// trained head (refused on another backbone). An imported depth model takes no head file;
    /// a plain backbone needs one.
    pub fn load(backbone_path: &Path, head: Option<&Path>, settings: Settings) -> Result<Self> {
        let backbone = Backbone::load_with(backbone_path, settings)?;
        let head = match (head, backbone.meta().depth.as_ref()) {
            (Some(head), None) => DepthHead::Trained(file::load(head, Some(backbone.meta()))?.head),
            (None, Some(imported)) => DepthHead::Imported(imported.kind),
            (Some(head), Some(imported)) => {
                return Err(ModelError::Config {
                    path: head.to_path_buf(),
                    field: "head".into(),
                    reason: format!(
                        "{} is the depth model `{}`, which has its own depth head; give no head file with it",
                        backbone_path.display(),
                        imported.model
                    ),
                });
            }
            (None, None) => {
                return Err(ModelError::Onnx {
                    path: backbone_path.to_path_buf(),
                    reason: "a backbone with no depth head: give a trained head file with it, or use an \
                             imported depth model (`dinoedge model pull --depth NAME`)"
                        .into(),
                });
            }
        };
        Ok(Self { backbone, head })
    }

    /// What [`depth`](Self::depth) returns: metres, or relative inverse depth.
    pub fn kind(&self) -> DepthKind {
        match self.head {
            DepthHead::Trained(_) => DepthKind::Metric,
            DepthHead::Imported(kind) => kind,
        }
    }

    /// The depth map, [frame height, frame width], of the model's [`kind`](Self::kind).
    pub fn depth(&self, frame: &RgbImage) -> Result<Array2<f32>> {
        let input = preprocess::to_input(frame, self.backbone.meta().input);
        self.depth_of_input(input, frame.height() as usize, frame.width() as usize)
    }

    /// The depth map, [frame height, frame width], and what `also` makes of the same
    /// backbone outputs (another head's output: the class map), from one backbone pass.
    pub fn depth_and<T>(
        &self,
        frame: &RgbImage,
        also: impl FnOnce(&BackboneOutputs) -> Result<T>,
    ) -> Result<(Array2<f32>, T)> {
        let input = preprocess::to_input(frame, self.backbone.meta().input);
        let outputs = self.backbone.run(input)?;
        let other = also(&outputs)?;
        Ok((self.depth_of_outputs(outputs, frame.height() as usize, frame.width() as usize)?, other))
    }

    /// The depth map, [height, width], from a frame already resized and normalised
    /// ([`preprocess::to_input`]) for callers that need that input for something else too.
    pub fn depth_of_input(&self, input: Array4<f32>, height: usize, width: usize) -> Result<Array2<f32>> {
        self.depth_of_outputs(self.backbone.run(input)?, height, width)
    }

    fn depth_of_outputs(&self, outputs: BackboneOutputs, height: usize, width: usize) -> Result<Array2<f32>> {
        let map = match &self.head {
            DepthHead::Trained(head) => head.patch_depth(&outputs)?,
            DepthHead::Imported(_) => {
                outputs.depth.ok_or_else(|| ModelError::Inference("the depth model returned no depth".into()))?
            }
        };
        Ok(bilinear(map.view(), height, width))
    }
}
