//! The published depth models' full-size graphs (random weights, made through the import path
//! of the published files) compute the same depth with dinoedge's tract operators
//! (`dinoedge_backbone::ops`: LayerNorm, Softmax, bilinear Resize) as with tract-onnx's own:
//! within 1e-5 of the depth range. The small parity fixtures (`published.rs`) hold the same
//! graphs to PyTorch with dinoedge's operators, on every architecture.
//!
//! x86-64 only: under qemu these full-size graphs take minutes each, and on ARM the same
//! operators' code is held to the definition by `backbone/tests/operators.rs` and to PyTorch
//! by the parity fixtures.

use std::path::Path;

use dinoedge_backbone::onnx::meta::{AttentionForm, DepthKind};
use dinoedge_backbone::ops::Operators;
use dinoedge_backbone::vit::Arch;
use dinoedge_backbone::{Backbone, InputSize, Settings, init};
use dinoedge_heads::published::catalog::MetaHead;
use dinoedge_heads::published::init::{write_random_depth_anything, write_random_meta_head};
use dinoedge_heads::published::{DepthRange, import};
use ndarray::Array4;

fn assert_same_depth(onnx: &Path, input: InputSize, what: &str) {
    let pixels = Array4::from_shape_fn((1, 3, input.height, input.width), |(_, c, y, x)| {
        ((x * 7 + y * 13 + c * 29) % 101) as f32 / 50.0 - 1.0
    });
    let run = |operators| {
        Backbone::load_with(onnx, Settings { operators, ..Settings::threads(2) })
            .unwrap()
            .run(pixels.clone())
            .unwrap()
            .depth
            .expect("a depth output")
    };
    let (ours, tracts) = (run(Operators::Dinoedge), run(Operators::Tract));
    let scale = tracts.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let diff = ours.iter().zip(&tracts).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(scale > 0.0 && ours.iter().all(|v| v.is_finite()), "{what}: a degenerate depth map");
    assert!(diff <= 1e-5 * scale, "{what}: depths differ by {diff} (largest depth {scale})");
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "minutes under qemu; see the module's comment")]
fn depth_anything_computes_the_same_depth_with_dinoedges_operators() {
    let tmp = tempfile::tempdir().unwrap();
    write_random_depth_anything(DepthKind::Metric, 20.0, 3, tmp.path()).unwrap();
    let onnx = tmp.path().join("da2.onnx");
    let input = InputSize::new(126, 168);
    import::depth_anything(
        "depth-anything-v2-metric-indoor-small",
        (DepthKind::Metric, 20.0),
        &tmp.path().join("model.safetensors"),
        input,
        AttentionForm::Decomposed,
        &onnx,
    )
    .unwrap();
    assert_same_depth(&onnx, input, "Depth Anything V2 Small (metric, random) at 126×168");
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "minutes under qemu; see the module's comment")]
fn metas_dpt_head_computes_the_same_depth_with_dinoedges_operators() {
    let tmp = tempfile::tempdir().unwrap();
    let backbone = tmp.path().join("vits14.safetensors");
    init::write_random(Arch::Small, 0, 3, &backbone).unwrap();
    let head = write_random_meta_head(MetaHead::Dpt, 3, tmp.path()).unwrap();
    let onnx = tmp.path().join("dpt.onnx");
    let input = InputSize::new(98, 126);
    import::meta(
        "dinov2-small-nyu-dpt",
        (MetaHead::Dpt, DepthRange { min: 0.001, max: 10.0 }),
        &backbone,
        &head,
        input,
        AttentionForm::Decomposed,
        &onnx,
    )
    .unwrap();
    assert_same_depth(&onnx, input, "Meta's DPT head (NYU, random) at 98×126");
}
