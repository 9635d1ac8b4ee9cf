//! The backbone runtime on full-size random models: any DINOv2 size and register count
//! imports and runs, outputs have the documented shapes, frames of any size are accepted,
//! the thread count changes the speed, not the result, and half precision keeps the features.

use dinoedge_backbone::import::{ImportOptions, import};
use dinoedge_backbone::onnx::meta::AttentionForm;
use dinoedge_backbone::vit::Arch;
use dinoedge_backbone::{Backbone, InputSize, Precision, Settings, init};
use image::RgbImage;

fn import_random(arch: Arch, registers: usize, input: InputSize, dir: &std::path::Path) -> std::path::PathBuf {
    let weights = dir.join("w.safetensors");
    init::write_random(arch, registers, 11, &weights).unwrap();
    let onnx = dir.join("b.onnx");
    import(&weights, &onnx, &ImportOptions { input, blocks: None, attention: AttentionForm::Decomposed }).unwrap();
    onnx
}

fn test_frame(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3 % 256) as u8, (y * 5 % 256) as u8, ((x + y) % 256) as u8])
    })
}

#[test]
fn base_model_with_registers_runs_with_the_documented_output_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = import_random(Arch::Base, 4, InputSize::new(112, 140), tmp.path());
    let backbone = Backbone::load(&onnx, 2).unwrap();
    let meta = backbone.meta();
    assert_eq!((meta.spec.hidden, meta.spec.heads, meta.spec.registers), (768, 12, 4));
    assert_eq!(meta.blocks, vec![3, 6, 9, 12]);

    let out = backbone.embed(&test_frame(640, 480)).unwrap();
    assert_eq!(out.cls.dim(), 768);
    assert_eq!(out.patch_tokens.dim(), (8, 10, 768), "registers are not patch tokens");
    let blocks: Vec<usize> = out.blocks.iter().map(|b| b.block).collect();
    assert_eq!(blocks, vec![3, 6, 9, 12]);
    for b in &out.blocks {
        assert_eq!(b.patch_tokens.dim(), (8, 10, 768));
    }
    // The last block through the final norm is the final output.
    let last = &out.blocks[3];
    assert!(last.patch_tokens.iter().zip(out.patch_tokens.iter()).all(|(a, b)| (a - b).abs() < 1e-5));
    assert!(out.patch_tokens.iter().all(|v| v.is_finite()));

    // What `bench backbone` divides by its time: tract's count of the plan's multiply-adds is
    // the ViT's own (patch embedding, q, k, v, the two attention products, the projection, the
    // MLP), registers and all.
    let counted = dinoedge_backbone::peak::plan_flops(&backbone).unwrap();
    let expected = meta.spec.flops(8 * 10);
    assert!((counted / expected - 1.0).abs() < 1e-3, "the plan counts {counted:.4e} FLOP, the ViT {expected:.4e}");
}

#[test]
fn the_thread_count_changes_speed_not_results() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = import_random(Arch::Small, 0, InputSize::new(224, 224), tmp.path());
    let frame = test_frame(320, 240);
    let one = Backbone::load(&onnx, 1).unwrap().embed(&frame).unwrap();
    let two = Backbone::load(&onnx, 2).unwrap().embed(&frame).unwrap();
    let diff = one.patch_tokens.iter().zip(two.patch_tokens.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(diff <= 1e-5, "1 vs 2 threads differ by {diff}");
}

#[test]
fn a_backbone_runs_frame_after_frame_with_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = import_random(Arch::Small, 0, InputSize::new(112, 112), tmp.path());
    let backbone = Backbone::load(&onnx, 2).unwrap();
    let (a, b) = (test_frame(200, 100), test_frame(100, 200));
    let first = backbone.embed(&a).unwrap();
    let other = backbone.embed(&b).unwrap();
    let again = backbone.embed(&a).unwrap();
    assert_eq!(first.cls, again.cls, "the kept run state leaks nothing between frames");
    assert_ne!(first.cls, other.cls);
}

#[test]
fn a_tensor_of_the_wrong_size_is_refused_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = import_random(Arch::Small, 0, InputSize::new(56, 56), tmp.path());
    let backbone = Backbone::load(&onnx, 1).unwrap();
    let err = backbone.run(ndarray::Array4::zeros((1, 3, 56, 70))).unwrap_err().to_string();
    assert!(err.contains("pixel_values") && err.contains("[1, 3, 56, 70]"), "{err}");
}

