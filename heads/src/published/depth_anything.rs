//! Depth Anything (V2, and V1 of the same layout): a DINOv2 encoder fine-tuned for depth,
//! whose chosen blocks (through the final LayerNorm, class token dropped) feed a DPT neck and
//! head. Read in two layouts:
//!
//! - transformers' (`depth-anything/Depth-Anything-V2-{Small,Metric-Indoor-Small,
//!   Metric-Outdoor-Small}-hf`: `model.safetensors` and `config.json`, which says relative or
//!   metric and the range); its encoder resamples the position embedding as transformers does;
//! - the original repository's checkpoints (`depth_anything_v2_vits.pth`,
//!   `depth_anything_v2_metric_{hypersim,vkitti}_vits.pth`: `pretrained.*`, the encoder in
//!   facebookresearch/dinov2's layout, run as its code runs it, and `depth_head.*`), which do
//!   not say relative or metric: the caller does.
//!
//! - Neck ([`super::dpt_neck`]): no readout (the class token is dropped), RCUs with bias, each
//!   fusion step resized to the next finer map's size.
//! - Head: 3×3 convolution to half width, resized to the input (corners aligned), 3×3
//!   convolution and ReLU, 1×1 convolution to one channel, then ReLU (`relative`: inverse
//!   depth up to scale and shift) or sigmoid (`metric`), times `max_depth`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::conv::{Bias, Conv};
use super::dpt_neck::{Factor, Layout, Neck, Shape, Tokens, Upsample};
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::onnx::dinov2::Encoded;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::onnx::meta::DepthKind;
use dinoedge_backbone::tensors::Scope;
use dinoedge_backbone::vit::{HfConfig, VitSpec};

/// The tensor a Depth Anything file in transformers' layout is recognised by.
pub const ANCHOR: &str = "neck.convs.0.weight";
/// The tensor an original Depth Anything V2 checkpoint is recognised by.
pub const ORIGINAL_ANCHOR: &str = "depth_head.scratch.layer1_rn.weight";

/// transformers' `DepthAnythingConfig`, with its defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct DepthAnythingConfig {
    model_type: String,
    backbone_config: Option<BackboneConfig>,
    patch_size: usize,
    reassemble_hidden_size: usize,
    reassemble_factors: Vec<f64>,
    neck_hidden_sizes: Vec<usize>,
    fusion_hidden_size: usize,
    head_in_index: i64,
    head_hidden_size: usize,
    depth_estimation_type: String,
    max_depth: Option<f32>,
}

impl Default for DepthAnythingConfig {
    fn default() -> Self {
        Self {
            model_type: String::new(),
            backbone_config: None,
            patch_size: 14,
            reassemble_hidden_size: 384,
            reassemble_factors: vec![4.0, 2.0, 1.0, 0.5],
            neck_hidden_sizes: vec![48, 96, 192, 384],
            fusion_hidden_size: 64,
            head_in_index: -1,
            head_hidden_size: 32,
            depth_estimation_type: "relative".into(),
            max_depth: Some(1.0),
        }
    }
}

impl DepthAnythingConfig {
    /// The encoder's DINOv2 fields (head count, epsilon, …).
    pub fn encoder(&self) -> Option<&HfConfig> {
        self.backbone_config.as_ref().map(|b| &b.dinov2)
    }
}

/// The encoder's part of the configuration: DINOv2's fields, and which blocks feed the neck.
#[derive(Debug, Deserialize)]
pub struct BackboneConfig {
    #[serde(flatten)]
    dinov2: HfConfig,
    out_indices: Option<Vec<usize>>,
    out_features: Option<Vec<String>>,
    #[serde(default = "yes")]
    apply_layernorm: bool,
    #[serde(default = "yes")]
    reshape_hidden_states: bool,
}

fn yes() -> bool {
    true
}

/// transformers' names for the neck.
const LAYOUT: Layout = Layout {
    readout: None,
    projection: "neck.reassemble_stage.layers.{i}.projection",
    resize: "neck.reassemble_stage.layers.{i}.resize",
    to_fusion: "neck.convs.{i}",
    fusion_projection: "neck.fusion_stage.layers.{i}.projection",
    residual: "neck.fusion_stage.layers.{i}.residual_layer{j}.convolution{k}",
    residual_bias: Bias::Yes,
    upsample: Upsample::ToNext,
};

/// The original repository's names (`DPTHead`: `scratch.layerN_rn` per level, `refinenetN`
/// fusing from the coarsest, N = 4, to the finest).
const ORIGINAL_LAYOUT: Layout = Layout {
    readout: None,
    projection: "depth_head.projects.{i}",
    resize: "depth_head.resize_layers.{i}",
    to_fusion: "depth_head.scratch.layer{i+1}_rn",
    fusion_projection: "depth_head.scratch.refinenet{n-i}.out_conv",
    residual: "depth_head.scratch.refinenet{n-i}.resConfUnit{j}.conv{k}",
    residual_bias: Bias::Yes,
    upsample: Upsample::ToNext,
};

