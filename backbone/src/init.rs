//! `dinoedge model init --random`: a full-size DINOv2 weight file with random weights, in
//! the Hugging Face layout, initialised as the reference's `_init_weights` does (truncated
//! normal, std 0.02, cut at ±2, for the linear and convolution weights, the class and
//! register tokens and the position embedding; zero biases and mask token; LayerNorm 1/0;
//! LayerScale `layerscale_value` = 1.0). It goes through the same import path as the real
//! weights. The same seed gives the same bytes.

use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use safetensors::{Dtype, tensor::TensorView};

use crate::error::{ModelError, Result};
use crate::files::{f32_to_le, write_atomically};
use crate::vit::layout::{self, BLOCK_TENSORS};
use crate::vit::{Arch, VitSpec};

const INITIALIZER_RANGE: f32 = 0.02;
const LAYERSCALE_VALUE: f32 = 1.0;

/// How one tensor starts.
pub enum Fill {
    TruncNormal,
    Zeros,
    Ones,
    LayerScale,
    /// Uniform in ±bound (torch's default for a convolution: bound = 1/√fan_in).
    Uniform(f32),
}

/// A tensor to draw: its name, shape and how it starts.
pub type Draw = (String, Vec<usize>, Fill);

/// The tensors of a model, in the order their values are drawn.
pub fn tensors(spec: &VitSpec) -> Vec<Draw> {
    let (d, m, p) = (spec.hidden, spec.mlp_hidden, spec.patch);
    let mut out = vec![
        (layout::CLS_TOKEN.to_string(), vec![1, 1, d], Fill::TruncNormal),
        (layout::MASK_TOKEN.to_string(), vec![1, d], Fill::Zeros),
        (layout::POSITION_EMBEDDINGS.to_string(), vec![1, 1 + spec.pos_grid * spec.pos_grid, d], Fill::TruncNormal),
        (layout::PATCH_WEIGHT.to_string(), vec![d, 3, p, p], Fill::TruncNormal),
        (layout::PATCH_BIAS.to_string(), vec![d], Fill::Zeros),
    ];
    if spec.registers > 0 {
        out.push((layout::REGISTER_TOKENS.to_string(), vec![1, spec.registers, d], Fill::TruncNormal));
    }
    for i in 0..spec.depth {
        for name in BLOCK_TENSORS {
            let (shape, fill) = match name {
                n if n.starts_with("norm") && n.ends_with("weight") => (vec![d], Fill::Ones),
                n if n.starts_with("layer_scale") => (vec![d], Fill::LayerScale),
                "mlp.fc1.weight" => (vec![m, d], Fill::TruncNormal),
                "mlp.fc1.bias" => (vec![m], Fill::Zeros),
                "mlp.fc2.weight" => (vec![d, m], Fill::TruncNormal),
                n if n.ends_with("weight") => (vec![d, d], Fill::TruncNormal),
                _ => (vec![d], Fill::Zeros),
            };
            out.push((layout::block_tensor(i, name), shape, fill));
        }
    }
    out.push((layout::NORM_WEIGHT.to_string(), vec![d], Fill::Ones));
    out.push((layout::NORM_BIAS.to_string(), vec![d], Fill::Zeros));
    out
}

/// The safetensors bytes of a random model.
pub fn random_weights(arch: Arch, registers: usize, seed: u64) -> Vec<u8> {
    draw(tensors(&VitSpec::new(arch, registers)), seed)
}

/// The safetensors bytes of `tensors`, drawn in order from one generator seeded with `seed`.
pub fn draw(tensors: Vec<Draw>, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, INITIALIZER_RANGE).expect("a positive std");
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, fill)| {
            let len: usize = shape.iter().product();
            let values: Vec<f32> = match fill {
                // torch's trunc_normal_(std=0.02, a=-2, b=2): the cut is at ±2 absolute.
                Fill::TruncNormal => (0..len)
                    .map(|_| {
                        loop {
                            let v = normal.sample(&mut rng);
                            if (-2.0..=2.0).contains(&v) {
                                break v;
                            }
                        }
                    })
                    .collect(),
                Fill::Zeros => vec![0.0; len],
                Fill::Ones => vec![1.0; len],
                Fill::LayerScale => vec![LAYERSCALE_VALUE; len],
                Fill::Uniform(bound) => {
                    let uniform = rand_distr::Uniform::new_inclusive(-bound, bound).expect("a finite bound");
                    (0..len).map(|_| uniform.sample(&mut rng)).collect()
                }
            };
            (name, shape, f32_to_le(&values))
        })
        .collect();
    let views = data.iter().map(|(name, shape, bytes)| {
        (name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).expect("shape matches the byte count"))
    });
    // One metadata entry only: safetensors writes the map in hash order, so a second
    // entry would make the bytes differ from run to run.
    let info = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(info)).expect("in-memory serialisation cannot fail")
}

/// Writes a random model to `out` (atomically).
pub fn write_random(arch: Arch, registers: usize, seed: u64, out: &Path) -> Result<()> {
    if registers > 16 {
        return Err(ModelError::Config {
            path: out.to_path_buf(),
            field: "registers".into(),
            reason: format!("{registers} register tokens; DINOv2 uses 0 or 4"),
        });
    }
    write_atomically(out, &random_weights(arch, registers, seed))
}
