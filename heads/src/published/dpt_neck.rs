//! The DPT neck (Ranftl et al., "Vision Transformers for Dense Prediction") that Depth
//! Anything and Meta's DPT depth head share: chosen transformer blocks reassembled into maps
//! at four resolutions, then fused coarsest first. The two publishers store it under
//! different names and differ in three details, which [`Layout`] holds.
//!
//! - Readout (Meta's only, "project"): each patch token concatenated with the class token,
//!   a linear layer back to the width D, GELU. Computed as `patch · Wₚ + (cls · W_c + b)`,
//!   the class part once per frame, exactly up to float rounding.
//! - Reassemble: per block, the patch grid through a 1×1 convolution to its neck width,
//!   resized by its factor (×4 and ×2 by transposed convolutions, ×1 as is, ×½ by a stride-2
//!   3×3 convolution), then a 3×3 convolution without bias to the fusion width.
//! - Fusion, coarsest first: `x = RCU₂(x + RCU₁(skip))` where the skip is first resized
//!   (bilinear) to x's size when they differ; then resized (bilinear, corners aligned) — to the
//!   next finer map's size (Depth Anything) or to twice its size (Meta's DPT, as the original
//!   DPT) — and a 1×1 projection. An RCU is `x + conv(relu(conv(relu(x))))`, its convolutions
//!   with bias or not as the layout says. The first fusion step has no skip and no RCU₁.

use ndarray::{Array1, Array2, Axis, Ix1, Ix2};

use super::conv::{Bias, Conv};
use dinoedge_backbone::error::Result;
use dinoedge_backbone::onnx::graph::GraphBuilder;
use dinoedge_backbone::tensors::Scope;

/// How a level's patch grid is resized in the reassemble stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A transposed convolution with kernel = stride = the factor.
    Up(usize),
    Same,
    /// A stride-2 3×3 convolution, padding 1.
    Half,
}

impl Factor {
    /// The factors published models use: whole factors above 1, 1 and ½.
    pub fn from_f64(factor: f64) -> Option<Self> {
        if factor == 1.0 {
            Some(Factor::Same)
        } else if factor == 0.5 {
            Some(Factor::Half)
        } else if factor > 1.0 && factor.fract() == 0.0 && factor <= 64.0 {
            Some(Factor::Up(factor as usize))
        } else {
            None
        }
    }

    fn size(self, (rows, cols): (usize, usize)) -> (usize, usize) {
        match self {
            Factor::Up(k) => (rows * k, cols * k),
            Factor::Same => (rows, cols),
            Factor::Half => (rows.div_ceil(2), cols.div_ceil(2)),
        }
    }
}

/// Where each fusion step resizes its output to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsample {
    /// The next finer map's size; twice the size after the finest (Depth Anything).
    ToNext,
    /// Twice its size, always (Meta's DPT head, the original DPT).
    Double,
}

/// One publisher's names and choices. In a name, `{i}` is the level for the reassemble
/// stage (0 = finest map) and the step for the fusion stage (0 = coarsest); `{i+1}` the same
/// counted from 1, `{n-i}` the fusion step counted from the finest (n = the level count: the
/// coarsest is `n`); `{j}` the fusion step's RCU (1 or 2) and `{k}` the RCU's convolution.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// The readout projection (a linear layer), when the layout has one.
    pub readout: Option<&'static str>,
    pub projection: &'static str,
    pub resize: &'static str,
    pub to_fusion: &'static str,
    pub fusion_projection: &'static str,
    pub residual: &'static str,
    pub residual_bias: Bias,
    pub upsample: Upsample,
}

impl Layout {
    fn name(pattern: &str, (i, n): (usize, usize), j: usize, k: usize) -> String {
        pattern
            .replace("{i}", &i.to_string())
            .replace("{i+1}", &(i + 1).to_string())
            .replace("{n-i}", &(n - i).to_string())
            .replace("{j}", &j.to_string())
            .replace("{k}", &k.to_string())
    }
}

/// What the neck looks like: one entry per level, finest first.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The encoder's width D.
    pub hidden: usize,
    /// Each level's neck width.
    pub widths: Vec<usize>,
    pub factors: Vec<Factor>,
    /// The fusion width.
    pub fusion: usize,
}

