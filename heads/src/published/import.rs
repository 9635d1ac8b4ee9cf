//! `dinoedge model import --depth`: a published depth model's files to one ONNX graph for an
//! input size, the backbone and its depth head together, run by tract like any backbone
//! graph. The graph keeps the backbone's feature outputs (other heads share the pass) and
//! adds `depth` [H, W]; its metadata names the model, the kind of depth and the head file's
//! sha256.

use std::path::Path;

use dinoedge_backbone::error::Result;
use dinoedge_backbone::files::write_atomically;
use dinoedge_backbone::import::default_blocks;
use dinoedge_backbone::onnx::dinov2;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::onnx::meta::{AttentionForm, BackboneMeta, DepthKind, DepthMeta};
use dinoedge_backbone::size::InputSize;
use dinoedge_backbone::tensors::TensorFile;
use dinoedge_backbone::vit::DinoWeights;

use super::bn_head::{self, BnHead, DepthRange};

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
    let mut blocks = default_blocks(w.spec.depth);
    blocks.extend(&head.blocks);
    blocks.sort_unstable();
    blocks.dedup();
    let meta = BackboneMeta {
        spec: w.spec.clone(),
        input,
        blocks,
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
    g.output(&depth, DEPTH, &[input.height, input.width]);
    write_atomically(out, &g.finish(model, dinov2::opset(attention), &meta.to_props()))?;
    Ok(meta)
}
