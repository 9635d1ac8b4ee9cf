//! The full-size random-weight ViT-S/14, as `dinoedge model init --random` makes it and
//! `dinoedge model import` writes it, computes the same in tract as in ONNX Runtime.
//!
//! ONNX Runtime runs in Python (`tools/ort_run.py`, PyPI `onnxruntime`): the test uses
//! `$DINOEDGE_ORT_PYTHON` (the test command sets it up), else `python3`. Without ONNX
//! Runtime the test says so and passes, except under CI (`CI` set), where it fails.

use std::path::Path;
use std::process::Command;

use dinoedge_backbone::import::{ImportOptions, import};
use dinoedge_backbone::onnx::meta::AttentionForm;
use dinoedge_backbone::vit::Arch;
use dinoedge_backbone::{Backbone, InputSize, init};
use ndarray::{Array4, Axis};
use safetensors::{Dtype, tensor::TensorView};

mod common;
use common::{max_abs_diff, read_tensors, tensor};

/// Two runtimes summing in different orders over 12 blocks agree to float rounding
/// (measured: about 5e-6 on these outputs).
const TOLERANCE: f32 = 1e-4;

fn python_with_onnxruntime() -> Option<String> {
    let python = std::env::var("DINOEDGE_ORT_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python).args(["-c", "import onnxruntime, numpy"]).output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(std::env::var_os("CI").is_none(), "CI must run this test: no onnxruntime in {python}");
    eprintln!("SKIPPED: {python} has no onnxruntime; run the README's test command, which installs it");
    None
}

fn write_input(path: &Path, pixels: &Array4<f32>) {
    let bytes: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, pixels.shape().to_vec(), &bytes).unwrap();
    std::fs::write(path, safetensors::serialize([("pixel_values", view)], None).unwrap()).unwrap();
}

fn check(input: InputSize, attention: AttentionForm) {
    let Some(python) = python_with_onnxruntime() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("vits14.safetensors");
    init::write_random(Arch::Small, 0, 7, &weights).unwrap();
    let onnx = tmp.path().join("vits14.onnx");
    import(&weights, &onnx, &ImportOptions { input, blocks: None, attention }).unwrap();

    let pixels = Array4::from_shape_fn((1, 3, input.height, input.width), |(_, c, y, x)| {
        ((x * 7 + y * 13 + c * 29) % 101) as f32 / 50.0 - 1.0
    });
    let ours = Backbone::load(&onnx, 2).unwrap().run(pixels.clone()).unwrap();
    write_input(&tmp.path().join("input.safetensors"), &pixels);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/ort_run.py");
    let status = Command::new(&python)
        .arg(&script)
        .args([&onnx, &tmp.path().join("input.safetensors"), &tmp.path().join("ort.safetensors")])
        .status()
        .unwrap();
    assert!(status.success(), "onnxruntime failed on {}", onnx.display());
    let reference = read_tensors(&tmp.path().join("ort.safetensors"));

    let n = ours.patch_tokens.dim().0 * ours.patch_tokens.dim().1;
    let flat = |p: &ndarray::Array3<f32>| p.to_shape((1, n, 384)).unwrap().into_owned().into_dyn();
    let mut pairs = vec![
        ("cls".to_string(), ours.cls.clone().insert_axis(Axis(0)).into_dyn()),
        ("patch_tokens".to_string(), flat(&ours.patch_tokens)),
    ];
    for b in &ours.blocks {
        pairs.push((format!("block{}_cls", b.block), b.cls.clone().insert_axis(Axis(0)).into_dyn()));
        pairs.push((format!("block{}_patch_tokens", b.block), flat(&b.patch_tokens)));
    }
    assert_eq!(pairs.len(), 10, "cls, patch tokens and blocks 3, 6, 9, 12");
    for (name, value) in pairs {
        let diff = max_abs_diff(&value, &tensor(&reference, &name), &name);
        assert!(diff <= TOLERANCE, "{input} {attention:?}: `{name}` differs between tract and onnxruntime by {diff}");
        assert!(value.iter().all(|v| v.is_finite()), "`{name}` has non-finite values");
    }
}

#[test]
fn full_size_model_agrees_with_onnxruntime_at_224() {
    check(InputSize::new(224, 224), AttentionForm::Decomposed);
}

#[test]
fn full_size_model_agrees_with_onnxruntime_with_fused_attention_at_a_non_square_size() {
    check(InputSize::new(224, 308), AttentionForm::Fused);
}
