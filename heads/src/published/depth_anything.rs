//! Depth Anything (V2, and V1 of the same layout) as transformers lays it out
//! (`depth-anything/Depth-Anything-V2-{Small,Metric-Indoor-Small,Metric-Outdoor-Small}-hf`:
//! `model.safetensors` and `config.json`): a DINOv2 encoder fine-tuned for depth, whose
//! chosen blocks (through the final LayerNorm, class token dropped) feed a DPT neck and head.
//!
//! - Reassemble: per block, the patch grid through a 1×1 convolution to its neck width, then
//!   resized by its factor (×4 and ×2 by transposed convolutions, ×1 as is, ×½ by a stride-2
//!   3×3 convolution), then a 3×3 convolution to the fusion width.
//! - Fusion, coarsest first: `x = RCU₂(x + RCU₁(skip))`, bilinearly resized (corners aligned)
//!   to the next finer map's size (×2 after the finest), then a 1×1 projection; an RCU is
//!   `x + conv(relu(conv(relu(x))))`.
//! - Head: 3×3 convolution to half width, resized to the input (corners aligned), 3×3
//!   convolution and ReLU, 1×1 convolution to one channel, then ReLU (`relative`: inverse
//!   depth up to scale and shift) or sigmoid (`metric`), times `max_depth`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::conv::{Bias, Conv};
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::onnx::dinov2::Encoded;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::onnx::meta::DepthKind;
use dinoedge_backbone::tensors::Scope;
use dinoedge_backbone::vit::{HfConfig, VitSpec};

/// The tensor a Depth Anything file is recognised by.
pub const ANCHOR: &str = "neck.convs.0.weight";

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

/// How a chosen block's patch grid is resized in the reassemble stage.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resize {
    /// A transposed convolution with kernel = stride = the factor.
    Up(usize),
    Same,
    /// A stride-2 3×3 convolution, padding 1.
    Half,
}

struct Reassemble {
    block: usize,
    projection: Conv,
    resize: Option<Conv>,
    kind: Resize,
    /// neck.convs[i]: 3×3 to the fusion width, no bias.
    to_fusion: Conv,
}

/// `x + conv₂(relu(conv₁(relu(x))))`.
struct Residual {
    conv1: Conv,
    conv2: Conv,
}

struct Fusion {
    projection: Conv,
    residual1: Residual,
    residual2: Residual,
}

