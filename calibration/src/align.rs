//! The depth alignment, fitted robustly against reference depths — the floor's exact depth
//! (from the solved pose) at pixels marked as floor, and any points whose distance was
//! measured — in the space the model's output lives in:
//!
//! - a metric model (a trained head, a metric published model): depth = a · predicted + b. On
//!   a new site its error is mostly a scale and an offset in metres (lens, mounting height).
//! - a relative model (affine-invariant inverse depth, as Depth Anything's relative models
//!   and MiDaS give): 1 / depth = a · predicted + b, the only form its output determines.
//!
//! The fit is iteratively reweighted least squares with Huber weights
//! (k = 1.345 robust standard deviations, from the median absolute deviation), so a few
//! wrong references (a box standing on a "floor" pixel) do not pull it. Every fifth sample is
//! held out, and the residuals are reported on those.

use glam::DVec2;

use dinoedge_config::DepthKind;

use crate::camera::Camera;
use crate::file::Alignment;

/// One reference: what the model predicted at a pixel, and the true depth there (metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthSample {
    pub predicted: f64,
    pub reference: f64,
}

/// The fit and its residuals (metres) on the held-out samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlignmentFit {
    pub alignment: Alignment,
    pub holdout_rmse_m: f64,
    pub holdout_max_m: f64,
    pub fitted: usize,
    pub held_out: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlignError {
    #[error("reference {index}: {what} depth is {value} (not a finite distance above 0)")]
    BadDepth { index: usize, what: &'static str, value: f64 },
    #[error("{0} references: at least 10 are needed (mark more floor, or measure more points)")]
    TooFew(usize),
    #[error("the references all lie at one depth: mark floor nearer and farther from the camera")]
    NoSpread,
    #[error("the fitted scale a = {0:.3} is not a plausible correction (expected above 0)")]
    Implausible(f64),
}

/// The floor's exact z-depth at a pixel, if the pixel sees the floor (z = 0) in front of the camera.
pub fn floor_depth(camera: &Camera, pixel: DVec2) -> Option<f64> {
    camera.floor_point(pixel).map(|p| camera.depth_of(p))
}

/// Fits the alignment of a model whose output is `output`; every fifth sample (the 5th, 10th,
/// …) is held out for the residuals, which are in metres whatever the output.
pub fn fit_alignment(samples: &[DepthSample], output: DepthKind) -> Result<AlignmentFit, AlignError> {
    for (i, s) in samples.iter().enumerate() {
        for (what, value) in [("predicted", s.predicted), ("reference", s.reference)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(AlignError::BadDepth { index: i + 1, what, value });
            }
        }
    }
    if samples.len() < 10 {
        return Err(AlignError::TooFew(samples.len()));
    }
    let held: Vec<DepthSample> = samples.iter().skip(4).step_by(5).copied().collect();
    // The line is fitted in the output's space: the reference as depth, or as inverse depth.
    let target = |reference: f64| match output {
        DepthKind::Metric => reference,
        DepthKind::Relative => 1.0 / reference,
    };
    let fit: Vec<DepthSample> = samples
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 != 4)
        .map(|(_, s)| DepthSample { predicted: s.predicted, reference: target(s.reference) })
        .collect();
    let (lo, hi) = fit.iter().fold((f64::MAX, f64::MIN), |(lo, hi), s| (lo.min(s.predicted), hi.max(s.predicted)));
    if hi - lo < 1e-3 * hi {
        return Err(AlignError::NoSpread);
    }
    let mut weights = vec![1.0; fit.len()];
    let mut alignment = Alignment::default();
    for _ in 0..30 {
        alignment = weighted_line(&fit, &weights, output).ok_or(AlignError::NoSpread)?;
        let residuals: Vec<f64> = fit.iter().map(|s| s.reference - (alignment.a * s.predicted + alignment.b)).collect();
        let scale = 1.4826 * median(residuals.iter().map(|r| r.abs()).collect()).max(1e-6);
        let k = 1.345 * scale;
        let next: Vec<f64> = residuals.iter().map(|r| if r.abs() <= k { 1.0 } else { k / r.abs() }).collect();
        let change = next.iter().zip(&weights).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        weights = next;
        if change < 1e-6 {
            break;
        }
    }
    if alignment.a.is_nan() || alignment.a <= 0.0 {
        return Err(AlignError::Implausible(alignment.a));
    }
    let errors: Vec<f64> =
        held.iter().map(|s| (s.reference - alignment.apply(s.predicted as f32) as f64).abs()).collect();
    let holdout_rmse_m = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    Ok(AlignmentFit {
        alignment,
        holdout_rmse_m,
        holdout_max_m: errors.iter().copied().fold(0.0, f64::max),
        fitted: fit.len(),
        held_out: held.len(),
    })
}

