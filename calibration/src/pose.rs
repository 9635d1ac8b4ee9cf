//! The camera's pose from points on the floor: pixels the integrator clicked, each with its
//! floor coordinates (tape-measured marks, the corners of a dock door), and known intrinsics.
//!
//! 1. The floor is the plane z = 0, so floor → image is a homography. It is fitted by the
//!    normalised DLT (Hartley) on undistorted, normalised image coordinates, with nalgebra's SVD.
//! 2. The homography splits into the rotation's first two columns and the translation; the
//!    rotation is made orthonormal, and the sign is chosen so the floor is in front of the
//!    camera.
//! 3. Levenberg–Marquardt on the reprojection error in pixels (with the lens distortion)
//!    refines the six pose parameters.
//!
//! The result carries the reprojection error (RMS and max, pixels) on the points used.

use glam::{DMat3, DVec2, DVec3};
use nalgebra::{DMatrix, DVector};

use crate::camera::{Camera, Intrinsics, Pose};

/// A clicked floor point: where it is in the image, and where on the floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloorPoint {
    pub pixel: DVec2,
    /// Floor coordinates (x, y), metres; the point is at z = 0.
    pub floor: DVec2,
}

/// A solved pose and how well it explains the points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseFit {
    pub pose: Pose,
    pub rms_px: f64,
    pub max_px: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoseError {
    #[error("{0} floor points: at least 4 are needed")]
    TooFew(usize),
    #[error("floor point {index} at pixel ({u:.1}, {v:.1}) is outside the {width}x{height} image")]
    OutsideImage { index: usize, u: f64, v: f64, width: u32, height: u32 },
    #[error("the floor points lie on one line (or nearly): spread them over the floor")]
    Collinear,
    #[error("floor point {0} is given twice")]
    Repeated(usize),
    #[error("no pose fits these points (the solver failed): check that pixels and floor coordinates match")]
    NoSolution,
}

/// The camera's pose from at least 4 floor points seen by a camera with `intrinsics`.
pub fn pose_from_floor(intrinsics: &Intrinsics, points: &[FloorPoint]) -> Result<PoseFit, PoseError> {
    check(intrinsics, points)?;
    let normalised: Vec<DVec2> = points.iter().map(|p| intrinsics.to_normalised(p.pixel)).collect();
    let floor: Vec<DVec2> = points.iter().map(|p| p.floor).collect();
    let h = homography(&floor, &normalised).ok_or(PoseError::NoSolution)?;
    let (rotation, translation) = decompose(h).ok_or(PoseError::NoSolution)?;
    let (rotation, translation) = refine(intrinsics, points, rotation, translation);
    let pose = Pose { rotation: rotation.transpose(), position: -(rotation.transpose() * translation) };
    let camera = Camera { intrinsics: *intrinsics, pose };
    let errors: Vec<f64> = points
        .iter()
        .map(|p| camera.project(p.floor.extend(0.0)).map_or(f64::INFINITY, |(px, _)| px.distance(p.pixel)))
        .collect();
    if errors.iter().any(|e| !e.is_finite()) {
        return Err(PoseError::NoSolution);
    }
    let rms_px = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    let max_px = errors.iter().copied().fold(0.0, f64::max);
    Ok(PoseFit { pose, rms_px, max_px })
}

fn check(intrinsics: &Intrinsics, points: &[FloorPoint]) -> Result<(), PoseError> {
    if points.len() < 4 {
        return Err(PoseError::TooFew(points.len()));
    }
    let (width, height) = (intrinsics.width, intrinsics.height);
    for (index, p) in points.iter().enumerate() {
        let (u, v) = (p.pixel.x, p.pixel.y);
        if !(u.is_finite() && v.is_finite() && (0.0..=width as f64).contains(&u) && (0.0..=height as f64).contains(&v))
        {
            return Err(PoseError::OutsideImage { index: index + 1, u, v, width, height });
        }
        if points[..index].iter().any(|q| q.floor.distance(p.floor) < 1e-6 || q.pixel.distance(p.pixel) < 1e-6) {
            return Err(PoseError::Repeated(index + 1));
        }
    }
    // Spread: the smaller principal extent of the floor points against the larger.
    let mean = points.iter().map(|p| p.floor).sum::<DVec2>() / points.len() as f64;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in points {
        let d = p.floor - mean;
        (sxx, sxy, syy) = (sxx + d.x * d.x, sxy + d.x * d.y, syy + d.y * d.y);
    }
    let (trace, det) = (sxx + syy, sxx * syy - sxy * sxy);
    let disc = (trace * trace / 4.0 - det).max(0.0).sqrt();
    let (large, small) = (trace / 2.0 + disc, (trace / 2.0 - disc).max(0.0));
    if large <= 0.0 || (small / large).sqrt() < 0.02 {
        return Err(PoseError::Collinear);
    }
    Ok(())
}

