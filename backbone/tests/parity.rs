//! Numerical parity with the reference implementation (Hugging Face transformers on torch).
//!
//! The fixtures under `tests/fixtures/parity` are made by `tools/make_parity_fixtures.py`:
//! tiny DINOv2 models with random weights in the hub's file layout, inputs whose patch
//! grids differ from the position grid (so the embedding is resampled, plain and
//! antialiased), and the reference's outputs. Each test imports the weights with
//! `dinoedge model import`'s code, runs the ONNX graph in tract and compares.

use std::path::{Path, PathBuf};

use dinoedge_backbone::import::{ImportOptions, import};
use dinoedge_backbone::onnx::meta::AttentionForm;
use dinoedge_backbone::posembed::{Resample, resample};
use dinoedge_backbone::{Backbone, BackboneOutputs, InputSize};
use ndarray::{Array3, Array4};

mod common;
use common::{max_abs_diff, read_tensors, tensor};

const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")
}

/// Imports a fixture model at `input`, runs it on the fixture's input, and checks every
/// output against the reference.
fn check_variant(variant: &str, input: &str) {
    for attention in [AttentionForm::Decomposed, AttentionForm::Fused] {
        check_variant_with(variant, input, attention);
    }
}

fn check_variant_with(variant: &str, input: &str, attention: AttentionForm) {
    let dir = fixtures().join(variant);
    let io = read_tensors(&dir.join(format!("io_{input}.safetensors")));
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("backbone.onnx");
    let size: InputSize = input.parse().unwrap();
    let meta = import(
        &dir.join("model.safetensors"),
        &onnx,
        &ImportOptions { input: size, blocks: Some(vec![1, 2]), attention },
    )
    .expect("import");
    assert_eq!(meta.blocks, vec![1, 2]);

    let backbone = Backbone::load(&onnx, 1).expect("load");
    let pixels = tensor(&io, "pixel_values").into_dimensionality::<ndarray::Ix4>().unwrap();
    let out: BackboneOutputs = backbone.run(Array4::from(pixels)).expect("run");
    let (rows, cols) = size.grid(14).unwrap();

    let as_reference =
        |patches: &Array3<f32>| patches.to_shape((1, rows * cols, patches.dim().2)).unwrap().into_owned().into_dyn();
    let mut checks = vec![
        ("cls".to_string(), out.cls.clone().insert_axis(ndarray::Axis(0)).into_dyn()),
        ("patch_tokens".to_string(), as_reference(&out.patch_tokens)),
    ];
    for b in &out.blocks {
        checks.push((format!("block{}_cls", b.block), b.cls.clone().insert_axis(ndarray::Axis(0)).into_dyn()));
        checks.push((format!("block{}_patch_tokens", b.block), as_reference(&b.patch_tokens)));
    }
    assert_eq!(checks.len(), 6, "cls, patch tokens, and two blocks");
    for (name, ours) in checks {
        let diff = max_abs_diff(&ours, &tensor(&io, &name), &name);
        assert!(diff <= TOLERANCE, "{variant} {input} {attention:?}: `{name}` differs from the reference by {diff}");
    }
}

#[test]
fn dinov2_matches_the_reference_when_the_grid_shrinks_and_is_not_square() {
    check_variant("dinov2", "42x56");
}

#[test]
fn dinov2_matches_the_reference_when_the_grid_grows() {
    check_variant("dinov2", "84x84");
}

#[test]
fn dinov2_matches_the_reference_at_its_native_grid() {
    check_variant("dinov2", "70x70");
}

#[test]
fn dinov2_with_registers_matches_the_reference_when_the_grid_shrinks() {
    check_variant("dinov2-with-registers", "42x56");
}

#[test]
fn dinov2_with_registers_matches_the_reference_when_the_grid_grows() {
    check_variant("dinov2-with-registers", "98x84");
}

#[test]
fn position_resampling_matches_torch_bicubic_plain_and_antialiased() {
    let cases = read_tensors(&fixtures().join("interpolation.safetensors"));
    let mut checked = 0;
    for i in 0.. {
        let Some((_, input)) = cases.iter().find(|(n, _)| *n == format!("case{i}.input")) else {
            break;
        };
        // torch's [1, C, H, W] to our [H, W, C].
        let grid = input.index_axis(ndarray::Axis(0), 0).permuted_axes(vec![1, 2, 0]).to_owned();
        let grid = grid.into_dimensionality::<ndarray::Ix3>().unwrap();
        for (suffix, mode) in [("plain", Resample::Bicubic), ("aa", Resample::BicubicAntialias)] {
            let expected = tensor(&cases, &format!("case{i}.{suffix}"));
            let (rows, cols) = (expected.shape()[2], expected.shape()[3]);
            let ours = resample(grid.view(), rows, cols, mode).permuted_axes([2, 0, 1]).insert_axis(ndarray::Axis(0));
            let diff = max_abs_diff(&ours.into_dyn(), &expected, "resample");
            assert!(diff <= 1e-5, "case {i} ({suffix}, {rows}x{cols}): differs from torch by {diff}");
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "all five fixture cases, in both modes");
}
