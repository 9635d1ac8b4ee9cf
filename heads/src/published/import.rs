//! `dinoedge model import --depth`: a published depth model's files to one ONNX graph for an
//! input size, the backbone and its depth head together, run by tract like any backbone
//! graph. The graph keeps the backbone's feature outputs (other heads share the pass) and
//! adds `depth` [H, W]; its metadata names the model, the kind of depth and the head file's
//! sha256.

use std::path::Path;

use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::files::write_atomically;
use dinoedge_backbone::import::default_blocks;
use dinoedge_backbone::onnx::dinov2::{self, Encoded};
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::onnx::meta::{AttentionForm, BackboneMeta, DepthKind, DepthMeta};
use dinoedge_backbone::posembed::Resample;
use dinoedge_backbone::size::InputSize;
use dinoedge_backbone::tensors::TensorFile;
use dinoedge_backbone::vit::{DinoWeights, layout};

use super::bn_head::{self, BnHead, DepthRange};
use super::catalog::{self, MetaHead};
use super::depth_anything::{self, DepthAnything};
use super::dpt_head::{self, DptHead};

/// The name of the depth output.
pub const DEPTH: &str = "depth";

/// Imports one of Meta's heads (`head`, a checkpoint of the kind `head_kind`, trained to
/// `range`) on the DINOv2 backbone in `backbone` as the depth model `model`, writing the
/// graph to `out` atomically. The backbone runs as facebookresearch/dinov2's does, its
/// position embedding resampled with Meta's offset ([`Resample::BicubicOffset`]).
pub fn meta(
    model: &str,
    (head_kind, range): (MetaHead, DepthRange),
    backbone: &Path,
    head: &Path,
    input: InputSize,
    attention: AttentionForm,
    out: &Path,
) -> Result<BackboneMeta> {
    let mut w = DinoWeights::load(backbone)?;
    // The heads were trained on facebookresearch/dinov2's backbone, which resamples the
    // position embedding with its offset (its register variants as transformers does).
    if w.spec.registers == 0 {
        w.spec.pos_resample = Resample::BicubicOffset;
    }
    let head_file = TensorFile::open(head)?;
    let depth =
        DepthMeta { model: model.to_string(), kind: DepthKind::Metric, source_sha256: head_file.sha256().to_string() };
    let (height, width) = (input.height, input.width);
    match head_kind {
        MetaHead::Linear1 | MetaHead::Linear4 => {
            let head = BnHead::load(&head_file.scope(bn_head::WEIGHT)?, &w.spec, range)?;
            let (found, expected) = (head.blocks.len(), if head_kind == MetaHead::Linear1 { 1 } else { 4 });
            if found != expected {
                return Err(ModelError::Config {
                    path: head_file.path().to_path_buf(),
                    field: bn_head::WEIGHT.into(),
                    reason: format!("the file is a lin.{found} head; `{model}` is lin.{expected}"),
                });
            }
            build(&w, &head.blocks, depth, (input, attention), out, |g, encoded, _| {
                head.append(g, encoded, &w.spec, height, width)
            })
        }
        MetaHead::Dpt => {
            let head = DptHead::load(&head_file.scope(dpt_head::ANCHOR)?, &w.spec, range)?;
            build(&w, &head.blocks, depth, (input, attention), out, |g, encoded, _| {
                head.append(g, encoded, height, width)
            })
        }
    }
}

/// Imports a Depth Anything model as the depth model `model`, whose output and `max_depth`
/// must be `expected`'s, writing the graph to `out` atomically. `weights` is either
/// transformers' `model.safetensors` (with `config.json` beside it, which must agree with
/// `expected`) or an original checkpoint (which says nothing of its output: `expected` is
/// taken, unless its sha256 is the known one of another model).
pub fn depth_anything(
    model: &str,
    expected: (DepthKind, f32),
    weights: &Path,
    input: InputSize,
    attention: AttentionForm,
    out: &Path,
) -> Result<BackboneMeta> {
    let file = TensorFile::open(weights)?;
    let (output, max_depth) = expected;
    let (w, head) = match file.scope(depth_anything::ORIGINAL_ANCHOR) {
        Ok(head_scope) => {
            if let Some(other) = catalog::pinned_to(file.sha256()).filter(|p| p.name != model) {
                return Err(ModelError::Config {
                    path: weights.to_path_buf(),
                    field: "sha256".into(),
                    reason: format!("the file is the published checkpoint of `{}`, not of `{model}`", other.name),
                });
            }
            let w = DinoWeights::from_scope(&file.scope(layout::META_ANCHOR)?, None)?;
            let head = DepthAnything::load_original(&head_scope, &w.spec, output, max_depth)?;
            (w, head)
        }
        Err(_) => {
            let (config_path, config) = depth_anything::read_config(weights)?;
            let backbone_config = config.encoder().map(|c| (config_path.as_path(), c));
            let w = DinoWeights::from_scope(&file.scope(layout::CLS_TOKEN)?, backbone_config)?;
            let head = DepthAnything::load(&file.scope(depth_anything::ANCHOR)?, &config_path, &config, &w.spec)?;
            if head.kind != output {
                return Err(ModelError::Config {
                    path: config_path,
                    field: "depth_estimation_type".into(),
                    reason: format!("the file is a {} model; `{model}` is {}", head.kind, output),
                });
            }
            if head.max_depth != max_depth {
                return Err(ModelError::Config {
                    path: config_path,
                    field: "max_depth".into(),
                    reason: format!("{} m; `{model}` is trained to {max_depth} m", head.max_depth),
                });
            }
            (w, head)
        }
    };
    let depth = DepthMeta { model: model.to_string(), kind: head.kind, source_sha256: file.sha256().to_string() };
    build(&w, &head.blocks, depth, (input, attention), out, |g, encoded, features| {
        head.append(g, encoded, features, input.height, input.width)
    })
}

/// The graph of backbone `w` and a depth head, written to `out` atomically: the encoder
/// keeping the head's `head_blocks` and the default feature blocks, the feature outputs, then
/// `append_head` (given the encoder and the kept blocks' normed patch tokens) returning the
/// depth [H, W], declared as [`DEPTH`]; `depth` goes into the metadata.
fn build(
    w: &DinoWeights,
    head_blocks: &[usize],
    depth: DepthMeta,
    (input, attention): (InputSize, AttentionForm),
    out: &Path,
    append_head: impl FnOnce(&mut GraphBuilder, &Encoded, &[(usize, String)]) -> String,
) -> Result<BackboneMeta> {
    input.grid(w.spec.patch)?;
    let mut blocks = default_blocks(w.spec.depth);
    blocks.extend(head_blocks);
    blocks.sort_unstable();
    blocks.dedup();
    let meta = BackboneMeta {
        spec: w.spec.clone(),
        input,
        blocks,
        attention,
        weights_sha256: w.sha256.clone(),
        depth: Some(depth),
    };
    let mut g = GraphBuilder::default();
    let encoded = dinov2::encode(&mut g, w, &meta)?;
    let features = dinov2::emit_features(&mut g, w, &encoded);
    let depth = append_head(&mut g, &encoded, &features);
    g.output(&depth, DEPTH, &[input.height, input.width]);
    let name = meta.depth.as_ref().map_or(DEPTH, |d| d.model.as_str());
    write_atomically(out, &g.finish(name, dinov2::opset(attention), &meta.to_props()))?;
    Ok(meta)
}
