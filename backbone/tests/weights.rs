//! Weight files in the layouts found in the wild read to the same model: the hub's names,
//! transformers 5's renamed attention weights, a `dinov2.` prefix (classification
//! checkpoints), and F16/BF16 storage; a broken `config.json` is named with its line.

use std::path::Path;

use dinoedge_backbone::files::f32_from_le;
use dinoedge_backbone::vit::DinoWeights;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/dinov2")
}

/// Rewrites the fixture's weights into `dir/model.safetensors` (with its config.json),
/// renaming each tensor with `rename` and re-encoding its f32 values with `encode`.
fn rewrite(dir: &Path, rename: impl Fn(&str) -> String, dtype: Dtype, encode: impl Fn(f32) -> Vec<u8>) {
    let bytes = std::fs::read(fixture_dir().join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = f32_from_le(view.data()).into_iter().flat_map(&encode);
            (rename(&name), view.shape().to_vec(), values.collect())
        })
        .collect();
    let views = data.iter().map(|(n, s, b)| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap()));
    std::fs::write(dir.join("model.safetensors"), safetensors::serialize(views, None).unwrap()).unwrap();
    std::fs::copy(fixture_dir().join("config.json"), dir.join("config.json")).unwrap();
}

fn load(dir: &Path) -> DinoWeights {
    DinoWeights::load(&dir.join("model.safetensors")).unwrap()
}

fn assert_same_model(a: &DinoWeights, b: &DinoWeights) {
    assert_eq!(a.spec, b.spec);
    assert_eq!(a.pos_embed, b.pos_embed);
    assert_eq!(a.patch_weight, b.patch_weight);
    for (x, y) in a.blocks.iter().zip(&b.blocks) {
        assert_eq!(x.query.weight, y.query.weight);
        assert_eq!(x.output.bias, y.output.bias);
        assert_eq!(x.fc2.weight, y.fc2.weight);
        assert_eq!(x.scale2, y.scale2);
    }
    assert_eq!(a.norm.weight, b.norm.weight);
}

#[test]
fn transformers5_names_and_a_model_prefix_read_as_the_hub_layout() {
    let reference = load(&fixture_dir());
    let tmp = tempfile::tempdir().unwrap();
    let renamed = |n: &str| {
        let n = n
            .replace("attention.attention.query.", "attention.q_proj.")
            .replace("attention.attention.key.", "attention.k_proj.")
            .replace("attention.attention.value.", "attention.v_proj.")
            .replace("attention.output.dense.", "attention.o_proj.");
        format!("dinov2.{n}")
    };
    rewrite(tmp.path(), renamed, Dtype::F32, |v| v.to_le_bytes().to_vec());
    assert_same_model(&load(tmp.path()), &reference);
}

#[test]
fn half_precision_files_read_as_their_exact_values() {
    let reference = load(&fixture_dir());
    for (dtype, round) in [
        (Dtype::F16, (|v: f32| half::f16::from_f32(v).to_f32()) as fn(f32) -> f32),
        (Dtype::BF16, |v: f32| half::bf16::from_f32(v).to_f32()),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let encode = move |v: f32| match dtype {
            Dtype::F16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
            _ => half::bf16::from_f32(v).to_le_bytes().to_vec(),
        };
        rewrite(tmp.path(), |n| n.to_string(), dtype, encode);
        let halved = load(tmp.path());
        assert_eq!(halved.blocks[1].fc1.weight, reference.blocks[1].fc1.weight.mapv(round), "{dtype:?}");
        assert_eq!(halved.pos_embed, reference.pos_embed.mapv(round), "{dtype:?}");
    }
}

#[test]
fn a_broken_config_json_is_named_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    rewrite(tmp.path(), |n| n.to_string(), Dtype::F32, |v| v.to_le_bytes().to_vec());
    std::fs::write(tmp.path().join("config.json"), "{\n  \"num_attention_heads\": 2,\n  \"hidden_act\": gelu\n}\n")
        .unwrap();
    let err = DinoWeights::load(&tmp.path().join("model.safetensors")).unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("line 3"), "{err}");
}

#[test]
fn a_head_count_that_does_not_divide_the_width_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    rewrite(tmp.path(), |n| n.to_string(), Dtype::F32, |v| v.to_le_bytes().to_vec());
    std::fs::write(tmp.path().join("config.json"), r#"{"model_type": "dinov2", "num_attention_heads": 5}"#).unwrap();
    let err = DinoWeights::load(&tmp.path().join("model.safetensors")).unwrap_err().to_string();
    assert!(err.contains("num_attention_heads") && err.contains("5 heads do not divide the width 24"), "{err}");
}
