//! Bilinear resampling of a patch-grid map to the frame's size, with half-pixel centres
//! (as torch's `align_corners=False`): each grid cell is the centre of its patch.

use ndarray::{Array2, ArrayView2};

pub fn bilinear(grid: ArrayView2<f32>, height: usize, width: usize) -> Array2<f32> {
    let (rows, cols) = grid.dim();
    let (ys, xs) = (coords(height, rows), coords(width, cols));
    Array2::from_shape_fn((height, width), |(y, x)| {
        let ((y0, y1, fy), (x0, x1, fx)) = (ys[y], xs[x]);
        let top = grid[[y0, x0]] * (1.0 - fx) + grid[[y0, x1]] * fx;
        let bottom = grid[[y1, x0]] * (1.0 - fx) + grid[[y1, x1]] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// For each of `out` output positions along one axis of `input` grid cells: the two cells it
/// lies between and the weight of the second.
pub fn coords(out: usize, input: usize) -> Vec<(usize, usize, f32)> {
    let scale = input as f32 / out as f32;
    (0..out)
        .map(|o| {
            let x = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (input - 1) as f32);
            let i0 = x.floor() as usize;
            let i1 = (i0 + 1).min(input - 1);
            (i0, i1, x - i0 as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn upsampling_interpolates_between_patch_centres() {
        let grid = array![[0.0f32, 2.0]];
        let out = bilinear(grid.view(), 1, 4);
        // Output pixel centres at 0.125, 0.375, 0.625, 0.875 of the width; patch centres at 0.25, 0.75.
        assert_eq!(out.row(0).to_vec(), vec![0.0, 0.5, 1.5, 2.0]);
        assert_eq!(bilinear(grid.view(), 1, 2), grid);
    }
}