/// Weighted least squares of reference on predicted.
fn weighted_line(samples: &[DepthSample], weights: &[f64], output: DepthKind) -> Option<Alignment> {
    let sw: f64 = weights.iter().sum();
    let mx = samples.iter().zip(weights).map(|(s, w)| w * s.predicted).sum::<f64>() / sw;
    let my = samples.iter().zip(weights).map(|(s, w)| w * s.reference).sum::<f64>() / sw;
    let sxx: f64 = samples.iter().zip(weights).map(|(s, w)| w * (s.predicted - mx).powi(2)).sum();
    let sxy: f64 = samples.iter().zip(weights).map(|(s, w)| w * (s.predicted - mx) * (s.reference - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let a = sxy / sxx;
    Some(Alignment { output, a, b: my - a * mx })
}

fn median(mut v: Vec<f64>) -> f64 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Intrinsics, Pose};
    use glam::DVec3;

    /// References from 1.5 to 12 m; the model reads (true − 0.3) / 1.2 with ±2 cm noise, and
    /// every 10th fitted reference is wildly wrong (+3 m: a box on a "floor" pixel).
    fn samples() -> Vec<DepthSample> {
        (0..200)
            .map(|i| {
                let reference = 1.5 + 10.5 * i as f64 / 199.0;
                let noise = 0.02 * (i as f64 * 1.7).sin();
                let wrong = if i % 10 == 3 { 3.0 } else { 0.0 };
                DepthSample { predicted: (reference - 0.3) / 1.2 + noise + wrong, reference }
            })
            .collect()
    }

    #[test]
    fn the_robust_fit_recovers_scale_and_offset_despite_outliers() {
        let fit = fit_alignment(&samples(), DepthKind::Metric).unwrap();
        assert!((fit.alignment.a - 1.2).abs() < 0.01, "{fit:?}");
        assert!((fit.alignment.b - 0.3).abs() < 0.05, "{fit:?}");
        assert_eq!((fit.fitted, fit.held_out), (160, 40));
        // Held out: the outlier indices (3, 13, …) never fall on 4, 9, …, so these are clean.
        assert!(fit.holdout_rmse_m < 0.04 && fit.holdout_max_m < 0.06, "{fit:?}");
    }

    #[test]
    fn aligned_depth_has_a_lower_absrel_than_raw() {
        let samples = samples();
        let fit = fit_alignment(&samples, DepthKind::Metric).unwrap();
        let absrel = |f: &dyn Fn(f64) -> f64| {
            samples.iter().map(|s| (f(s.predicted) - s.reference).abs() / s.reference).sum::<f64>()
                / samples.len() as f64
        };
        let (raw, aligned) = (absrel(&|p| p), absrel(&|p| fit.alignment.apply(p as f32) as f64));
        assert!(aligned < raw / 2.0, "raw {raw}, aligned {aligned}");
    }

    /// A relative model: it reads 0.8 / depth + 0.05 (inverse depth up to scale and shift),
    /// with noise and the same outliers as [`samples`].
    #[test]
    fn a_relative_model_is_fitted_in_inverse_depth() {
        let samples: Vec<DepthSample> = samples()
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let noise = 0.002 * (i as f64 * 2.3).sin();
                let wrong = if i % 10 == 3 { 0.3 } else { 0.0 };
                DepthSample { predicted: 0.8 / s.reference + 0.05 + noise + wrong, reference: s.reference }
            })
            .collect();
        let fit = fit_alignment(&samples, DepthKind::Relative).unwrap();
        assert_eq!(fit.alignment.output, DepthKind::Relative);
        // 1/depth = (predicted − 0.05) / 0.8: a = 1.25, b = −0.0625 (least squares on the clean
        // samples alone: 1.2502). Huber bounds each wrong sample's pull rather than removing it,
        // and 10 % of them lie off to one side: a lands within 3 %.
        assert!((fit.alignment.a - 1.25).abs() < 0.04, "{fit:?}");
        assert!((fit.alignment.b + 0.0625).abs() < 0.01, "{fit:?}");
        // Residuals in metres: the noise of ±0.002 in inverse depth is centimetres near, more far.
        assert!(fit.holdout_rmse_m < 0.3, "{fit:?}");
        let near = fit.alignment.apply((0.8 / 2.0 + 0.05) as f32);
        assert!((near - 2.0).abs() < 0.05, "{near}");
        // Where the line reaches zero the model sees nothing near: the far cap, not a negative depth.
        assert_eq!(fit.alignment.apply(-10.0) as f64, DepthKind::RELATIVE_MAX_DEPTH_M as f32 as f64);
        // Fitted as metric depth, the same samples give a depth that falls as the output rises:
        // refused, not written.
        assert!(matches!(fit_alignment(&samples, DepthKind::Metric), Err(AlignError::Implausible(a)) if a < 0.0));
    }

    #[test]
    fn bad_references_are_named() {
        let mut s = samples();
        s[7].reference = f64::NAN;
        assert!(matches!(
            fit_alignment(&s, DepthKind::Metric),
            Err(AlignError::BadDepth { index: 8, what: "reference", .. })
        ));
        assert_eq!(fit_alignment(&samples()[..9], DepthKind::Metric), Err(AlignError::TooFew(9)));
        let flat = vec![DepthSample { predicted: 3.0, reference: 3.0 }; 20];
        assert_eq!(fit_alignment(&flat, DepthKind::Metric), Err(AlignError::NoSpread));
    }

    #[test]
    fn the_floor_depth_is_the_depth_of_the_ray_floor_intersection() {
        let camera = Camera {
            intrinsics: Intrinsics::from_hfov(640, 480, 90.0),
            pose: Pose::from_angles(DVec3::new(0.0, 0.0, 3.0), 0.0, 30.0, 0.0),
        };
        // The principal ray meets the floor 3 / sin 30° = 6 m away along the axis.
        let d = floor_depth(&camera, DVec2::new(320.0, 240.0)).unwrap();
        assert!((d - 6.0).abs() < 1e-9, "{d}");
        assert_eq!(floor_depth(&camera, DVec2::new(320.0, 0.0)), None, "above the horizon");
    }
}