impl Shape {
    /// The shape of a neck stored in `layout`'s names, for an encoder `hidden` wide with
    /// `factors` (one per level): each level's width from its projection [C, D, 1, 1], the
    /// fusion width from the finest level's 3×3 convolution [F, C, 3, 3].
    pub fn read(scope: &Scope, layout: &Layout, hidden: usize, factors: &[Factor]) -> Result<Self> {
        let n = factors.len();
        let widths = (0..n)
            .map(|i| {
                let name = format!("{}.weight", Layout::name(layout.projection, (i, n), 0, 0));
                let shape = scope.shape(&name)?;
                match shape.as_slice() {
                    [c, d, 1, 1] if *d == hidden && *c > 0 => Ok(*c),
                    _ => Err(scope.shape_error(&name, shape, &format!("[C, {hidden}, 1, 1]"))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let name = format!("{}.weight", Layout::name(layout.to_fusion, (0, n), 0, 0));
        let shape = scope.shape(&name)?;
        let fusion = match shape.as_slice() {
            [f, _, 3, 3] if *f >= 2 => *f,
            _ => return Err(scope.shape_error(&name, shape, "[F, C, 3, 3]")),
        };
        Ok(Self { hidden, widths, factors: factors.to_vec(), fusion })
    }
}

/// `gelu(patch · Wₚᵀ + cls · W_cᵀ + b)` of a linear layer [D, 2D] split in its two halves.
struct Readout {
    patch: Array2<f32>,
    class: Array2<f32>,
    bias: Array1<f32>,
}

struct Level {
    readout: Option<Readout>,
    projection: Conv,
    factor: Factor,
    resize: Option<Conv>,
    to_fusion: Conv,
}

/// `x + conv₂(relu(conv₁(relu(x))))`.
struct Residual {
    conv1: Conv,
    conv2: Conv,
}

struct Fusion {
    projection: Conv,
    /// None for the first (coarsest) step, which has no skip.
    residual1: Option<Residual>,
    residual2: Residual,
}

/// A level's input: its block's patch tokens [N, D] and, for a layout with a readout, the
/// block's class token [1, D].
pub struct Tokens {
    pub patches: String,
    pub class: Option<String>,
}

pub struct Neck {
    levels: Vec<Level>,
    fusion: Vec<Fusion>,
    upsample: Upsample,
}

impl Neck {
    /// Reads the neck of `shape` from `scope` in `layout`'s names, every shape checked.
    pub fn load(scope: &Scope, layout: &Layout, shape: &Shape) -> Result<Self> {
        let (d, f, n) = (shape.hidden, shape.fusion, shape.widths.len());
        let name = |pattern: &str, i: usize| Layout::name(pattern, (i, n), 0, 0);
        let levels = shape
            .widths
            .iter()
            .zip(&shape.factors)
            .enumerate()
            .map(|(i, (&c, &factor))| {
                let readout = match layout.readout {
                    Some(pattern) => {
                        let stem = name(pattern, i);
                        let weight = scope.get(&format!("{stem}.weight"), &[d, 2 * d])?;
                        let weight = weight.into_dimensionality::<Ix2>().expect("shape checked");
                        let bias = scope.get(&format!("{stem}.bias"), &[d])?;
                        Some(Readout {
                            patch: weight.slice(ndarray::s![.., ..d]).t().to_owned(),
                            class: weight.slice(ndarray::s![.., d..]).t().to_owned(),
                            bias: bias.into_dimensionality::<Ix1>().expect("shape checked"),
                        })
                    }
                    None => None,
                };
                let stem = name(layout.resize, i);
                let resize = match factor {
                    Factor::Up(k) => Some(Conv::read_shaped(scope, &stem, [c, c, k, k], Bias::Yes, c)?),
                    Factor::Same => None,
                    Factor::Half => Some(Conv::read(scope, &stem, c, c, 3, Bias::Yes)?),
                };
                Ok(Level {
                    readout,
                    projection: Conv::read(scope, &name(layout.projection, i), c, d, 1, Bias::Yes)?,
                    factor,
                    resize,
                    to_fusion: Conv::read(scope, &name(layout.to_fusion, i), f, c, 3, Bias::No)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let residual = |i: usize, j: usize| -> Result<Residual> {
            let conv = |k: usize| {
                Conv::read(scope, &Layout::name(layout.residual, (i, n), j, k), f, f, 3, layout.residual_bias)
            };
            Ok(Residual { conv1: conv(1)?, conv2: conv(2)? })
        };
        let fusion = (0..n)
            .map(|i| {
                Ok(Fusion {
                    projection: Conv::read(scope, &name(layout.fusion_projection, i), f, f, 1, Bias::Yes)?,
                    residual1: if i == 0 { None } else { Some(residual(i, 1)?) },
                    residual2: residual(i, 2)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { levels, fusion, upsample: layout.upsample })
    }

    /// The fusion width.
    pub fn width(&self) -> usize {
        self.levels[0].to_fusion.weight.dim().0
    }

    /// Appends the neck for a `rows` × `cols` patch grid; `tokens` are the levels' inputs,
    /// finest first. Returns the fused maps [1, F, h, w] with their sizes, coarsest first.
    pub fn append(
        &self,
        g: &mut GraphBuilder,
        tokens: &[Tokens],
        (rows, cols): (usize, usize),
    ) -> Vec<(String, (usize, usize))> {
        let mut maps = Vec::new();
        for (level, input) in self.levels.iter().zip(tokens) {
            let patches = match (&level.readout, &input.class) {
                (Some(readout), Some(class)) => {
                    let w_patch = g.constant("readout_patch", readout.patch.view());
                    let w_class = g.constant("readout_class", readout.class.view());
                    let bias = g.constant("readout_bias", readout.bias.view().insert_axis(Axis(0)));
                    let per_patch = g.matmul(&input.patches, &w_patch);
                    let per_frame = g.matmul(class, &w_class);
                    let per_frame = g.add(&per_frame, &bias);
                    let x = g.add(&per_patch, &per_frame);
                    g.node("Gelu", &[&x], &[])
                }
                _ => input.patches.clone(),
            };
            let grid = g.transpose(&patches, &[1, 0]);
            let grid = g.reshape(&grid, &[1, -1, rows as i64, cols as i64]);
            let x = level.projection.apply(g, &grid, 1, 0);
            let x = match (level.factor, &level.resize) {
                (Factor::Up(_), Some(conv)) => conv.apply_transposed(g, &x),
                (Factor::Half, Some(conv)) => conv.apply(g, &x, 2, 1),
                _ => x,
            };
            maps.push((level.to_fusion.apply(g, &x, 1, 1), level.factor.size((rows, cols))));
        }
        maps.reverse();
        let f = self.width();
        let mut fused: Vec<(String, (usize, usize))> = Vec::new();
        for (i, (layer, (map, size))) in self.fusion.iter().zip(&maps).enumerate() {
            let (x, current) = match (fused.last(), &layer.residual1) {
                (Some((previous, previous_size)), Some(residual1)) => {
                    let skip = if previous_size == size {
                        map.clone()
                    } else {
                        g.resize_bilinear(map, [1, f, previous_size.0, previous_size.1], false)
                    };
                    let skip = residual(g, residual1, &skip);
                    (g.add(previous, &skip), *previous_size)
                }
                _ => (map.clone(), *size),
            };
            let x = residual(g, &layer.residual2, &x);
            let doubled = (current.0 * 2, current.1 * 2);
            let next = match self.upsample {
                Upsample::ToNext => maps.get(i + 1).map_or(doubled, |(_, s)| *s),
                Upsample::Double => doubled,
            };
            let x = g.resize_bilinear(&x, [1, f, next.0, next.1], true);
            fused.push((layer.projection.apply(g, &x, 1, 0), next));
        }
        fused
    }
}

fn residual(g: &mut GraphBuilder, layer: &Residual, x: &str) -> String {
    let h = g.node("Relu", &[x], &[]);
    let h = layer.conv1.apply(g, &h, 1, 1);
    let h = g.node("Relu", &[&h], &[]);
    let h = layer.conv2.apply(g, &h, 1, 1);
    g.add(x, &h)
}