pub struct DepthAnything {
    /// Read from config.json: the 1-based blocks feeding the neck.
    pub blocks: Vec<usize>,
    pub kind: DepthKind,
    /// What the final activation is scaled by (config.json's `max_depth`).
    pub max_depth: f32,
    reassemble: Vec<Reassemble>,
    fusion: Vec<Fusion>,
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
        let reassemble = (0..n)
            .map(|i| {
                let c = config.neck_hidden_sizes[i];
                let stem = format!("neck.reassemble_stage.layers.{i}");
                let factor = config.reassemble_factors[i];
                let kind = if factor == 1.0 {
                    Resize::Same
                } else if factor == 0.5 {
                    Resize::Half
                } else if factor > 1.0 && factor.fract() == 0.0 {
                    Resize::Up(factor as usize)
                } else {
                    return Err(bad(
                        "reassemble_factors",
                        format!("{factor} is not supported (whole factors above 1, 1 or 0.5)"),
                    ));
                };
                let resize = match kind {
                    Resize::Up(k) => {
                        Some(Conv::read_shaped(scope, &format!("{stem}.resize"), [c, c, k, k], Bias::Yes, c)?)
                    }
                    Resize::Same => None,
                    Resize::Half => Some(Conv::read(scope, &format!("{stem}.resize"), c, c, 3, Bias::Yes)?),
                };
                Ok(Reassemble {
                    block: blocks[i],
                    projection: Conv::read(scope, &format!("{stem}.projection"), c, hidden, 1, Bias::Yes)?,
                    resize,
                    kind,
                    to_fusion: Conv::read(scope, &format!("neck.convs.{i}"), f, c, 3, Bias::No)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let residual = |stem: String| -> Result<Residual> {
            Ok(Residual {
                conv1: Conv::read(scope, &format!("{stem}.convolution1"), f, f, 3, Bias::Yes)?,
                conv2: Conv::read(scope, &format!("{stem}.convolution2"), f, f, 3, Bias::Yes)?,
            })
        };
        let fusion = (0..n)
            .map(|i| {
                let stem = format!("neck.fusion_stage.layers.{i}");
                Ok(Fusion {
                    projection: Conv::read(scope, &format!("{stem}.projection"), f, f, 1, Bias::Yes)?,
                    residual1: residual(format!("{stem}.residual_layer1"))?,
                    residual2: residual(format!("{stem}.residual_layer2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let head_in = usize::try_from(if config.head_in_index < 0 {
            n as i64 + config.head_in_index
        } else {
            config.head_in_index
        })
        .ok()
        .filter(|i| *i < n)
        .ok_or_else(|| bad("head_in_index", format!("{} is outside the {n} fused maps", config.head_in_index)))?;
        let (half, hh) = (f / 2, config.head_hidden_size);
        let head = [
            Conv::read(scope, "head.conv1", half, f, 3, Bias::Yes)?,
            Conv::read(scope, "head.conv2", hh, half, 3, Bias::Yes)?,
            Conv::read(scope, "head.conv3", 1, hh, 1, Bias::Yes)?,
        ];
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
        Ok(Self { blocks, kind, max_depth, reassemble, fusion, head_in, head })
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
        let (rows, cols) = (encoded.rows, encoded.cols);
        // Reassemble: [N, D] -> [1, D, rows, cols] -> per-level maps at the fusion width.
        let mut maps = Vec::new();
        for level in &self.reassemble {
            let tokens = &features.iter().find(|(b, _)| *b == level.block).expect("the import keeps these blocks").1;
            let grid = g.transpose(tokens, &[1, 0]);
            let grid = g.reshape(&grid, &[1, -1, rows as i64, cols as i64]);
            let x = level.projection.apply(g, &grid, 1, 0);
            let (x, size) = match (level.kind, &level.resize) {
                (Resize::Up(k), Some(conv)) => (conv.apply_transposed(g, &x), (rows * k, cols * k)),
                (Resize::Half, Some(conv)) => (conv.apply(g, &x, 2, 1), (rows.div_ceil(2), cols.div_ceil(2))),
                _ => (x, (rows, cols)),
            };
            maps.push((level.to_fusion.apply(g, &x, 1, 1), size));
        }
        // Fusion, coarsest first.
        maps.reverse();
        let f = self.fusion_width();
        let mut fused: Vec<(String, (usize, usize))> = Vec::new();
        for (i, (layer, (map, size))) in self.fusion.iter().zip(&maps).enumerate() {
            let mut x = match fused.last() {
                None => map.clone(),
                Some((previous, previous_size)) => {
                    let skip = if previous_size == size {
                        map.clone()
                    } else {
                        g.resize_bilinear(map, [1, f, previous_size.0, previous_size.1], false)
                    };
                    let skip = residual(g, &layer.residual1, &skip);
                    g.add(previous, &skip)
                }
            };
            let current = fused.last().map_or(*size, |(_, s)| *s);
            x = residual(g, &layer.residual2, &x);
            let next = maps.get(i + 1).map_or((current.0 * 2, current.1 * 2), |(_, s)| *s);
            x = g.resize_bilinear(&x, [1, f, next.0, next.1], true);
            x = layer.projection.apply(g, &x, 1, 0);
            fused.push((x, next));
        }
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

    fn fusion_width(&self) -> usize {
        self.reassemble[0].to_fusion.weight.dim().0
    }
}

fn residual(g: &mut GraphBuilder, layer: &Residual, x: &str) -> String {
    let h = g.node("Relu", &[x], &[]);
    let h = layer.conv1.apply(g, &h, 1, 1);
    let h = g.node("Relu", &[&h], &[]);
    let h = layer.conv2.apply(g, &h, 1, 1);
    g.add(x, &h)
}
