//! `dinoedge model init --random --depth NAME`: a full-size published depth model with random
//! weights in its layout, for tests, benchmarks and the offline demo: it goes through the
//! same import path as the published files. Depth Anything V2 Small in transformers' layout
//! (`model.safetensors` and `config.json` in a folder); one of Meta's heads for ViT-S/14 as
//! `head.safetensors`, its checkpoint's tensor names (`state_dict.decode_head.…`) in a
//! safetensors container (the `.pth` container is read by the same reader, tested on the
//! committed fixtures), imported with a backbone that `init` makes without `--depth`. The encoder is initialised as DINOv2's reference does
//! ([`dinoedge_backbone::init`]); the neck and head as torch initialises a convolution
//! (weights and biases uniform in ±1/√fan_in), not as transformers' `_init_weights` does
//! (normal, std 0.02, zero biases), whose random model outputs zero everywhere: the random
//! model's depth has to vary for the daemon and calibration to have something to work on.
//! The same seed gives the same bytes.

use std::path::{Path, PathBuf};

use dinoedge_backbone::error::Result;
use dinoedge_backbone::files::write_atomically;
use dinoedge_backbone::init::{self, Draw, Fill};
use dinoedge_backbone::onnx::meta::DepthKind;
use dinoedge_backbone::vit::{Arch, VitSpec};

use super::bn_head::BINS;
use super::catalog::MetaHead;

/// Depth Anything V2 Small's neck and head (transformers' defaults).
const NECK: [usize; 4] = [48, 96, 192, 384];
const FACTORS: [f64; 4] = [4.0, 2.0, 1.0, 0.5];
const FUSION: usize = 64;
const HEAD: usize = 32;
const BLOCKS: [usize; 4] = [3, 6, 9, 12];

/// A convolution or linear layer's `{stem}.weight` of `shape` ([out, in, …]) and its bias,
/// uniform in ±1/√fan_in as torch initialises them.
fn layer(out: &mut Vec<Draw>, stem: &str, shape: &[usize], bias: bool) {
    let bound = 1.0 / (shape[1..].iter().product::<usize>() as f32).sqrt();
    out.push((format!("{stem}.weight"), shape.to_vec(), Fill::Uniform(bound)));
    if bias {
        out.push((format!("{stem}.bias"), vec![shape[0]], Fill::Uniform(bound)));
    }
}

fn depth_anything(spec: &VitSpec) -> Vec<Draw> {
    let d = spec.hidden;
    let mut out: Vec<Draw> =
        init::tensors(spec).into_iter().map(|(name, shape, fill)| (format!("backbone.{name}"), shape, fill)).collect();
    for (i, (&c, &factor)) in NECK.iter().zip(&FACTORS).enumerate() {
        let stem = format!("neck.reassemble_stage.layers.{i}");
        layer(&mut out, &format!("{stem}.projection"), &[c, d, 1, 1], true);
        if factor > 1.0 {
            let k = factor as usize;
            layer(&mut out, &format!("{stem}.resize"), &[c, c, k, k], true);
        } else if factor < 1.0 {
            layer(&mut out, &format!("{stem}.resize"), &[c, c, 3, 3], true);
        }
    }
    for (i, &c) in NECK.iter().enumerate() {
        layer(&mut out, &format!("neck.convs.{i}"), &[FUSION, c, 3, 3], false);
    }
    for i in 0..NECK.len() {
        let stem = format!("neck.fusion_stage.layers.{i}");
        layer(&mut out, &format!("{stem}.projection"), &[FUSION, FUSION, 1, 1], true);
        for residual in ["residual_layer1", "residual_layer2"] {
            for c in ["convolution1", "convolution2"] {
                layer(&mut out, &format!("{stem}.{residual}.{c}"), &[FUSION, FUSION, 3, 3], true);
            }
        }
    }
    layer(&mut out, "head.conv1", &[FUSION / 2, FUSION, 3, 3], true);
    layer(&mut out, "head.conv2", &[HEAD, FUSION / 2, 3, 3], true);
    layer(&mut out, "head.conv3", &[1, HEAD, 1, 1], true);
    out
}

