//! Published depth models against their reference implementations, and the readers'
//! refusals of bad checkpoints.
//!
//! The fixtures under `tests/fixtures/published` are made by `tools/make_depth_fixtures.py`:
//! a tiny DINOv2 in the Hugging Face layout, Meta's linear heads as checkpoints in Meta's
//! layout (`{"meta", "state_dict"}` written by `torch.save`) with random weights, and the
//! depth that facebookresearch/dinov2's own backbone, `BNHead` and `DepthEncoderDecoder`
//! compute on inputs of several sizes (non-square, with the position embedding resampled
//! with Meta's offset); tiny Depth
//! Anything models (relative and metric) in transformers' layout, and the depth
//! `DepthAnythingForDepthEstimation` computes on the same inputs; Meta's DPT head as a
//! checkpoint, with the depth of Meta's `DPTHead` and, at the native grid, of transformers'
//! `DPTForDepthEstimation` on the same weights renamed.

use std::path::{Path, PathBuf};

use dinoedge_backbone::onnx::meta::{AttentionForm, DepthKind};
use dinoedge_backbone::posembed::Resample;
use dinoedge_backbone::vit::{DinoWeights, VitSpec};
use dinoedge_backbone::{Backbone, InputSize};
use dinoedge_heads::published::catalog::MetaHead;
use dinoedge_heads::published::{DepthRange, import};
use ndarray::{Array2, Array4, ArrayD, IxDyn};
use safetensors::SafeTensors;

/// Relative to the depth (metres up to 80), and at least absolute for depths under 1 m.
const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/published")
}

fn cases() -> Vec<(String, ArrayD<f32>)> {
    let bytes = std::fs::read(fixtures().join("cases.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            (name, ArrayD::from_shape_vec(IxDyn(view.shape()), values).unwrap())
        })
        .collect()
}

fn case(cases: &[(String, ArrayD<f32>)], name: &str) -> ArrayD<f32> {
    cases.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no case {name}")).1.clone()
}

fn range(dataset: &str) -> DepthRange {
    match dataset {
        "nyu" => DepthRange { min: 0.001, max: 10.0 },
        "kitti" => DepthRange { min: 0.001, max: 80.0 },
        other => panic!("{other}"),
    }
}

fn check_linear(dataset: &str, layers: &str, size: InputSize, attention: AttentionForm) {
    check_meta(&format!("dinov2_{dataset}_linear{layers}_head"), size, attention, "model.safetensors");
}

/// Imports Meta's head checkpoint `name` (its kind and range from the name) on the fixture
/// backbone file `backbone` and holds its depth to the reference's.
fn check_meta(name: &str, size: InputSize, attention: AttentionForm, backbone: &str) -> Array2<f32> {
    let dataset = if name.contains("_nyu_") { "nyu" } else { "kitti" };
    let kind = match name.rsplit('_').nth(1) {
        Some("dpt") => MetaHead::Dpt,
        Some("linear4") => MetaHead::Linear4,
        _ => MetaHead::Linear1,
    };
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("depth.onnx");
    let meta = import::meta(
        name,
        (kind, range(dataset)),
        &fixtures().join("backbone").join(backbone),
        &fixtures().join(format!("{name}.pth")),
        size,
        attention,
        &onnx,
    )
    .expect("import");
    let depth_meta = meta.depth.as_ref().unwrap();
    assert_eq!(depth_meta.kind, DepthKind::Metric);
    assert_eq!(depth_meta.model, name);
    let backbone = Backbone::load(&onnx, 1).expect("load");
    assert_eq!(backbone.meta(), &meta);
    let depth = run_and_compare(&backbone, name, size, attention);
    // The head's depths spread inside the range, not pinned to one end.
    let (lo, hi) = depth.iter().fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(hi - lo > 0.01 * range(dataset).max, "{name}: a degenerate fixture ({lo}..{hi})");
    depth
}