/// Found by tests/fuzz_readers.rs: one flipped bit of a model file made tract-onnx loop for
/// ever building it, and a graph output naming no tensor made it panic (exit 101 from
/// `check-config` and `run`). A file changed after its import is now refused by its graph's
/// sha256, and one rewired and stamped anew by the wiring check: each one error naming the
/// file (and the tensor).
#[test]
fn a_damaged_or_miswired_model_is_refused_before_tract_builds_it() {
    use dinoedge_backbone::onnx::integrity::stamp;
    use prost::Message;
    let tmp = tempfile::tempdir().unwrap();
    let onnx = import_random(Arch::Small, 0, InputSize::new(56, 56), tmp.path());
    let bytes = std::fs::read(&onnx).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 2; // a bit of the weights, as bit rot would
    std::fs::write(&onnx, &flipped).unwrap();
    let err = Backbone::load(&onnx, 1).err().expect("refused").to_string();
    assert!(err.contains("b.onnx") && err.contains("damaged or changed since"), "{err}");

    let proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let rewired = |change: &dyn Fn(&mut tract_onnx::pb::GraphProto)| {
        let mut proto = proto.clone();
        change(proto.graph.as_mut().unwrap());
        let stamped = stamp(proto.graph.as_ref().unwrap());
        proto.metadata_props.iter_mut().find(|p| p.key == stamped.key).unwrap().value = stamped.value;
        std::fs::write(&onnx, proto.encode_to_vec()).unwrap();
        Backbone::load(&onnx, 1).err().expect("refused").to_string()
    };
    let err = rewired(&|g| g.output[0].name = "nowhere".into());
    assert!(err.contains("b.onnx") && err.contains("the graph's output `nowhere` is made by no node"), "{err}");
    let err = rewired(&|g| g.node[3].input[0] = "nowhere".into());
    assert!(err.contains("takes the tensor `nowhere`, which nothing makes"), "{err}");
}

/// Cosine similarity of two equally long lists of numbers.
fn cosine<'a>(a: impl IntoIterator<Item = &'a f32>, b: impl IntoIterator<Item = &'a f32>) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.into_iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        (ab, aa, bb) = (ab + x * y, aa + x * x, bb + y * y);
    }
    ab / (aa * bb).sqrt()
}

/// The full-size ViT-S/14 in f16 (LayerNorms, softmaxes, reductions kept f32) against f32:
/// its outputs are f32, every patch token points the same way (cosine ≥ 0.999), and they are
/// not the f32 numbers (the translation ran). BENCHMARKS.md has the same comparison under qemu
/// with a Cortex-A76, on simulated frames and the default depth model.
#[test]
#[cfg_attr(target_arch = "arm", ignore = "armhf: f16 is never chosen there (no ARMv7 core computes in half precision)")]
fn half_precision_keeps_every_patch_token_within_a_cosine_of_0_999() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = import_random(Arch::Small, 0, InputSize::new(70, 84), tmp.path());
    let frame = test_frame(320, 240);
    let load = |precision| Backbone::load_with(&onnx, Settings { precision, ..Settings::threads(2) }).unwrap();
    let (full, half) = (load(Precision::F32), load(Precision::F16));
    assert_eq!(half.precision(), Precision::F16);
    let (f, h) = (full.embed(&frame).unwrap(), half.embed(&frame).unwrap());
    assert_eq!(h.patch_tokens.dim(), f.patch_tokens.dim());
    let d = f.patch_tokens.dim().2;
    let worst = f
        .patch_tokens
        .as_slice()
        .unwrap()
        .chunks(d)
        .zip(h.patch_tokens.as_slice().unwrap().chunks(d))
        .map(|(a, b)| cosine(a, b))
        .fold(1.0, f64::min);
    assert!(worst >= 0.999, "worst patch-token cosine {worst}");
    assert!(cosine(&f.cls, &h.cls) >= 0.999);
    let differs = f.patch_tokens.iter().zip(h.patch_tokens.iter()).any(|(a, b)| a != b);
    assert!(differs, "the f16 plan gave the f32 numbers: it did not run in f16");
}
