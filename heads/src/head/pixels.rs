//! The pixel baseline: a ridge regression of log depth on each patch's own input pixels
//! (3 × 14 × 14 normalised values), with no backbone features. Evaluated next to a head,
//! it shows what the features add over colour and position-free texture.

use ndarray::{Array1, Array2, Array4, ArrayView2};

use super::ridge::ridge_log_depth;

#[derive(Debug, Clone, PartialEq)]
pub struct PixelBaseline {
    /// [3 · patch · patch]
    pub weight: Array1<f32>,
    pub bias: f32,
}

/// Each patch's pixels of a normalised [1, 3, H, W] input, row-major patches: [N, 3·p·p].
pub fn patch_pixels(input: &Array4<f32>, patch: usize) -> Array2<f32> {
    let (_, channels, h, w) = input.dim();
    let (rows, cols) = (h / patch, w / patch);
    Array2::from_shape_fn((rows * cols, channels * patch * patch), |(n, j)| {
        let (r, c) = (n / cols, n % cols);
        let (ch, within) = (j / (patch * patch), j % (patch * patch));
        input[[0, ch, r * patch + within / patch, c * patch + within % patch]]
    })
}

impl PixelBaseline {
    /// Fits the baseline on stacked patch pixels and their valid depths.
    pub fn fit(pixels: ArrayView2<f32>, depth: ndarray::ArrayView1<f32>, ridge: f64) -> Self {
        let (weight, bias) = ridge_log_depth(pixels, depth, ridge);
        Self { weight, bias }
    }

    /// Depth per patch, metres.
    pub fn depth(&self, pixels: ArrayView2<f32>) -> Array1<f32> {
        (pixels.dot(&self.weight) + self.bias).mapv(f32::exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_are_cut_row_major_channel_first() {
        let input = Array4::from_shape_fn((1, 3, 4, 6), |(_, c, y, x)| (c * 100 + y * 10 + x) as f32);
        let p = patch_pixels(&input, 2);
        assert_eq!(p.dim(), (6, 12));
        // Patch 4 is row 1, column 1: pixels (2..4, 2..4).
        assert_eq!(p.row(4).to_vec()[..4], [22.0, 23.0, 32.0, 33.0]);
        assert_eq!(p[[4, 4]], 122.0, "then the second channel");
    }

    #[test]
    fn a_pixel_baseline_learns_brightness_to_depth() {
        // Depth = exp(2 × mean pixel value) on random patches.
        let pixels = Array2::from_shape_fn((200, 12), |(n, j)| ((n * 7 + j * 3) % 11) as f32 / 10.0 - 0.5);
        let depth = pixels.mean_axis(ndarray::Axis(1)).unwrap().mapv(|m| (2.0 * m).exp());
        let b = PixelBaseline::fit(pixels.view(), depth.view(), 1e-9);
        let predicted = b.depth(pixels.view());
        assert!(predicted.iter().zip(&depth).all(|(p, d)| (p / d - 1.0).abs() < 1e-3));
    }
}
