//! Meta's DPT depth heads for DINOv2 (`dinov2_vits14_{nyu,kitti}_dpt_head.pth`, `DPTHead` in
//! facebookresearch/dinov2 `dinov2/hub/depth`), as a piece of the model's graph.
//!
//! The reference (`_make_dinov2_dpt_depther`): blocks at a quarter, half, three quarters and
//! the end of the frozen backbone (2, 5, 8, 11 of ViT-S's 12, 0-based), raw (no final
//! LayerNorm), each as its patch grid and class token; the DPT neck ([`super::dpt_neck`]) with
//! the "project" readout, RCUs without bias and every fusion step doubling its map; then a
//! 3×3 convolution and ReLU (`project`), and `HeadDepth`: 3×3 convolution to half width, ×2
//! (bilinear, corners aligned), 3×3 convolution and ReLU, 1×1 convolution to one channel;
//! depth `relu(x) + min`, clamped to [min, max] and resized to the input (bilinear).
//! `relu(x) + min` clamped to [min, max] is `clamp(x + min, min, max)`, which the graph
//! computes. transformers' `DPTForDepthEstimation` with a DINOv2 backbone is the same
//! network without `+ min` and the final resize (its backbone resamples the position
//! embedding without Meta's offset, so the two agree at the native grid; the import uses
//! Meta's when it imports a Meta head).

use super::bn_head::DepthRange;
use super::conv::{Bias, Conv};
use super::dpt_neck::{Factor, Layout, Neck, Shape, Tokens, Upsample};
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::onnx::dinov2::Encoded;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::tensors::Scope;
use dinoedge_backbone::vit::VitSpec;

/// The tensor a DPT head checkpoint is recognised by (below its `state_dict.` prefix).
pub const ANCHOR: &str = "decode_head.conv_depth.head.0.weight";

/// Meta's names (mmcv's `ConvModule` wraps each convolution as `.conv`).
const LAYOUT: Layout = Layout {
    readout: Some("decode_head.reassemble_blocks.readout_projects.{i}.0"),
    projection: "decode_head.reassemble_blocks.projects.{i}.conv",
    resize: "decode_head.reassemble_blocks.resize_layers.{i}",
    to_fusion: "decode_head.convs.{i}.conv",
    fusion_projection: "decode_head.fusion_blocks.{i}.project.conv",
    residual: "decode_head.fusion_blocks.{i}.res_conv_unit{j}.conv{k}.conv",
    residual_bias: Bias::No,
    upsample: Upsample::Double,
};

/// The reassemble factors of Meta's builder, finest level first.
const FACTORS: [Factor; 4] = [Factor::Up(4), Factor::Up(2), Factor::Same, Factor::Half];

pub struct DptHead {
    /// 1-based blocks the head reads, finest level first.
    pub blocks: Vec<usize>,
    neck: Neck,
    /// 3×3 with bias, then ReLU.
    project: Conv,
    /// HeadDepth: 3×3 to half width, 3×3 to its hidden width, 1×1 to one channel.
    head: [Conv; 3],
    range: DepthRange,
}

impl DptHead {
    /// Reads the head from `scope` (where [`ANCHOR`] is), for a backbone of `spec`; the neck's
    /// and head's widths follow from the tensors' shapes, every one checked.
    pub fn load(scope: &Scope, spec: &VitSpec, range: DepthRange) -> Result<Self> {
        let d = spec.hidden;
        if !spec.depth.is_multiple_of(4) {
            return Err(ModelError::Config {
                path: scope.file().path().to_path_buf(),
                field: ANCHOR.into(),
                reason: format!("a DPT head needs a backbone whose depth is a multiple of 4, not {}", spec.depth),
            });
        }
        let neck = Neck::load(scope, &LAYOUT, &Shape::read(scope, &LAYOUT, d, &FACTORS)?)?;
        let fusion = neck.width();
        let hidden_name = "decode_head.conv_depth.head.2.weight";
        let hidden = match scope.shape(hidden_name)?.as_slice() {
            [h, _, 3, 3] if *h > 0 => *h,
            _ => return Err(scope.shape_error(hidden_name, scope.shape(hidden_name)?, "[H, F/2, 3, 3]")),
        };
        let half = fusion / 2;
        Ok(Self {
            blocks: dinoedge_backbone::import::default_blocks(spec.depth),
            neck,
            project: Conv::read(scope, "decode_head.project.conv", fusion, fusion, 3, Bias::Yes)?,
            head: [
                Conv::read(scope, "decode_head.conv_depth.head.0", half, fusion, 3, Bias::Yes)?,
                Conv::read(scope, "decode_head.conv_depth.head.2", hidden, half, 3, Bias::Yes)?,
                Conv::read(scope, "decode_head.conv_depth.head.4", 1, hidden, 1, Bias::Yes)?,
            ],
            range,
        })
    }

    /// Appends the head to a graph holding the encoder; returns the depth [H, W] (metres).
    pub fn append(&self, g: &mut GraphBuilder, encoded: &Encoded, height: usize, width: usize) -> String {
        let tokens: Vec<Tokens> = self
            .blocks
            .iter()
            .map(|&b| {
                let (class, patches) = encoded.class_and_patches(g, b).expect("the import requests the head's blocks");
                Tokens { patches, class: Some(class) }
            })
            .collect();
        let fused = self.neck.append(g, &tokens, (encoded.rows, encoded.cols));
        let (x, (rows, cols)) = fused.last().expect("four levels");
        let x = self.project.apply(g, x, 1, 1);
        let x = g.node("Relu", &[&x], &[]);
        let x = self.head[0].apply(g, &x, 1, 1);
        let x = g.resize_bilinear(&x, [1, self.neck.width() / 2, rows * 2, cols * 2], true);
        let x = self.head[1].apply(g, &x, 1, 1);
        let x = g.node("Relu", &[&x], &[]);
        let x = self.head[2].apply(g, &x, 1, 0);
        let (lo, hi) = (g.scalar("depth_min", self.range.min), g.scalar("depth_max", self.range.max));
        let x = g.add(&x, &lo);
        let x = g.node("Clip", &[&x, &lo, &hi], &[]);
        let x = g.resize_bilinear(&x, [1, 1, height, width], false);
        g.reshape(&x, &[height as i64, width as i64])
    }
}