/// Runs `backbone` on the fixture pixels of `size` and holds its depth to the case
/// `{reference}_{size}`; returns the depth.
fn run_and_compare(backbone: &Backbone, reference: &str, size: InputSize, attention: AttentionForm) -> Array2<f32> {
    let cases = cases();
    let pixels: Array4<f32> =
        case(&cases, &format!("pixels_{size}")).insert_axis(ndarray::Axis(0)).into_dimensionality().unwrap();
    let depth = backbone.run(pixels).expect("run").depth.expect("a depth output");
    assert_within_tolerance(&depth, &case(&cases, &format!("{reference}_{size}")), reference, size, attention);
    depth
}

fn assert_within_tolerance(
    depth: &Array2<f32>,
    expected: &ArrayD<f32>,
    reference: &str,
    size: InputSize,
    attention: AttentionForm,
) {
    assert_eq!(depth.shape(), expected.shape());
    let worst = depth.iter().zip(expected.iter()).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE, "{reference} at {size} ({attention:?}): worst relative difference {worst}");
}

#[test]
fn meta_linear_heads_match_the_reference_at_every_size() {
    for dataset in ["nyu", "kitti"] {
        for layers in ["", "4"] {
            for size in ["42x56", "70x56", "70x70"] {
                check_linear(dataset, layers, size.parse().unwrap(), AttentionForm::Decomposed);
            }
        }
    }
}

#[test]
fn meta_linear_heads_match_the_reference_with_fused_attention() {
    check_linear("nyu", "4", "42x56".parse().unwrap(), AttentionForm::Fused);
}

#[test]
fn a_backbone_saved_by_torch_save_is_read_as_its_safetensors_twin() {
    check_meta("dinov2_kitti_linear4_head", "70x56".parse().unwrap(), AttentionForm::Decomposed, "model.pth");
}

/// Meta's heads on a backbone read from facebookresearch/dinov2's own checkpoint layout
/// (`dinov2_vits14_pretrain.pth`: `attn.qkv` fused, `ls1.gamma`, …) give the reference depth.
#[test]
fn meta_heads_on_a_backbone_in_metas_own_layout_match_the_reference() {
    check_meta("dinov2_nyu_dpt_head", "42x56".parse().unwrap(), AttentionForm::Decomposed, "meta.pth");
    check_meta("dinov2_kitti_linear4_head", "70x56".parse().unwrap(), AttentionForm::Decomposed, "meta.pth");
}

/// A backbone in Meta's layout reads as its hub twin, tensor for tensor, and is run as Meta's
/// code runs it (the position embedding resampled with Meta's offset).
#[test]
fn a_backbone_in_metas_layout_reads_as_its_hub_twin() {
    let hub = DinoWeights::load(&fixtures().join("backbone/model.safetensors")).unwrap();
    let meta = DinoWeights::load(&fixtures().join("backbone/meta.pth")).unwrap();
    assert_eq!(meta.spec.pos_resample, Resample::BicubicOffset);
    assert_eq!(hub.spec.pos_resample, Resample::Bicubic);
    assert_eq!(VitSpec { pos_resample: Resample::Bicubic, ..meta.spec.clone() }, hub.spec);
    assert_eq!(
        (&meta.patch_weight, &meta.pos_embed, &meta.cls_token),
        (&hub.patch_weight, &hub.pos_embed, &hub.cls_token)
    );
    for (m, h) in meta.blocks.iter().zip(&hub.blocks) {
        for (a, b) in [(&m.query, &h.query), (&m.key, &h.key), (&m.value, &h.value), (&m.output, &h.output)] {
            assert_eq!((&a.weight, &a.bias), (&b.weight, &b.bias));
        }
        assert_eq!((&m.scale1, &m.scale2, &m.fc2.weight), (&h.scale1, &h.scale2, &h.fc2.weight));
    }
    assert_eq!((&meta.norm.weight, &meta.norm.bias), (&hub.norm.weight, &hub.norm.bias));
}

#[test]
fn meta_dpt_head_matches_meta_at_every_size_and_transformers_at_the_native_grid() {
    let name = "dinov2_nyu_dpt_head";
    for size in ["42x56", "70x56", "70x70"] {
        check_meta(name, size.parse().unwrap(), AttentionForm::Decomposed, "model.safetensors");
    }
    check_meta(name, "42x56".parse().unwrap(), AttentionForm::Fused, "model.safetensors");
    // transformers' DINOv2 resamples the position embedding without Meta's offset, so its DPT
    // is the reference at the native grid (the fixture script checks that the two DPT heads
    // agree on one backbone at every size).
    let size: InputSize = "70x70".parse().unwrap();
    let depth = check_meta(name, size, AttentionForm::Decomposed, "model.safetensors");
    let transformers = case(&cases(), "dpt_transformers_70x70");
    assert_within_tolerance(&depth, &transformers, "dpt_transformers", size, AttentionForm::Decomposed);
}

