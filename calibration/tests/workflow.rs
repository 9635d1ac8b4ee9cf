//! The calibrate workflow on a camera made up here, with the floor's exact depth as the
//! model's: a reference where the model has no depth (NaN) is an error naming it, and a zone
//! named twice is refused; a good points file comes back with its zones.

use dinoedge_calibration::align::floor_depth;
use dinoedge_calibration::workflow::{PointsFile, calibrate};
use dinoedge_calibration::{Camera, Intrinsics, Pose};
use dinoedge_config::DepthKind;
use glam::{DVec2, DVec3};
use ndarray::Array2;

fn camera() -> Camera {
    Camera {
        intrinsics: Intrinsics::from_hfov(320, 240, 85.0),
        pose: Pose::from_angles(DVec3::new(0.0, 0.0, 4.5), 0.0, 28.0, 0.0),
    }
}

/// The floor's depth at every pixel (30 m above the horizon).
fn exact_depth(c: &Camera) -> Array2<f32> {
    Array2::from_shape_fn((240, 320), |(y, x)| {
        floor_depth(c, DVec2::new(x as f64 + 0.5, y as f64 + 0.5)).unwrap_or(30.0) as f32
    })
}

fn points(c: &Camera, extra: &str) -> PointsFile {
    let mut text = String::from("[camera]\nhfov_deg = 85.0\n");
    for f in [[-2.0, 5.0], [2.0, 5.0], [-2.0, 9.0], [2.0, 9.0], [0.0, 7.0]] {
        let p = c.project(DVec3::new(f[0], f[1], 0.0)).unwrap().0;
        text += &format!("[[floor_point]]\npixel = [{}, {}]\nfloor = [{}, {}]\n", p.x, p.y, f[0], f[1]);
    }
    text += "[[floor_region]]\npoints = [[0.2, 0.7], [0.8, 0.7], [0.8, 1.0], [0.2, 1.0]]\n";
    text += "[[reference]]\npixel = [160.0, 150.0]\ndistance_m = 9.0\n";
    text += extra;
    toml::from_str(&text).unwrap()
}

#[test]
fn a_reference_where_the_model_has_no_depth_is_an_error_naming_it() {
    let c = camera();
    let mut depth = exact_depth(&c);
    depth[(150, 160)] = f32::NAN;
    let err =
        calibrate(&"dock1".to_string().try_into().unwrap(), &points(&c, ""), &[depth], DepthKind::Metric).unwrap_err();
    assert!(err.contains("reference 1: the model has no depth at pixel [160.0, 150.0] (NaN)"), "{err}");
}

#[test]
fn zones_are_kept_and_a_name_given_twice_is_refused() {
    let c = camera();
    let zone = "[[zone]]\nname = \"approach\"\npoints = [[0.2, 0.5], [0.8, 0.5], [0.8, 1.0]]\n";
    let name = "dock1".to_string().try_into().unwrap();
    let outcome = calibrate(&name, &points(&c, zone), &[exact_depth(&c)], DepthKind::Metric).unwrap();
    assert_eq!(outcome.file.zones.len(), 1);
    assert!(outcome.floor_abs_rel.1 < 1e-3, "exact depth stays exact: {:?}", outcome.floor_abs_rel);
    let err =
        calibrate(&name, &points(&c, &format!("{zone}{zone}")), &[exact_depth(&c)], DepthKind::Metric).unwrap_err();
    assert!(err.contains("two zones are named `approach`"), "{err}");
}

/// A relative model's output (inverse depth up to scale and shift: 0.5 / depth + 0.1) is
/// aligned in inverse depth: the aligned floor and background are the exact depth again
/// (within 1 % up to 15 m; farther, the pose's small error grows as 1/depth shrinks).
#[test]
fn a_relative_model_is_aligned_to_metres() {
    let c = camera();
    let exact = exact_depth(&c);
    let relative = exact.mapv(|d| if d > 0.0 { 0.5 / d + 0.1 } else { 0.0 });
    let name = "dock1".to_string().try_into().unwrap();
    let outcome = calibrate(&name, &points(&c, ""), &[relative], DepthKind::Relative).unwrap();
    assert_eq!(outcome.file.alignment.output, DepthKind::Relative);
    assert_eq!(outcome.floor_abs_rel.0, None, "a relative model has no metric depth before the alignment");
    assert!(outcome.floor_abs_rel.1 < 1e-3, "{:?}", outcome.floor_abs_rel);
    let worst = outcome
        .background
        .depth
        .iter()
        .zip(exact.iter())
        .filter(|(_, e)| **e > 0.0 && **e <= 15.0)
        .map(|(b, e)| (b - e).abs() / e)
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-2, "background relative error {worst}");
}
