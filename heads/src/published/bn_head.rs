//! Meta's linear depth heads for DINOv2 (`dinov2_vits14_{nyu,kitti}_linear{,4}_head.pth`,
//! `BNHead` in facebookresearch/dinov2 `dinov2/hub/depth`), as a piece of the model's graph.
//!
//! The reference: each chosen block's raw output (no final LayerNorm), its patch grid
//! concatenated with its class token broadcast over the grid, the blocks concatenated,
//! upsampled ×4 (bilinear), a 1×1 convolution to 256 logits, "linear" normalisation
//! (`p = (relu(l) + 0.1) / Σ (relu(l) + 0.1)`), depth `Σ p · bin` over 256 bins evenly spaced
//! from `min` to `max`, clamped to [min, max], resized to the input (bilinear).
//!
//! The graph computes the same function in a cheaper order, exactly up to float rounding:
//! the 1×1 convolution runs before the upsampling (both are linear and the bilinear weights
//! sum to one), split into a patch part and a class-token part (a constant per frame), and
//! `Σ p · bin` is one two-row 1×1 convolution (`Σ q · bin`, `Σ q`) and a division.

use ndarray::{Array2, Array4, Axis, Ix2, s};

use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::onnx::dinov2::Encoded;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::tensors::Scope;
use dinoedge_backbone::vit::VitSpec;

/// The checkpoint's tensors, below its `state_dict.` prefix.
pub const WEIGHT: &str = "decode_head.conv_depth.weight";
pub const BIAS: &str = "decode_head.conv_depth.bias";
/// Bins of every published linear head.
pub const BINS: usize = 256;
/// What the reference adds to the rectified logits before normalising them.
const EPS: f32 = 0.1;
const UPSAMPLE: usize = 4;

/// The depth range a head's bins span, in metres: its training configuration's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthRange {
    pub min: f32,
    pub max: f32,
}

#[derive(Debug, Clone)]
pub struct BnHead {
    /// 1-based blocks the head reads, in the order of its input channels.
    pub blocks: Vec<usize>,
    /// [256, 2·D·blocks]
    pub weight: Array2<f32>,
    /// [256]
    pub bias: ndarray::Array1<f32>,
    pub range: DepthRange,
}

impl BnHead {
    /// Reads the head from `scope` (where [`WEIGHT`] is), for a backbone of `spec`. How many
    /// blocks it reads (one or four) follows from the weight's width.
    pub fn load(scope: &Scope, spec: &VitSpec, range: DepthRange) -> Result<Self> {
        let d = spec.hidden;
        let shape = scope.shape(WEIGHT)?;
        let expected = format!("[{BINS}, 2·{d}·k, 1, 1] with k = 1 or 4 (lin.1 or lin.4 on a {d}-wide backbone)");
        let blocks = match shape.as_slice() {
            [BINS, c, 1, 1] if *c == 2 * d => vec![spec.depth],
            [BINS, c, 1, 1] if *c == 8 * d => dinoedge_backbone::import::default_blocks(spec.depth),
            _ => return Err(scope.shape_error(WEIGHT, shape, &expected)),
        };
        if blocks.len() == 4 && !spec.depth.is_multiple_of(4) {
            return Err(ModelError::Config {
                path: scope.file().path().to_path_buf(),
                field: WEIGHT.into(),
                reason: format!("a lin.4 head needs a backbone whose depth is a multiple of 4, not {}", spec.depth),
            });
        }
        let c = shape[1];
        let weight = scope.get(WEIGHT, &shape)?.into_shape_with_order((BINS, c)).expect("shape checked");
        let bias = scope.get(BIAS, &[BINS])?.into_dimensionality().expect("shape checked");
        Ok(Self { blocks, weight: weight.into_dimensionality::<Ix2>().expect("2-D"), bias, range })
    }

    /// Appends the head to a graph holding the encoder; returns the depth [H, W] (metres).
    pub fn append(
        &self,
        g: &mut GraphBuilder,
        encoded: &Encoded,
        spec: &VitSpec,
        height: usize,
        width: usize,
    ) -> String {
        let d = spec.hidden;
        let (rows, cols) = (encoded.rows, encoded.cols);
        let (mut patch_parts, mut cls_parts) = (Vec::new(), Vec::new());
        for &b in &self.blocks {
            let (class, patches) = encoded.class_and_patches(g, b).expect("the import requests the head's blocks");
            cls_parts.push(class);
            patch_parts.push(patches);
        }
        let concat = |g: &mut GraphBuilder, parts: &[String]| -> String {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            if refs.len() == 1 {
                refs[0].to_string()
            } else {
                g.node("Concat", &refs, &[("axis", dinoedge_backbone::onnx::graph::Attr::Int(1))])
            }
        };
        let patches = concat(g, &patch_parts); // [N, k·D]
        let classes = concat(g, &cls_parts); // [1, k·D]
        // The weight's input channels are, per block, D patch channels then D class channels.
        let k = self.blocks.len();
        let column = |part: usize| -> Array2<f32> {
            let pieces: Vec<_> =
                (0..k).map(|i| self.weight.slice(s![.., (2 * i + part) * d..(2 * i + part + 1) * d])).collect();
            ndarray::concatenate(Axis(1), &pieces).expect("same rows").t().as_standard_layout().into_owned()
        };
        let w_patch = g.constant("bn_patch_weight", column(0).view()); // [k·D, 256]
        let w_cls = g.constant("bn_cls_weight", column(1).view());
        let bias = g.constant("bn_bias", self.bias.view().insert_axis(Axis(0)));
        let per_patch = g.matmul(&patches, &w_patch);
        let per_frame = g.matmul(&classes, &w_cls);
        let per_frame = g.add(&per_frame, &bias);
        let logits = g.add(&per_patch, &per_frame); // [N, 256]
        let logits = g.reshape(&logits, &[1, rows as i64, cols as i64, BINS as i64]);
        let logits = g.transpose(&logits, &[0, 3, 1, 2]);
        let (up_rows, up_cols) = (rows * UPSAMPLE, cols * UPSAMPLE);
        let logits = g.resize_bilinear(&logits, [1, BINS, up_rows, up_cols], false);
        let rectified = g.node("Relu", &[&logits], &[]);
        let eps = g.scalar("bn_eps", EPS);
        let q = g.add(&rectified, &eps);
        // Row 0: Σ q · bin; row 1: Σ q.
        let step = (self.range.max - self.range.min) / (BINS - 1) as f32;
        let mut reduce = Array4::<f32>::ones((2, BINS, 1, 1));
        for (i, bin) in reduce.slice_mut(s![0, .., 0, 0]).iter_mut().enumerate() {
            *bin = self.range.min + step * i as f32;
        }
        let reduce = g.constant("bn_bins", reduce.view());
        let sums = g.node("Conv", &[&q, &reduce], &[]); // [1, 2, 4h, 4w]
        let weighted = g.slice(&sums, 1, 0, 1);
        let total = g.slice(&sums, 1, 1, 2);
        let depth = g.node("Div", &[&weighted, &total], &[]);
        let (lo, hi) = (g.scalar("depth_min", self.range.min), g.scalar("depth_max", self.range.max));
        let depth = g.node("Clip", &[&depth, &lo, &hi], &[]);
        let depth = g.resize_bilinear(&depth, [1, 1, height, width], false);
        g.reshape(&depth, &[height as i64, width as i64])
    }
}
