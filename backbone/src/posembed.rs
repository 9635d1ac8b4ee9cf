//! Resampling of the position embedding to another patch grid, exactly as the reference
//! (Hugging Face transformers on torch, or facebookresearch/dinov2's own backbone) does it, so
//! that the constant baked into the ONNX graph is the one the reference computes at run time.
//!
//! - `Dinov2Model` calls `F.interpolate(size=…, mode="bicubic", align_corners=False)`:
//!   Keys' cubic convolution with a = −0.75, sampling at `(dst + 0.5)·in/out − 0.5`, four
//!   taps, indices clamped at the border.
//! - `Dinov2WithRegistersModel` adds `antialias=True`: torch then uses a separable filter
//!   with a = −0.5 (as PIL does), its support widened by the scale when shrinking, taps
//!   clipped to the grid and weights normalised to sum to one.
//!
//! - facebookresearch/dinov2's hub backbones without registers (what Meta's depth heads were
//!   trained on) pass a scale factor `(out + 0.1) / in` instead of the size (its
//!   `interpolate_offset`), and torch samples with that factor: at `(dst + 0.5) / factor −
//!   0.5`, otherwise as `Bicubic`. On a 5 → 3 grid that moves the tokens by about 1 % of
//!   their size; Meta's heads are imported with it.
//!
//! All skip the resampling when the grid is unchanged and the input is square.

use ndarray::{Array3, ArrayView3, Axis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    Bicubic,
    BicubicAntialias,
    /// facebookresearch/dinov2's `interpolate_offset = 0.1`.
    BicubicOffset,
}

/// What facebookresearch/dinov2 adds to the output size to make its scale factor.
const META_OFFSET: f64 = 0.1;

/// Resamples `grid` ([rows, cols, channels]) to [out_rows, out_cols, channels].
pub fn resample(grid: ArrayView3<f32>, out_rows: usize, out_cols: usize, mode: Resample) -> Array3<f32> {
    let (rows, cols, _) = grid.dim();
    let row_taps = taps(rows, out_rows, mode);
    let col_taps = taps(cols, out_cols, mode);
    let by_rows = apply(grid, Axis(0), &row_taps);
    apply(by_rows.view(), Axis(1), &col_taps)
}

/// For each output index along one axis: the input indices it reads and their weights.
type Taps = Vec<Vec<(usize, f64)>>;

fn taps(input: usize, output: usize, mode: Resample) -> Taps {
    let scale = match mode {
        Resample::BicubicOffset => input as f64 / (output as f64 + META_OFFSET),
        Resample::Bicubic | Resample::BicubicAntialias => input as f64 / output as f64,
    };
    (0..output)
        .map(|i| match mode {
            Resample::Bicubic | Resample::BicubicOffset => {
                const A: f64 = -0.75;
                let real = scale * (i as f64 + 0.5) - 0.5;
                let base = real.floor();
                let t = real - base;
                let weights = [cubic_far(t + 1.0, A), cubic_near(t, A), cubic_near(1.0 - t, A), cubic_far(2.0 - t, A)];
                weights
                    .iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let index = (base as i64 - 1 + k as i64).clamp(0, input as i64 - 1) as usize;
                        (index, *w)
                    })
                    .collect()
            }
            Resample::BicubicAntialias => {
                const A: f64 = -0.5;
                let support = if scale >= 1.0 { 2.0 * scale } else { 2.0 };
                let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
                let center = scale * (i as f64 + 0.5);
                // torch truncates these toward zero, then clips them to the grid.
                let min = ((center - support + 0.5) as i64).max(0) as usize;
                let max = ((center + support + 0.5) as i64).min(input as i64) as usize;
                let raw: Vec<(usize, f64)> = (min..max)
                    .map(|j| {
                        let x = ((j as f64 - center + 0.5) * invscale).abs();
                        let w = if x < 1.0 {
                            cubic_near(x, A)
                        } else if x < 2.0 {
                            cubic_far(x, A)
                        } else {
                            0.0
                        };
                        (j, w)
                    })
                    .collect();
                let total: f64 = raw.iter().map(|(_, w)| w).sum();
                raw.into_iter().map(|(j, w)| (j, if total != 0.0 { w / total } else { w })).collect()
            }
        })
        .collect()
}

/// Keys' cubic for |x| ≤ 1.
fn cubic_near(x: f64, a: f64) -> f64 {
    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
}

/// Keys' cubic for 1 < |x| < 2.
fn cubic_far(x: f64, a: f64) -> f64 {
    ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
}

fn apply(input: ArrayView3<f32>, axis: Axis, taps: &Taps) -> Array3<f32> {
    let mut shape = input.raw_dim();
    shape[axis.index()] = taps.len();
    let mut out = Array3::<f32>::zeros(shape);
    for (o, taps) in taps.iter().enumerate() {
        let mut lane = out.index_axis_mut(axis, o);
        let mut acc = ndarray::Array2::<f64>::zeros(lane.raw_dim());
        for &(index, weight) in taps {
            acc.zip_mut_with(&input.index_axis(axis, index), |a, &x| *a += weight * x as f64);
        }
        lane.zip_mut_with(&acc, |y, &a| *y = a as f32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn same_grid_is_identity_in_both_modes() {
        let grid = Array3::from_shape_fn((5, 5, 2), |(r, c, k)| (r * 10 + c) as f32 + k as f32 * 0.5);
        for mode in [Resample::Bicubic, Resample::BicubicAntialias] {
            assert_eq!(resample(grid.view(), 5, 5, mode), grid);
        }
    }

    #[test]
    fn constant_grids_stay_constant() {
        let grid = Array3::from_elem((37, 37, 3), 0.25f32);
        for mode in [Resample::Bicubic, Resample::BicubicAntialias, Resample::BicubicOffset] {
            for (r, c) in [(16, 16), (64, 48), (3, 40)] {
                let out = resample(grid.view(), r, c, mode);
                assert_eq!(out.dim(), (r, c, 3));
                assert!(out.iter().all(|v| (v - 0.25).abs() < 1e-6), "{mode:?} {r}x{c}");
            }
        }
    }
}
