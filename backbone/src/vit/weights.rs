//! DINOv2 weights in the Hugging Face layout or facebookresearch/dinov2's own, read from a
//! safetensors file or a PyTorch checkpoint (alone, or below a prefix of a bigger model's
//! file), checked tensor by tensor against the architecture the file itself implies. Weights
//! in Meta's layout are run as Meta's code runs them: the position embedding resampled with
//! its offset ([`Resample::BicubicOffset`]; antialiased, as transformers does, with registers).

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array4, ArrayD, Axis, Ix1, Ix2, Ix4};
use serde::Deserialize;

use super::layout::{self, BLOCK_TENSORS};
use super::spec::VitSpec;
use crate::error::{ModelError, Result};
use crate::posembed::Resample;
use crate::tensors::{Scope, TensorFile};

/// A linear layer as torch stores it: `weight` is [out, in].
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

impl Linear {
    /// One layer computing the outputs of `layers` side by side (all of the same input width).
    pub fn stack_outputs(layers: &[&Linear]) -> Linear {
        let weights: Vec<_> = layers.iter().map(|l| l.weight.view()).collect();
        let biases: Vec<_> = layers.iter().map(|l| l.bias.view()).collect();
        Linear {
            weight: ndarray::concatenate(Axis(0), &weights).expect("layers of the same input width"),
            bias: ndarray::concatenate(Axis(0), &biases).expect("vectors concatenate"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub weight: Array1<f32>,
    pub bias: Array1<f32>,
}

/// One transformer block: pre-norm attention and MLP, each with a LayerScale.
#[derive(Debug, Clone)]
pub struct Block {
    pub norm1: LayerNorm,
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    pub scale1: Array1<f32>,
    pub norm2: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub scale2: Array1<f32>,
}

#[derive(Debug, Clone)]
pub struct DinoWeights {
    pub spec: VitSpec,
    /// [D, 3, patch, patch]
    pub patch_weight: Array4<f32>,
    pub patch_bias: Array1<f32>,
    /// [D]
    pub cls_token: Array1<f32>,
    /// [registers, D]
    pub registers: Array2<f32>,
    /// [1 + pos_grid², D]: the class token's position, then the grid row by row.
    pub pos_embed: Array2<f32>,
    pub blocks: Vec<Block>,
    pub norm: LayerNorm,
    /// sha256 of the weight file, hashed from the bytes read (what a backbone made from
    /// these weights is identified by).
    pub sha256: String,
}

/// The fields of a Hugging Face DINOv2 `config.json` (or a bigger model's `backbone_config`)
/// that shapes cannot tell.
#[derive(Debug, Default, Deserialize)]
pub struct HfConfig {
    model_type: Option<String>,
    num_attention_heads: Option<usize>,
    layer_norm_eps: Option<f32>,
    hidden_act: Option<String>,
    #[serde(default)]
    use_swiglu_ffn: bool,
}

impl DinoWeights {
    /// Reads `path` (safetensors or a PyTorch checkpoint), and `config.json` beside it when
    /// there is one.
    pub fn load(path: &Path) -> Result<Self> {
        let file = TensorFile::open(path)?;
        let config_path = path.with_file_name("config.json");
        let config = if config_path.is_file() { Some(read_config(&config_path)?) } else { None };
        let scope = match file.scope(layout::CLS_TOKEN) {
            Err(hub_missing) => file.scope(layout::META_ANCHOR).map_err(|_| hub_missing)?,
            hub => hub?,
        };
        Self::from_scope(&scope, config.as_ref().map(|(p, c)| (p.as_path(), c)))
    }

    /// Reads the DINOv2 tensors of `scope` (below its prefix, e.g. a depth model's
    /// `backbone.`), in the hub layout or Meta's, with `config` for what shapes cannot tell.
    pub fn from_scope(scope: &Scope, config: Option<(&Path, &HfConfig)>) -> Result<Self> {
        let names =
            if scope.first_of(&layout::aliases(layout::CLS_TOKEN)).is_none() && scope.contains(layout::META_ANCHOR) {
                Names::Meta
            } else {
                Names::Hub
            };
        let file = HubTensors { scope, names };
        let spec = infer_spec(&file, config)?;
        let (d, m, p) = (spec.hidden, spec.mlp_hidden, spec.patch);
        let vector = |name: &str, len: usize| -> Result<Array1<f32>> {
            Ok(file.get(name, &[len])?.into_dimensionality::<Ix1>().expect("shape checked"))
        };
        let matrix = |name: &str, rows: usize, cols: usize| -> Result<Array2<f32>> {
            Ok(file.get(name, &[rows, cols])?.into_dimensionality::<Ix2>().expect("shape checked"))
        };
        let linear = |i: usize, stem: &str, out: usize, inp: usize| -> Result<Linear> {
            Ok(Linear {
                weight: matrix(&layout::block_tensor(i, &format!("{stem}.weight")), out, inp)?,
                bias: vector(&layout::block_tensor(i, &format!("{stem}.bias")), out)?,
            })
        };
        let norm = |weight: &str, bias: &str| -> Result<LayerNorm> {
            Ok(LayerNorm { weight: vector(weight, d)?, bias: vector(bias, d)? })
        };
        let blocks = (0..spec.depth)
            .map(|i| {
                let name = |n: &str| layout::block_tensor(i, n);
                Ok(Block {
                    norm1: norm(&name("norm1.weight"), &name("norm1.bias"))?,
                    query: linear(i, "attention.attention.query", d, d)?,
                    key: linear(i, "attention.attention.key", d, d)?,
                    value: linear(i, "attention.attention.value", d, d)?,
                    output: linear(i, "attention.output.dense", d, d)?,
                    scale1: vector(&name("layer_scale1.lambda1"), d)?,
                    norm2: norm(&name("norm2.weight"), &name("norm2.bias"))?,
                    fc1: linear(i, "mlp.fc1", m, d)?,
                    fc2: linear(i, "mlp.fc2", d, m)?,
                    scale2: vector(&name("layer_scale2.lambda1"), d)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let registers = if spec.registers > 0 {
            file.get(layout::REGISTER_TOKENS, &[1, spec.registers, d])?
                .into_shape_with_order((spec.registers, d))
                .expect("shape checked")
        } else {
            Array2::zeros((0, d))
        };
        let positions = 1 + spec.pos_grid * spec.pos_grid;
        Ok(Self {
            patch_weight: file
                .get(layout::PATCH_WEIGHT, &[d, 3, p, p])?
                .into_dimensionality::<Ix4>()
                .expect("shape checked"),
            patch_bias: vector(layout::PATCH_BIAS, d)?,
            cls_token: file.get(layout::CLS_TOKEN, &[1, 1, d])?.into_shape_with_order(d).expect("shape checked"),
            registers,
            pos_embed: file
                .get(layout::POSITION_EMBEDDINGS, &[1, positions, d])?
                .into_shape_with_order((positions, d))
                .expect("shape checked"),
            blocks,
            norm: norm(layout::NORM_WEIGHT, layout::NORM_BIAS)?,
            sha256: scope.file().sha256().to_string(),
            spec,
        })
    }
}

fn read_config(path: &Path) -> Result<(PathBuf, HfConfig)> {
    let text = std::fs::read_to_string(path).map_err(ModelError::io(path))?;
    let config = serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        field: format!("line {} column {}", e.line(), e.column()),
        reason: e.to_string(),
    })?;
    Ok((path.to_path_buf(), config))
}

/// Reads the architecture off the tensors' shapes; `config.json` adds the head count and
/// the LayerNorm epsilon, and says which position resampling the reference uses.
fn infer_spec(file: &HubTensors, config: Option<(&Path, &HfConfig)>) -> Result<VitSpec> {
    let cls = file.shape(layout::CLS_TOKEN)?;
    let hidden = match cls.as_slice() {
        [1, 1, d] if *d > 0 => *d,
        _ => return Err(file.shape_error(layout::CLS_TOKEN, cls, "[1, 1, D]")),
    };
    let patch_shape = file.shape(layout::PATCH_WEIGHT)?;
    let patch = match patch_shape.as_slice() {
        [d, 3, p, q] if *d == hidden && p == q && *p > 0 => *p,
        _ => {
            return Err(file.shape_error(layout::PATCH_WEIGHT, patch_shape, &format!("[{hidden}, 3, P, P]")));
        }
    };
    let pos_shape = file.shape(layout::POSITION_EMBEDDINGS)?;
    let pos_grid = match pos_shape.as_slice() {
        [1, n, d] if *d == hidden && *n > 1 && is_square(n - 1) => (n - 1).isqrt(),
        _ => {
            return Err(file.shape_error(layout::POSITION_EMBEDDINGS, pos_shape, &format!("[1, 1 + G², {hidden}]")));
        }
    };
    let registers = match file.shape_if_present(layout::REGISTER_TOKENS) {
        None => 0,
        Some(shape) => match shape.as_slice() {
            [1, r, d] if *d == hidden => *r,
            _ => {
                return Err(file.shape_error(layout::REGISTER_TOKENS, shape, &format!("[1, R, {hidden}]")));
            }
        },
    };
    let depth = (0..).take_while(|i| file.contains(&layout::block_tensor(*i, BLOCK_TENSORS[0]))).count();
    if depth == 0 {
        return Err(file.missing(&layout::block_tensor(0, BLOCK_TENSORS[0])));
    }
    let fc1 = layout::block_tensor(0, "mlp.fc1.weight");
    let fc1_shape = file.shape(&fc1)?;
    let mlp_hidden = match fc1_shape.as_slice() {
        [m, d] if *d == hidden => *m,
        _ => return Err(file.shape_error(&fc1, fc1_shape, &format!("[M, {hidden}]"))),
    };

    let default = HfConfig::default();
    let (config_path, config) = config.map(|(p, c)| (Some(p), c)).unwrap_or((None, &default));
    let config_error = |field: &str, reason: String| ModelError::Config {
        path: config_path.map(Path::to_path_buf).unwrap_or_else(|| file.scope.file().path().to_path_buf()),
        field: field.to_string(),
        reason,
    };
    if config.use_swiglu_ffn {
        return Err(config_error("use_swiglu_ffn", "the SwiGLU MLP (ViT-g/14) is not supported".into()));
    }
    if let Some(act) = config.hidden_act.as_deref().filter(|a| *a != "gelu") {
        return Err(config_error("hidden_act", format!("`{act}` is not supported; DINOv2 uses `gelu`")));
    }
    // DINOv2 heads are 64 wide at every size; config.json says otherwise for other models.
    let heads = config.num_attention_heads.unwrap_or((hidden / 64).max(1));
    if heads == 0 || hidden % heads != 0 {
        return Err(config_error(
            "num_attention_heads",
            format!("{heads} heads do not divide the width {hidden}; set num_attention_heads in config.json"),
        ));
    }
    let pos_resample = match (config.model_type.as_deref(), file.names) {
        (Some(other), _) if other != "dinov2" && other != "dinov2_with_registers" => {
            return Err(config_error(
                "model_type",
                format!("`{other}` is not a DINOv2 model (expected dinov2 or dinov2_with_registers)"),
            ));
        }
        // Meta's code resamples with its offset; its register variants as transformers does.
        (_, Names::Meta) if registers == 0 => Resample::BicubicOffset,
        (Some("dinov2"), Names::Hub) => Resample::Bicubic,
        (None, Names::Hub) if registers == 0 => Resample::Bicubic,
        _ => Resample::BicubicAntialias,
    };
    Ok(VitSpec {
        hidden,
        depth,
        heads,
        mlp_hidden,
        patch,
        registers,
        pos_grid,
        layer_norm_eps: config.layer_norm_eps.unwrap_or(1e-6),
        pos_resample,
    })
}

fn is_square(n: usize) -> bool {
    n.isqrt() * n.isqrt() == n
}

/// Which names a file gives DINOv2's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// The Hugging Face hub's (or transformers 5's aliases).
    Hub,
    /// facebookresearch/dinov2's ([`layout::meta_name`]).
    Meta,
}

/// DINOv2 tensors by their hub names, found in a file under the hub name or its aliases, or
/// under Meta's name (a third of `attn.qkv` for the query, key and value).
struct HubTensors<'s, 'f> {
    scope: &'s Scope<'f>,
    names: Names,
}

impl HubTensors<'_, '_> {
    /// The tensor's name in the file (whether or not the file holds it), and the third of
    /// its rows that is the hub tensor when it is a fused one.
    fn name(&self, hub_name: &str) -> (String, Option<usize>) {
        match self.names {
            Names::Hub => (self.scope.first_of(&layout::aliases(hub_name)).unwrap_or(hub_name).to_string(), None),
            Names::Meta => layout::meta_name(hub_name).unwrap_or_else(|| (hub_name.to_string(), None)),
        }
    }

    fn contains(&self, hub_name: &str) -> bool {
        self.scope.contains(&self.name(hub_name).0)
    }

    fn missing(&self, hub_name: &str) -> ModelError {
        self.scope.missing(&self.name(hub_name).0)
    }

    fn shape_error(&self, hub_name: &str, found: Vec<usize>, expected: &str) -> ModelError {
        self.scope.shape_error(&self.name(hub_name).0, found, expected)
    }

    fn shape_if_present(&self, hub_name: &str) -> Option<Vec<usize>> {
        self.scope.shape_if_present(&self.name(hub_name).0)
    }

    fn shape(&self, hub_name: &str) -> Result<Vec<usize>> {
        self.shape_if_present(hub_name).ok_or_else(|| self.missing(hub_name))
    }

    fn get(&self, hub_name: &str, expected: &[usize]) -> Result<ArrayD<f32>> {
        match self.name(hub_name) {
            (name, None) => self.scope.get(&name, expected),
            (name, Some(part)) => {
                // [3·rows, …]: the query's rows, then the key's, then the value's.
                let rows = expected[0];
                let mut fused = expected.to_vec();
                fused[0] *= 3;
                let all = self.scope.get(&name, &fused)?;
                Ok(all.slice_axis(Axis(0), (part * rows..(part + 1) * rows).into()).to_owned())
            }
        }
    }
}