#[test]
fn a_head_of_another_kind_is_refused_naming_what_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("depth.onnx");
    let import = |kind: MetaHead, head: &str| {
        import::meta(
            "test",
            (kind, range("nyu")),
            &fixtures().join("backbone/model.safetensors"),
            &fixtures().join(head),
            "42x56".parse().unwrap(),
            AttentionForm::Decomposed,
            &out,
        )
        .unwrap_err()
        .to_string()
    };
    let err = import(MetaHead::Dpt, "dinov2_nyu_linear4_head.pth");
    assert!(err.contains("decode_head.conv_depth.head.0.weight") && err.contains("missing"), "{err}");
    let err = import(MetaHead::Linear4, "dinov2_nyu_dpt_head.pth");
    assert!(err.contains("decode_head.conv_depth.weight") && err.contains("missing"), "{err}");
    let err = import(MetaHead::Linear4, "dinov2_nyu_linear_head.pth");
    assert!(err.contains("dinov2_nyu_linear_head.pth") && err.contains("a lin.1 head; `test` is lin.4"), "{err}");
    assert!(!out.exists(), "something was written");
}

fn check_depth_anything(kind: &str, size: InputSize, attention: AttentionForm) {
    let name = format!("depth_anything_{kind}");
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("depth.onnx");
    let weights = fixtures().join(&name).join("model.safetensors");
    let expected_kind = if kind == "metric" { DepthKind::Metric } else { DepthKind::Relative };
    let max_depth = if kind == "metric" { 20.0 } else { 1.0 };
    let meta =
        import::depth_anything(&name, (expected_kind, max_depth), &weights, size, attention, &onnx).expect("import");
    assert_eq!(meta.depth.as_ref().unwrap().kind, expected_kind);
    let depth = run_and_compare(&Backbone::load(&onnx, 1).expect("load"), &name, size, attention);
    let positive = depth.iter().filter(|v| **v > 1e-3).count();
    assert!(positive > depth.len() / 10, "{name}: a degenerate fixture ({positive} positive depths)");
}

#[test]
fn depth_anything_matches_transformers_relative_and_metric_at_every_size() {
    for kind in ["relative", "metric"] {
        for size in ["42x56", "70x56", "70x70"] {
            check_depth_anything(kind, size.parse().unwrap(), AttentionForm::Decomposed);
        }
    }
    check_depth_anything("metric", "42x56".parse().unwrap(), AttentionForm::Fused);
}

/// The original repository's checkpoints (`pretrained.*` in facebookresearch/dinov2's
/// layout, `depth_head.*`) against its own `DepthAnythingV2.forward`, relative and metric.
#[test]
fn original_depth_anything_checkpoints_match_the_original_code_at_every_size() {
    for (kind, name, max_depth) in [
        (DepthKind::Relative, "depth_anything_v2_relative", 1.0),
        (DepthKind::Metric, "depth_anything_v2_metric", 20.0),
    ] {
        for (size, attention) in [
            ("70x70", AttentionForm::Decomposed),
            ("42x56", AttentionForm::Decomposed),
            ("70x56", AttentionForm::Decomposed),
            ("42x56", AttentionForm::Fused),
        ] {
            let size: InputSize = size.parse().unwrap();
            let tmp = tempfile::tempdir().unwrap();
            let onnx = tmp.path().join("depth.onnx");
            let weights = fixtures().join(format!("{name}.pth"));
            let meta =
                import::depth_anything(name, (kind, max_depth), &weights, size, attention, &onnx).expect("import");
            assert_eq!(meta.depth.as_ref().unwrap().kind, kind);
            assert_eq!(meta.spec.pos_resample, Resample::BicubicOffset, "the original code's encoder");
            let depth = run_and_compare(&Backbone::load(&onnx, 1).expect("load"), name, size, attention);
            let positive = depth.iter().filter(|v| **v > 1e-3).count();
            assert!(positive > depth.len() / 2, "{name}: a degenerate fixture ({positive} positive depths)");
        }
    }
}