/// The original head's convolutions, as transformers' `head.conv1..3`.
const ORIGINAL_HEAD: [&str; 3] =
    ["depth_head.scratch.output_conv1", "depth_head.scratch.output_conv2.0", "depth_head.scratch.output_conv2.2"];

/// The original model's reassemble factors (every size's).
const ORIGINAL_FACTORS: [Factor; 4] = [Factor::Up(4), Factor::Up(2), Factor::Same, Factor::Half];
pub struct DepthAnything {
    /// Read from config.json: the 1-based blocks feeding the neck.
    pub blocks: Vec<usize>,
    pub kind: DepthKind,
    /// What the final activation is scaled by (config.json's `max_depth`).
    pub max_depth: f32,
    neck: Neck,
    head_in: usize,
    head: [Conv; 3],
}

/// Reads `config.json` beside `weights`: it alone says whether the model is relative or
/// metric, and its range.
pub fn read_config(weights: &Path) -> Result<(PathBuf, DepthAnythingConfig)> {
    let path = weights.with_file_name("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModelError::Config {
                path: path.clone(),
                field: "config.json".into(),
                reason: "is missing; a Depth Anything model needs the config.json published beside its weights \
                         (it says whether the depth is relative or metric)"
                    .into(),
            }
        } else {
            ModelError::Io { path: path.clone(), source }
        }
    })?;
    let config: DepthAnythingConfig = serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.clone(),
        field: format!("line {} column {}", e.line(), e.column()),
        reason: e.to_string(),
    })?;
    if config.model_type != "depth_anything" {
        return Err(ModelError::Config {
            path,
            field: "model_type".into(),
            reason: format!("`{}` is not a Depth Anything model (expected depth_anything)", config.model_type),
        });
    }
    Ok((path, config))
}

