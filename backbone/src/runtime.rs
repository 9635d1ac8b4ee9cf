//! The backbone at run time: a dinoedge backbone ONNX file loaded into an optimised tract
//! plan with its fixed input shape, run on a thread pool of a chosen size, returning the
//! class token and the patch-token maps as `ndarray` arrays, and the depth map when the
//! graph is an imported depth model.

use std::path::Path;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use ndarray::{Array1, Array2, Array3, Array4, Ix2, Ix3};
use prost::Message;
use tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;

use crate::error::{ModelError, Result};
use crate::onnx::dinov2;
use crate::onnx::meta::BackboneMeta;
use crate::ops::{self, Operators};
use crate::precision::Precision;
use crate::preprocess;

/// The tokens of one intermediate block, after the final LayerNorm.
#[derive(Debug, Clone)]
pub struct BlockTokens {
    /// 1-based block index.
    pub block: usize,
    /// [D]
    pub cls: Array1<f32>,
    /// [rows, cols, D]
    pub patch_tokens: Array3<f32>,
}

/// What the backbone computes for one frame.
#[derive(Debug, Clone)]
pub struct BackboneOutputs {
    /// [D]
    pub cls: Array1<f32>,
    /// [rows, cols, D]: the patch grid, row-major as the image.
    pub patch_tokens: Array3<f32>,
    /// The requested intermediate blocks, in increasing order.
    pub blocks: Vec<BlockTokens>,
    /// [H, W] at the input's size, from the depth head inside an imported depth model's graph
    /// (its meaning is the metadata's [`DepthKind`](crate::onnx::meta::DepthKind)).
    pub depth: Option<Array2<f32>>,
}

/// How a backbone is loaded: the size of its thread pool, whose operators, which precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// tract's matrix-product threads.
    pub threads: usize,
    pub operators: Operators,
    pub precision: Precision,
}

impl Settings {
    /// `threads` threads, dinoedge's operators, f32.
    pub fn threads(threads: usize) -> Self {
        Self { threads, operators: Operators::Dinoedge, precision: Precision::F32 }
    }
}

pub struct Backbone {
    plan: Arc<TypedSimplePlan>,
    /// The plan's run state, kept between frames so buffers are not set up anew.
    state: Mutex<TypedSimpleState>,
    meta: BackboneMeta,
    executor: Executor,
    precision: Precision,
}

impl Backbone {
    /// Loads and optimises `path` for `threads` inference threads (tract's matmul pool), with
    /// dinoedge's operators, in f32.
    pub fn load(path: &Path, threads: usize) -> Result<Self> {
        Self::load_with(path, Settings::threads(threads))
    }