/// Similarity that centres `points` and scales their mean distance to √2.
fn normaliser(points: &[DVec2]) -> DMat3 {
    let mean = points.iter().copied().sum::<DVec2>() / points.len() as f64;
    let spread = points.iter().map(|p| p.distance(mean)).sum::<f64>() / points.len() as f64;
    let s = std::f64::consts::SQRT_2 / spread.max(1e-12);
    DMat3::from_cols(DVec3::new(s, 0.0, 0.0), DVec3::new(0.0, s, 0.0), DVec3::new(-s * mean.x, -s * mean.y, 1.0))
}

/// H with `to ~ H · from` (homogeneous), by the normalised DLT.
fn homography(from: &[DVec2], to: &[DVec2]) -> Option<DMat3> {
    let (tf, tt) = (normaliser(from), normaliser(to));
    // At least 9 rows, so that the SVD's V is whole with 4 points too: a row of zeros leaves
    // the null space as it is.
    let a = DMatrix::<f64>::from_fn((2 * from.len()).max(9), 9, |r, c| {
        let (i, row) = (r / 2, r % 2);
        if i >= from.len() {
            return 0.0;
        }
        let p = tf * from[i].extend(1.0);
        let q = tt * to[i].extend(1.0);
        let (x, y) = (q.x / q.z, q.y / q.z);
        let p = [p.x / p.z, p.y / p.z, 1.0];
        match (row, c / 3) {
            (0, 0) => -p[c % 3],
            (0, 2) => x * p[c % 3],
            (1, 1) => -p[c % 3],
            (1, 2) => y * p[c % 3],
            _ => 0.0,
        }
    });
    let svd = a.try_svd(false, true, f64::EPSILON, 1000)?;
    let s = &svd.singular_values;
    let smallest = (0..9).min_by(|&i, &j| s[i].total_cmp(&s[j]))?;
    let v = svd.v_t?.row(smallest).transpose();
    let hn = DMat3::from_cols(DVec3::new(v[0], v[3], v[6]), DVec3::new(v[1], v[4], v[7]), DVec3::new(v[2], v[5], v[8]));
    let h = tt.inverse() * hn * tf;
    h.is_finite().then_some(h)
}

/// Rotation (floor → camera) and translation from H = λ [r1 r2 t].
fn decompose(h: DMat3) -> Option<(DMat3, DVec3)> {
    let scale = 2.0 / (h.x_axis.length() + h.y_axis.length());
    let mut h = h * scale;
    if h.z_axis.z < 0.0 {
        // The floor's origin must be in front of the camera.
        h = -h;
    }
    let r1 = h.x_axis.normalize();
    let r2 = (h.y_axis - r1 * r1.dot(h.y_axis)).normalize();
    let rotation = DMat3::from_cols(r1, r2, r1.cross(r2));
    rotation.is_finite().then_some((rotation, h.z_axis))
}

/// Rotation by the rotation vector `w` (Rodrigues).
fn exp(w: DVec3) -> DMat3 {
    let angle = w.length();
    if angle < 1e-12 { DMat3::IDENTITY } else { DMat3::from_axis_angle(w / angle, angle) }
}

fn residuals(intrinsics: &Intrinsics, points: &[FloorPoint], rotation: DMat3, translation: DVec3) -> Vec<f64> {
    points
        .iter()
        .flat_map(|p| {
            let c = rotation * p.floor.extend(0.0) + translation;
            let px = intrinsics.to_pixel(DVec2::new(c.x, c.y) / c.z.max(1e-9));
            [px.x - p.pixel.x, px.y - p.pixel.y]
        })
        .collect()
}