/// Importing a Depth Anything `weights` fails naming `needles`, and writes nothing.
fn depth_anything_fails(weights: &Path, needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").join("depth.onnx");
    std::fs::create_dir(out.parent().unwrap()).unwrap();
    let err = import::depth_anything(
        "test",
        (DepthKind::Metric, 20.0),
        weights,
        "42x56".parse().unwrap(),
        AttentionForm::Decomposed,
        &out,
    )
    .unwrap_err()
    .to_string();
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert!(!out.exists(), "something was written");
}

#[test]
fn depth_anything_without_its_config_is_refused_naming_the_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("model.safetensors");
    std::fs::copy(fixtures().join("depth_anything_metric/model.safetensors"), &weights).unwrap();
    let config = tmp.path().join("config.json");
    depth_anything_fails(&weights, &[&config.display().to_string(), "is missing", "relative or metric"]);
}

#[test]
fn depth_anything_with_a_bad_config_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("model.safetensors");
    std::fs::copy(fixtures().join("depth_anything_metric/model.safetensors"), &weights).unwrap();
    let config = std::fs::read_to_string(fixtures().join("depth_anything_metric/config.json")).unwrap();
    let config_path = tmp.path().join("config.json");
    std::fs::write(&config_path, config.replace("\"metric\"", "\"disparity\"")).unwrap();
    depth_anything_fails(&weights, &[&config_path.display().to_string(), "depth_estimation_type", "disparity"]);
    // A relative model imported as a metric one.
    std::fs::write(&config_path, config.replace("\"metric\"", "\"relative\"")).unwrap();
    depth_anything_fails(&weights, &["depth_estimation_type", "a relative model; `test` is metric"]);
    // A DINOv2 file is not a Depth Anything model, whatever its config says.
    std::fs::copy(fixtures().join("backbone/model.safetensors"), &weights).unwrap();
    std::fs::write(&config_path, &config).unwrap();
    depth_anything_fails(&weights, &[&weights.display().to_string(), "neck.convs.0.weight", "missing"]);
}

/// Importing `head` fails with exit-65-class errors naming the file and `needles`, and
/// writes nothing.
fn import_fails(head: &Path, needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("depth.onnx");
    let err = import::meta(
        "test",
        (MetaHead::Linear4, range("nyu")),
        &fixtures().join("backbone/model.safetensors"),
        head,
        "42x56".parse().unwrap(),
        AttentionForm::Decomposed,
        &out,
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&head.display().to_string()), "{message}");
    for needle in needles {
        assert!(message.contains(needle), "`{needle}` not in: {message}");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "something was written");
}

#[test]
fn a_file_that_is_not_a_checkpoint_is_refused() {
    import_fails(&fixtures().join("bad/not_a_zip.pth"), &["not a readable weight file"]);
}

#[test]
fn a_pickle_that_would_run_code_is_refused_without_running_it() {
    // data.pkl calls `posix.system` when Python unpickles it; the reader names the class.
    import_fails(&fixtures().join("bad/code.pth"), &["not a readable weight file", "`state_dict`", "system"]);
}

#[test]
fn a_truncated_checkpoint_is_refused() {
    import_fails(&fixtures().join("bad/truncated.pth"), &["not a readable weight file"]);
}

#[test]
fn a_misshapen_tensor_is_named_with_both_shapes() {
    import_fails(
        &fixtures().join("bad/misshapen.pth"),
        &["state_dict.decode_head.conv_depth.weight", "[256, 191, 1, 1]", "lin.4"],
    );
}

#[test]
fn a_missing_tensor_is_named() {
    import_fails(&fixtures().join("bad/missing.pth"), &["state_dict.decode_head.conv_depth.bias", "missing"]);
}

#[test]
fn a_file_of_another_model_is_refused() {
    // A safetensors file, not a head at all: the anchor tensor is missing.
    import_fails(&fixtures().join("backbone/model.safetensors"), &["decode_head.conv_depth.weight", "missing"]);
}