    /// [`Backbone::load`] with the chosen operators ([`Operators::Tract`]: tract-onnx's own
    /// form of every node, the reference the exactness tests and the benchmark compare with)
    /// and precision ([`Precision::F16`]: see [`crate::precision`]).
    pub fn load_with(path: &Path, settings: Settings) -> Result<Self> {
        let onnx_error = |reason: String| ModelError::Onnx { path: path.to_path_buf(), reason };
        if settings.threads == 0 {
            return Err(onnx_error("the thread count must be at least 1".into()));
        }
        let (proto, meta) = read(path)?;
        crate::onnx::integrity::check(&proto).map_err(onnx_error)?;
        let plan = ops::onnx(settings.operators, settings.precision)
            .model_for_proto_model(&proto)
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .and_then(|mut m| {
                settings.precision.apply(&mut m)?;
                m.into_optimized()
            })
            .and_then(|m| m.into_runnable())
            .map_err(|e| onnx_error(format!("{e:#}")))?;
        let threads = settings.threads;
        let executor = if threads == 1 { Executor::SingleThread } else { Executor::multithread(threads) };
        let state = Mutex::new(SimpleState::new(&plan).map_err(|e| onnx_error(format!("{e:#}")))?);
        Ok(Self { plan, state, meta, executor, precision: settings.precision })
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn meta(&self) -> &BackboneMeta {
        &self.meta
    }

    pub(crate) fn plan(&self) -> &Arc<TypedSimplePlan> {
        &self.plan
    }

    pub(crate) fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The plan's input: `pixels` in the plan's precision.
    pub(crate) fn input(&self, pixels: Array4<f32>) -> Result<TValue> {
        let tensor = Tensor::from(pixels);
        let tensor = match self.precision {
            Precision::F32 => tensor,
            Precision::F16 => tensor.cast_to::<f16>().map_err(inference_error)?.into_owned(),
        };
        Ok(tensor.into())
    }

    /// Resizes and normalises a frame, then runs the backbone on it.
    pub fn embed(&self, frame: &RgbImage) -> Result<BackboneOutputs> {
        self.run(preprocess::to_input(frame, self.meta.input))
    }

    /// Runs the backbone on a normalised [1, 3, H, W] tensor of the model's input size.
    pub fn run(&self, pixels: Array4<f32>) -> Result<BackboneOutputs> {
        let expected = (1, 3, self.meta.input.height, self.meta.input.width);
        if pixels.dim() != expected {
            return Err(ModelError::Inference(format!(
                "tensor `{}` has shape {:?}, the model takes {expected:?}",
                dinov2::INPUT,
                pixels.shape()
            )));
        }
        let input = self.input(pixels)?;
        let outputs = multithread_tract_scope(self.executor.clone(), || {
            let mut state = self.state.lock().expect("a panic while running the backbone poisoned its state");
            state.run(tvec!(input))
        })
        .map_err(inference_error)?;
        // An f16 plan's outputs, in f32 like an f32 plan's.
        let outputs = outputs
            .into_iter()
            .map(|o| match o.datum_type() {
                DatumType::F16 => o.cast_to::<f32>().map(|t| t.into_owned().into_tvalue()).map_err(inference_error),
                _ => Ok(o),
            })
            .collect::<Result<Vec<TValue>>>()?;
        let (rows, cols) = self.meta.input.grid(self.meta.spec.patch)?;
        let d = self.meta.spec.hidden;
        let mut outputs = outputs.into_iter();
        let mut next_pair = || -> Result<(Array1<f32>, Array3<f32>)> {
            let (cls, patches) = outputs
                .next()
                .zip(outputs.next())
                .ok_or_else(|| ModelError::Inference("the model has fewer outputs than its metadata lists".into()))?;
            let cls = view(&cls)?.into_dimensionality::<Ix2>().map_err(shape_error)?.row(0).to_owned();
            let patches = view(&patches)?
                .into_dimensionality::<Ix3>()
                .map_err(shape_error)?
                .to_shape((rows, cols, d))
                .map_err(shape_error)?
                .into_owned();
            Ok((cls, patches))
        };
        let (cls, patch_tokens) = next_pair()?;
        let blocks = self
            .meta
            .blocks
            .clone()
            .into_iter()
            .map(|block| next_pair().map(|(cls, patch_tokens)| BlockTokens { block, cls, patch_tokens }))
            .collect::<Result<Vec<_>>>()?;
        let depth = match &self.meta.depth {
            None => None,
            Some(_) => {
                let depth = outputs.next().ok_or_else(|| {
                    ModelError::Inference("the model lists a depth head but has no depth output".into())
                })?;
                let (h, w) = (self.meta.input.height, self.meta.input.width);
                Some(view(&depth)?.to_shape((h, w)).map_err(shape_error)?.into_owned())
            }
        };
        Ok(BackboneOutputs { cls, patch_tokens, blocks, depth })
    }
}

/// Reads a backbone ONNX file and its metadata, without building the plan.
fn read(path: &Path) -> Result<(pb::ModelProto, BackboneMeta)> {
    let onnx_error = |reason: String| ModelError::Onnx { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(ModelError::io(path))?;
    let proto = pb::ModelProto::decode(bytes.as_slice()).map_err(|e| onnx_error(format!("not ONNX ({e})")))?;
    let props: Vec<(String, String)> = proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
    let meta = BackboneMeta::from_props(&props)
        .map_err(|e| onnx_error(format!("{e}; make it with `dinoedge model import`")))?;
    Ok((proto, meta))
}

/// What a backbone ONNX file says about itself (architecture, input, depth head), read
/// without building its plan (nor hashing its graph: only a load hands the graph to tract).
pub fn read_meta(path: &Path) -> Result<BackboneMeta> {
    read(path).map(|(_, meta)| meta)
}

fn view(value: &TValue) -> Result<ndarray::ArrayViewD<'_, f32>> {
    value.to_plain_array_view::<f32>().map_err(inference_error)
}

fn inference_error(e: TractError) -> ModelError {
    ModelError::Inference(format!("{e:#}"))
}

fn shape_error(e: ndarray::ShapeError) -> ModelError {
    ModelError::Inference(format!("unexpected output shape: {e}"))
}