/// transformers' `config.json` for the model.
fn config(output: DepthKind, max_depth: f32) -> String {
    let kind = output.as_str();
    serde_json::json!({
        "model_type": "depth_anything",
        "architectures": ["DepthAnythingForDepthEstimation"],
        "backbone_config": {
            "model_type": "dinov2",
            "hidden_size": 384,
            "num_attention_heads": 6,
            "num_hidden_layers": 12,
            "mlp_ratio": 4,
            "image_size": 518,
            "patch_size": 14,
            "layer_norm_eps": 1e-6,
            "hidden_act": "gelu",
            "out_indices": BLOCKS,
            "apply_layernorm": true,
            "reshape_hidden_states": false
        },
        "patch_size": 14,
        "reassemble_hidden_size": 384,
        "reassemble_factors": FACTORS,
        "neck_hidden_sizes": NECK,
        "fusion_hidden_size": FUSION,
        "head_in_index": -1,
        "head_hidden_size": HEAD,
        "depth_estimation_type": kind,
        "max_depth": max_depth
    })
    .to_string()
}

/// Writes `model.safetensors` and `config.json` of a random Depth Anything V2 Small (its
/// output and `max_depth` as given) into the folder `out`, each atomically.
pub fn write_random_depth_anything(output: DepthKind, max_depth: f32, seed: u64, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(dinoedge_backbone::ModelError::io(out))?;
    let spec = VitSpec::new(Arch::Small, 0);
    write_atomically(&out.join("model.safetensors"), &init::draw(depth_anything(&spec), seed))?;
    write_atomically(&out.join("config.json"), config(output, max_depth).as_bytes())
}

/// Meta's DPT head for ViT-S/14 (`_make_dinov2_dpt_depth_head`): neck widths D/8 … D, fusion
/// width 256, HeadDepth's hidden width 32.
fn dpt(spec: &VitSpec) -> Vec<Draw> {
    const FUSION: usize = 256;
    let d = spec.hidden;
    let mut out = Vec::new();
    let stem = |name: String| format!("state_dict.decode_head.{name}");
    for i in 0..4 {
        let c = d >> (3 - i);
        layer(&mut out, &stem(format!("reassemble_blocks.readout_projects.{i}.0")), &[d, 2 * d], true);
        layer(&mut out, &stem(format!("reassemble_blocks.projects.{i}.conv")), &[c, d, 1, 1], true);
        // ×4 and ×2 transposed (kernel = stride), ×1 none, ×½ a stride-2 3×3.
        if let Some(k) = [Some(4), Some(2), None, Some(3)][i] {
            layer(&mut out, &stem(format!("reassemble_blocks.resize_layers.{i}")), &[c, c, k, k], true);
        }
        layer(&mut out, &stem(format!("convs.{i}.conv")), &[FUSION, c, 3, 3], false);
    }
    for i in 0..4 {
        layer(&mut out, &stem(format!("fusion_blocks.{i}.project.conv")), &[FUSION, FUSION, 1, 1], true);
        for unit in if i == 0 { 2..=2 } else { 1..=2 } {
            for k in 1..=2 {
                let name = stem(format!("fusion_blocks.{i}.res_conv_unit{unit}.conv{k}.conv"));
                layer(&mut out, &name, &[FUSION, FUSION, 3, 3], false);
            }
        }
    }
    layer(&mut out, &stem("project.conv".into()), &[FUSION, FUSION, 3, 3], true);
    layer(&mut out, &stem("conv_depth.head.0".into()), &[FUSION / 2, FUSION, 3, 3], true);
    layer(&mut out, &stem("conv_depth.head.2".into()), &[32, FUSION / 2, 3, 3], true);
    layer(&mut out, &stem("conv_depth.head.4".into()), &[1, 32, 1, 1], true);
    out
}

/// Writes a random head of Meta's of `kind`, for a ViT-S/14 backbone, as `head.safetensors`
/// in the folder `out` (atomically); returns its path.
pub fn write_random_meta_head(kind: MetaHead, seed: u64, out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(dinoedge_backbone::ModelError::io(out))?;
    let spec = VitSpec::new(Arch::Small, 0);
    let tensors = match kind {
        MetaHead::Linear1 | MetaHead::Linear4 => {
            let blocks = if kind == MetaHead::Linear1 { 1 } else { 4 };
            let mut tensors = Vec::new();
            let name = "state_dict.decode_head.conv_depth";
            layer(&mut tensors, name, &[BINS, 2 * spec.hidden * blocks, 1, 1], true);
            tensors
        }
        MetaHead::Dpt => dpt(&spec),
    };
    let path = out.join("head.safetensors");
    write_atomically(&path, &init::draw(tensors, seed))?;
    Ok(path)
}
