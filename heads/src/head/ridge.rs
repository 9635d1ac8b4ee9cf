//! Ridge regression of log depth on features: the closed-form fit both the depth head's
//! initialiser (`train`) and the pixel baseline (`pixels`) start from.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Ridge regression of log depth on rows of `x`: ŷ = x·w + offset. Uses at most 20 000
/// rows, evenly spread (the Gram matrix costs rows × F²); `ridge` is relative to the mean
/// feature energy. The Gram matrix is ndarray's product, solved by Cholesky in nalgebra.
pub fn ridge_log_depth(x: ArrayView2<f32>, y: ArrayView1<f32>, ridge: f64) -> (Array1<f32>, f32) {
    let f = x.ncols();
    let step = x.nrows().div_ceil(20_000).max(1);
    let rows: Vec<usize> = (0..x.nrows()).step_by(step).collect();
    let n = rows.len() as f64;
    let mean_f: Vec<f64> = (0..f).map(|j| rows.iter().map(|&i| x[[i, j]] as f64).sum::<f64>() / n).collect();
    let mean_y = rows.iter().map(|&i| (y[i] as f64).ln()).sum::<f64>() / n;
    let xc = Array2::<f64>::from_shape_fn((rows.len(), f), |(r, j)| x[[rows[r], j]] as f64 - mean_f[j]);
    let yc = Array1::<f64>::from_shape_fn(rows.len(), |r| (y[rows[r]] as f64).ln() - mean_y);
    let mut gram = xc.t().dot(&xc);
    let energy = gram.diag().sum() / f as f64;
    gram.diag_mut().mapv_inplace(|d| d + ridge * energy.max(1e-12));
    let xty = xc.t().dot(&yc);
    // The Gram matrix is symmetric: its row-major elements are its column-major ones.
    let w = nalgebra::DMatrix::from_iterator(f, f, gram.iter().copied())
        .cholesky()
        .map(|llt| llt.solve(&nalgebra::DVector::from_iterator(f, xty.iter().copied())))
        // Singular even with the ridge: predict the mean.
        .unwrap_or_else(|| nalgebra::DVector::zeros(f));
    let offset = mean_y - (0..f).map(|j| mean_f[j] * w[j]).sum::<f64>();
    (Array1::from_shape_fn(f, |j| w[j] as f32), offset as f32)
}
