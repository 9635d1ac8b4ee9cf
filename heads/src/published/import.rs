//! `dinoedge model import --depth`: a published depth model's files to one ONNX graph for an
//! input size, the backbone and its depth head together, run by tract like any backbone
//! graph. The graph keeps the backbone's feature outputs (other heads share the pass) and
//! adds `depth` [H, W]; its metadata names the model, the kind of depth and the head file's
//! sha256.

use std::path::Path;

use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::files::write_atomically;
use dinoedge_backbone::import::default_blocks;
use dinoedge_backbone::onnx::dinov2;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::onnx::meta::{AttentionForm, BackboneMeta, DepthKind, DepthMeta};
use dinoedge_backbone::size::InputSize;
use dinoedge_backbone::tensors::TensorFile;
use dinoedge_backbone::vit::DinoWeights;

use super::bn_head::{self, BnHead, DepthRange};
use super::depth_anything::{self, DepthAnything};

/// The name of the depth output.
pub const DEPTH: &str = "depth";

/// Imports one of Meta's linear heads (`head`, a checkpoint) on the DINOv2 backbone in
/// `backbone` as the depth model `model`, writing the graph to `out` atomically.
pub fn linear(
    model: &str,
    backbone: &Path,
    head: &Path,
    range: DepthRange,
    input: InputSize,
    attention: AttentionForm,
    out: &Path,
) -> Result<BackboneMeta> {
    let w = DinoWeights::load(backbone)?;
    let head_file = TensorFile::open(head)?;
    let head = BnHead::load(&head_file.scope(bn_head::WEIGHT)?, &w.spec, range)?;
    input.grid(w.spec.patch)?;
    let meta = BackboneMeta {
        spec: w.spec.clone(),
        input,
        blocks: with_default_blocks(&head.blocks, w.spec.depth),
        attention,
        weights_sha256: w.sha256.clone(),
        depth: Some(DepthMeta {
            model: model.to_string(),
            kind: DepthKind::Metric,
            source_sha256: head_file.sha256().to_string(),
        }),
    };
    let mut g = GraphBuilder::default();
    let encoded = dinov2::encode(&mut g, &w, &meta)?;
    dinov2::emit_features(&mut g, &w, &encoded);
    let depth = head.append(&mut g, &encoded, &w.spec, input.height, input.width);
    finish(g, &meta, depth, out)?;
    Ok(meta)
}

/// Imports a Depth Anything model in transformers' layout (`weights`, with `config.json`
/// beside it) as the depth model `model`, whose output and `max_depth` must be `expected`'s,
/// writing the graph to `out` atomically.
pub fn depth_anything(
    model: &str,
    expected: (DepthKind, f32),
    weights: &Path,
    input: InputSize,
    attention: AttentionForm,
    out: &Path,
) -> Result<BackboneMeta> {
    let (config_path, config) = depth_anything::read_config(weights)?;
    let file = TensorFile::open(weights)?;
    let backbone_config = config.encoder().map(|c| (config_path.as_path(), c));
    let w = DinoWeights::from_scope(&file.scope(dinoedge_backbone::vit::layout::CLS_TOKEN)?, backbone_config)?;
    let head = DepthAnything::load(&file.scope(depth_anything::ANCHOR)?, &config_path, &config, &w.spec)?;
    let (output, max_depth) = expected;
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
    input.grid(w.spec.patch)?;
    let meta = BackboneMeta {
        spec: w.spec.clone(),
        input,
        blocks: with_default_blocks(&head.blocks, w.spec.depth),
        attention,
        weights_sha256: w.sha256.clone(),
        depth: Some(DepthMeta { model: model.to_string(), kind: head.kind, source_sha256: file.sha256().to_string() }),
    };
    let mut g = GraphBuilder::default();
    let encoded = dinov2::encode(&mut g, &w, &meta)?;
    let features = dinov2::emit_features(&mut g, &w, &encoded);
    let depth = head.append(&mut g, &encoded, &features, input.height, input.width);
    finish(g, &meta, depth, out)?;
    Ok(meta)
}

/// The blocks a head reads and the backbone's default feature blocks, sorted, once each.
fn with_default_blocks(head: &[usize], depth: usize) -> Vec<usize> {
    let mut blocks = default_blocks(depth);
    blocks.extend(head);
    blocks.sort_unstable();
    blocks.dedup();
    blocks
}

/// Declares the depth output and writes the model.
fn finish(mut g: GraphBuilder, meta: &BackboneMeta, depth: String, out: &Path) -> Result<()> {
    let (h, w) = (meta.input.height, meta.input.width);
    g.output(&depth, DEPTH, &[h, w]);
    let name = meta.depth.as_ref().map_or("depth", |d| d.model.as_str()).to_string();
    write_atomically(out, &g.finish(&name, dinov2::opset(meta.attention), &meta.to_props()))
}
