//! The standard monocular depth metrics (Eigen et al. 2014), over the valid pixels of a
//! whole set: each valid ground-truth pixel counts once, whatever image it is in.
//!
//! AbsRel = mean |p − g| / g; SqRel = mean (p − g)² / g; RMSE = √mean (p − g)²;
//! RMSE log = √mean (ln p − ln g)²; log10 = mean |log₁₀ p − log₁₀ g|;
//! δ < t = share of pixels with max(p/g, g/p) < t for t = 1.25, 1.25², 1.25³.
//! Predictions are clamped to at least 1 mm before logs and ratios.

use ndarray::ArrayView2;
use serde::Serialize;

use crate::data::is_valid;

const MIN_PREDICTION: f64 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DepthMetrics {
    pub abs_rel: f64,
    pub sq_rel: f64,
    pub rmse: f64,
    pub rmse_log: f64,
    pub log10: f64,
    pub delta1: f64,
    pub delta2: f64,
    pub delta3: f64,
    /// Valid pixels the metrics are over.
    pub pixels: u64,
}

/// Sums over pixels, fed image by image.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccumulator {
    n: u64,
    abs_rel: f64,
    sq_rel: f64,
    sq: f64,
    sq_log: f64,
    log10: f64,
    within: [u64; 3],
}

impl MetricsAccumulator {
    /// Adds the pixels of one image where the ground truth is valid.
    pub fn add(&mut self, prediction: ArrayView2<f32>, truth: ArrayView2<f32>) {
        assert_eq!(prediction.dim(), truth.dim(), "prediction and ground truth of different sizes");
        for (&p, &g) in prediction.iter().zip(truth.iter()) {
            if !is_valid(g) {
                continue;
            }
            let (p, g) = ((p as f64).max(MIN_PREDICTION), g as f64);
            let diff = p - g;
            self.n += 1;
            self.abs_rel += diff.abs() / g;
            self.sq_rel += diff * diff / g;
            self.sq += diff * diff;
            self.sq_log += (p.ln() - g.ln()).powi(2);
            self.log10 += (p.log10() - g.log10()).abs();
            let ratio = (p / g).max(g / p);
            for (k, t) in [1.25, 1.25f64.powi(2), 1.25f64.powi(3)].iter().enumerate() {
                if ratio < *t {
                    self.within[k] += 1;
                }
            }
        }
    }

    /// The metrics; `None` when no pixel was valid.
    pub fn finish(&self) -> Option<DepthMetrics> {
        (self.n > 0).then(|| {
            let n = self.n as f64;
            DepthMetrics {
                abs_rel: self.abs_rel / n,
                sq_rel: self.sq_rel / n,
                rmse: (self.sq / n).sqrt(),
                rmse_log: (self.sq_log / n).sqrt(),
                log10: self.log10 / n,
                delta1: self.within[0] as f64 / n,
                delta2: self.within[1] as f64 / n,
                delta3: self.within[2] as f64 / n,
                pixels: self.n,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn metrics_match_hand_computed_values() {
        // Ground truth 2, 4, 1 m (and one invalid pixel); predictions 2, 5, 2 m (and 9 m, ignored).
        let truth = array![[2.0f32, 4.0], [1.0, 0.0]];
        let prediction = array![[2.0f32, 5.0], [2.0, 9.0]];
        let mut acc = MetricsAccumulator::default();
        acc.add(prediction.view(), truth.view());
        let m = acc.finish().unwrap();
        assert_eq!(m.pixels, 3);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        close(m.abs_rel, (0.0 + 0.25 + 1.0) / 3.0);
        close(m.sq_rel, (0.0 + 0.25 + 1.0) / 3.0);
        close(m.rmse, ((0.0 + 1.0 + 1.0) / 3.0f64).sqrt());
        close(m.rmse_log, ((0.0 + (1.25f64).ln().powi(2) + (2.0f64).ln().powi(2)) / 3.0).sqrt());
        close(m.log10, (0.0 + 1.25f64.log10() + 2.0f64.log10()) / 3.0);
        // Ratios 1, 1.25, 2: δ1 counts only 1 (1.25 is not < 1.25), δ2 1 and 1.25, δ3 all but 2 > 1.953.
        close(m.delta1, 1.0 / 3.0);
        close(m.delta2, 2.0 / 3.0);
        close(m.delta3, 2.0 / 3.0);
    }

    #[test]
    fn no_valid_pixel_gives_no_metrics() {
        let mut acc = MetricsAccumulator::default();
        acc.add(array![[1.0f32]].view(), array![[0.0f32]].view());
        assert!(acc.finish().is_none());
    }
}