impl DepthAnything {
    /// The configuration's checks and the neck's and head's weights from `scope`.
    pub fn load(scope: &Scope, config_path: &Path, config: &DepthAnythingConfig, spec: &VitSpec) -> Result<Self> {
        let hidden = spec.hidden;
        let bad = |field: &str, reason: String| ModelError::Config {
            path: config_path.to_path_buf(),
            field: field.to_string(),
            reason,
        };
        let backbone = config.backbone_config.as_ref().ok_or_else(|| bad("backbone_config", "is missing".into()))?;
        if !backbone.apply_layernorm || backbone.reshape_hidden_states {
            return Err(bad(
                "backbone_config",
                "the neck reads token sequences through the final LayerNorm \
                 (apply_layernorm true, reshape_hidden_states false)"
                    .into(),
            ));
        }
        let blocks = match (&backbone.out_indices, &backbone.out_features) {
            (Some(indices), _) => indices.clone(),
            (None, Some(features)) => features
                .iter()
                .map(|f| f.strip_prefix("stage").and_then(|n| n.parse().ok()))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| bad("backbone_config.out_features", format!("{features:?} are not `stageN` names")))?,
            (None, None) => return Err(bad("backbone_config.out_indices", "is missing".into())),
        };
        let n = config.neck_hidden_sizes.len();
        if n == 0 || blocks.len() != n || config.reassemble_factors.len() != n || blocks.contains(&0) {
            return Err(bad(
                "neck_hidden_sizes",
                format!(
                    "{n} neck widths, {} reassemble factors and blocks {blocks:?}: one block (1 or more) per width",
                    config.reassemble_factors.len()
                ),
            ));
        }
        if config.reassemble_hidden_size != hidden {
            return Err(bad(
                "reassemble_hidden_size",
                format!("{} differs from the encoder's width {hidden}", config.reassemble_hidden_size),
            ));
        }
        let kind = match config.depth_estimation_type.as_str() {
            "relative" => DepthKind::Relative,
            "metric" => DepthKind::Metric,
            other => return Err(bad("depth_estimation_type", format!("`{other}` is neither relative nor metric"))),
        };
        let max_depth = config.max_depth.unwrap_or(1.0);
        if !(max_depth.is_finite() && max_depth > 0.0) {
            return Err(bad("max_depth", format!("{max_depth} is not a positive depth")));
        }
        let f = config.fusion_hidden_size;
        let factors = config
            .reassemble_factors
            .iter()
            .map(|&factor| {
                Factor::from_f64(factor).ok_or_else(|| {
                    bad("reassemble_factors", format!("{factor} is not supported (whole factors above 1, 1 or 0.5)"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let shape = Shape { hidden, widths: config.neck_hidden_sizes.clone(), factors, fusion: f };
        let neck = Neck::load(scope, &LAYOUT, &shape)?;
        let head_in = usize::try_from(if config.head_in_index < 0 {
            n as i64 + config.head_in_index
        } else {
            config.head_in_index
        })
        .ok()
        .filter(|i| *i < n)
        .ok_or_else(|| bad("head_in_index", format!("{} is outside the {n} fused maps", config.head_in_index)))?;
        let head = read_head(scope, ["head.conv1", "head.conv2", "head.conv3"], f, config.head_hidden_size)?;
        if config.patch_size != spec.patch {
            return Err(bad(
                "patch_size",
                format!("{} differs from the encoder's patch {}", config.patch_size, spec.patch),
            ));
        }
        if let Some(bad_block) = blocks.iter().find(|b| **b > spec.depth) {
            return Err(bad(
                "backbone_config.out_indices",
                format!("block {bad_block} does not exist; the encoder has {} blocks", spec.depth),
            ));
        }
        Ok(Self { blocks, kind, max_depth, neck, head_in, head })
    }

    /// The neck and head of an original checkpoint from `scope` (where [`ORIGINAL_ANCHOR`]
    /// is), for an encoder of `spec`, its widths read off the tensors' shapes. The file does
    /// not say what it outputs: `kind` and `max_depth` are the caller's.
    pub fn load_original(scope: &Scope, spec: &VitSpec, kind: DepthKind, max_depth: f32) -> Result<Self> {
        let refuse = |field: &str, reason: String| ModelError::Config {
            path: scope.file().path().to_path_buf(),
            field: scope.full_name(field),
            reason,
        };
        let readout = "depth_head.readout_projects.0.0.weight";
        if scope.contains(readout) {
            return Err(refuse(readout, "a model with the class-token readout (use_clstoken) is not supported".into()));
        }
        if !spec.depth.is_multiple_of(4) {
            return Err(refuse(
                ORIGINAL_ANCHOR,
                format!("the head reads four evenly spaced blocks; an encoder of {} blocks has none", spec.depth),
            ));
        }
        let neck = Neck::load(
            scope,
            &ORIGINAL_LAYOUT,
            &Shape::read(scope, &ORIGINAL_LAYOUT, spec.hidden, &ORIGINAL_FACTORS)?,
        )?;
        let f = neck.width();
        let hidden_name = format!("{}.weight", ORIGINAL_HEAD[1]);
        let shape = scope.shape(&hidden_name)?;
        let hidden = match shape.as_slice() {
            [h, _, 3, 3] if *h > 0 => *h,
            _ => return Err(scope.shape_error(&hidden_name, shape, "[H, F/2, 3, 3]")),
        };
        let head = read_head(scope, ORIGINAL_HEAD, f, hidden)?;
        let blocks = dinoedge_backbone::import::default_blocks(spec.depth);
        Ok(Self { blocks, kind, max_depth, head_in: ORIGINAL_FACTORS.len() - 1, neck, head })
    }

    /// Appends neck and head; `features` are the kept blocks' normed patch tokens [N, D].
    /// Returns the depth [H, W].
    pub fn append(
        &self,
        g: &mut GraphBuilder,
        encoded: &Encoded,
        features: &[(usize, String)],
        height: usize,
        width: usize,
    ) -> String {
        let tokens: Vec<Tokens> = self
            .blocks
            .iter()
            .map(|block| Tokens {
                patches: features.iter().find(|(b, _)| b == block).expect("the import keeps these blocks").1.clone(),
                class: None,
            })
            .collect();
        let fused = self.neck.append(g, &tokens, (encoded.rows, encoded.cols));
        let f = self.neck.width();
        // Head.
        let x = &fused[self.head_in].0;
        let x = self.head[0].apply(g, x, 1, 1);
        let x = g.resize_bilinear(&x, [1, f / 2, height, width], true);
        let x = self.head[1].apply(g, &x, 1, 1);
        let x = g.node("Relu", &[&x], &[]);
        let x = self.head[2].apply(g, &x, 1, 0);
        let x = match self.kind {
            DepthKind::Relative => g.node("Relu", &[&x], &[]),
            DepthKind::Metric => g.node("Sigmoid", &[&x], &[]),
        };
        let scale = g.scalar("max_depth", self.max_depth);
        let x = g.node("Mul", &[&x, &scale], &[]);
        g.reshape(&x, &[height as i64, width as i64])
    }
}

/// The head's convolutions `names`: fusion width `f` to `f/2` (3×3), to `hidden` (3×3), to
/// one channel (1×1).
fn read_head(scope: &Scope, names: [&str; 3], f: usize, hidden: usize) -> Result<[Conv; 3]> {
    Ok([
        Conv::read(scope, names[0], f / 2, f, 3, Bias::Yes)?,
        Conv::read(scope, names[1], hidden, f / 2, 3, Bias::Yes)?,
        Conv::read(scope, names[2], 1, hidden, 1, Bias::Yes)?,
    ])
}