/// Levenberg–Marquardt on the six pose parameters (a rotation vector applied on the left,
/// and the translation), with a numeric Jacobian.
fn refine(
    intrinsics: &Intrinsics,
    points: &[FloorPoint],
    mut rotation: DMat3,
    mut translation: DVec3,
) -> (DMat3, DVec3) {
    let apply = |rotation: DMat3, translation: DVec3, d: &[f64]| {
        (exp(DVec3::new(d[0], d[1], d[2])) * rotation, translation + DVec3::new(d[3], d[4], d[5]))
    };
    let cost = |r: &[f64]| r.iter().map(|e| e * e).sum::<f64>();
    let mut current = residuals(intrinsics, points, rotation, translation);
    let mut lambda = 1e-3;
    for _ in 0..50 {
        let n = current.len();
        let mut jacobian = DMatrix::<f64>::zeros(n, 6);
        for k in 0..6 {
            let mut d = [0.0; 6];
            d[k] = 1e-7;
            let (r, t) = apply(rotation, translation, &d);
            for (i, e) in residuals(intrinsics, points, r, t).iter().enumerate() {
                jacobian[(i, k)] = (e - current[i]) / 1e-7;
            }
        }
        let mut normal = jacobian.tr_mul(&jacobian);
        let gradient = -jacobian.tr_mul(&DVector::from_column_slice(&current));
        for k in 0..6 {
            normal[(k, k)] *= 1.0 + lambda;
        }
        // A singular system is a failed step: it is refused below, as one that costs more.
        let step = normal.lu().solve(&gradient).unwrap_or_else(|| DVector::from_element(6, f64::NAN));
        let (r, t) = apply(rotation, translation, step.as_slice());
        let trial = residuals(intrinsics, points, r, t);
        if cost(&trial) < cost(&current) {
            let gain = cost(&current) - cost(&trial);
            (rotation, translation, current) = (r, t, trial);
            lambda = (lambda / 10.0).max(1e-9);
            if gain < 1e-12 {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e6 {
                break;
            }
        }
    }
    (rotation, translation)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera 4.5 m up, pitched 28° down, as the simulator's dock camera, with mild distortion.
    fn camera() -> Camera {
        Camera {
            intrinsics: Intrinsics::from_hfov(640, 480, 85.0).with_distortion(-0.03, 0.005),
            pose: Pose::from_angles(DVec3::new(-3.0, 1.0, 4.5), -12.0, 28.0, 2.0),
        }
    }

    /// The floor points of a grid that the camera sees, with their pixels (plus `noise` px).
    fn clicks(camera: &Camera, noise: f64) -> Vec<FloorPoint> {
        let mut out = Vec::new();
        let mut k = 0.0f64;
        for x in [-4.0, -1.0, 2.0, 5.0] {
            for y in [5.0, 8.0, 11.0] {
                let floor = DVec2::new(x, y);
                if let Some((pixel, _)) = camera.project(floor.extend(0.0))
                    && (0.0..640.0).contains(&pixel.x)
                    && (0.0..480.0).contains(&pixel.y)
                {
                    k += 1.0;
                    let jitter = DVec2::new((k * 12.9898).sin(), (k * 78.233).cos()) * noise;
                    out.push(FloorPoint { pixel: pixel + jitter, floor });
                }
            }
        }
        out
    }

    #[test]
    fn exact_clicks_give_back_the_pose() {
        let truth = camera();
        let points = clicks(&truth, 0.0);
        assert!(points.len() >= 6, "{} points in view", points.len());
        let fit = pose_from_floor(&truth.intrinsics, &points).unwrap();
        assert!(fit.pose.position.distance(truth.pose.position) < 1e-6, "{:?}", fit.pose.position);
        assert!(fit.pose.rotation.abs_diff_eq(truth.pose.rotation, 1e-8));
        assert!(fit.rms_px < 1e-6);
    }

    #[test]
    fn four_exact_clicks_are_enough() {
        // Four points give 8 equations for the homography's 9 entries: its null vector is
        // the last of a full V, not of a thin SVD's.
        let truth = camera();
        let points = clicks(&truth, 0.0);
        let four = [points[0], points[2], points[points.len() - 3], points[points.len() - 1]];
        let fit = pose_from_floor(&truth.intrinsics, &four).unwrap();
        assert!(fit.pose.position.distance(truth.pose.position) < 1e-6, "{:?}", fit.pose.position);
        assert!(fit.pose.rotation.abs_diff_eq(truth.pose.rotation, 1e-8));
    }

    #[test]
    fn half_pixel_clicks_give_height_within_2_percent_and_pitch_within_a_degree() {
        let truth = camera();
        let fit = pose_from_floor(&truth.intrinsics, &clicks(&truth, 0.5)).unwrap();
        let height = fit.pose.position.z;
        assert!((height - 4.5).abs() < 0.02 * 4.5, "height {height}");
        let (_, pitch, _) = fit.pose.angles();
        assert!((pitch - 28.0).abs() < 1.0, "pitch {pitch}");
        assert!(fit.rms_px > 0.1 && fit.rms_px < 1.0 && fit.max_px >= fit.rms_px, "{fit:?}");
    }

    #[test]
    fn degenerate_clicks_are_refused_with_the_reason() {
        let truth = camera();
        let points = clicks(&truth, 0.0);
        let i = truth.intrinsics;
        assert_eq!(pose_from_floor(&i, &points[..3]), Err(PoseError::TooFew(3)));
        let mut outside = points.clone();
        outside[1].pixel = DVec2::new(700.0, 10.0);
        assert!(matches!(pose_from_floor(&i, &outside), Err(PoseError::OutsideImage { index: 2, .. })));
        let line: Vec<FloorPoint> = [5.0, 6.0, 7.0, 8.0, 9.0]
            .iter()
            .map(|&y| {
                let floor = DVec2::new(0.0, y);
                FloorPoint { pixel: truth.project(floor.extend(0.0)).unwrap().0, floor }
            })
            .collect();
        assert_eq!(pose_from_floor(&i, &line), Err(PoseError::Collinear));
        let mut repeated = points.clone();
        repeated[3] = repeated[0];
        assert_eq!(pose_from_floor(&i, &repeated), Err(PoseError::Repeated(4)));
    }
}
