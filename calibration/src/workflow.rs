//! The calibrate workflow without a browser: a points file (what an integrator clicks and
//! measures) and the model's depth of one or more frames of the empty scene in, a calibration
//! out.
//!
//! ```toml
//! [camera]
//! hfov_deg = 85.0                 # or fx, fy (and cx, cy: default the image centre); k1, k2
//!
//! [[floor_point]]                 # at least 4, not on one line
//! pixel = [412.0, 388.5]
//! floor = [0.0, 6.0]              # floor coordinates, metres
//!
//! [[floor_region]]                # polygons (0..1 image coordinates) that show bare floor
//! points = [[0.1, 0.6], [0.9, 0.6], [0.9, 1.0], [0.1, 1.0]]
//!
//! [[reference]]                   # optional: measured straight-line distances from the camera
//! pixel = [300.0, 250.0]
//! distance_m = 7.4
//!
//! [dock]                          # optional: two pixels on the dock edge (face meets floor)
//! edge = [[120.0, 150.0], [560.0, 140.0]]
//!
//! [[zone]]                        # optional: named zones for the rules, copied to the calibration
//! name = "approach"
//! points = [[0.2, 0.5], [0.8, 0.5], [0.8, 1.0], [0.2, 1.0]]
//! ```
//!
//! The browser UI sends the same structure as JSON, and saves it beside the calibration as a
//! points file, so a calibration done by hand can be re-run by script.

use std::borrow::Borrow;

use dinoedge_config::{DepthKind, Name, Zone};
use glam::{DVec2, DVec3};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::align::{AlignmentFit, DepthSample, fit_alignment, floor_depth};
use crate::background::Background;
use crate::camera::{Camera, Intrinsics};
use crate::file::{CalibrationFile, FORMAT_VERSION, NamedPlane, NamedZone, PoseAngles, Residuals};
use crate::pose::{FloorPoint, PoseFit, pose_from_floor};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PointsFile {
    pub camera: CameraSpec,
    #[serde(rename = "floor_point", default)]
    pub floor_points: Vec<FloorPointToml>,
    #[serde(rename = "floor_region", default)]
    pub floor_regions: Vec<Region>,
    #[serde(rename = "reference", default)]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dock: Option<Dock>,
    #[serde(rename = "zone", default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<NamedZone>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hfov_deg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cx: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cy: Option<f64>,
    #[serde(default)]
    pub k1: f64,
    #[serde(default)]
    pub k2: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FloorPointToml {
    pub pixel: [f64; 2],
    pub floor: [f64; 2],
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub points: Zone,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub pixel: [f64; 2],
    pub distance_m: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dock {
    pub edge: [[f64; 2]; 2],
}

/// A finished calibration, not yet written.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: CalibrationFile,
    /// The empty scene as the aligned model sees it (its depth and, from enough frames, its
    /// spread), for the background files …
    pub background: Background,
    /// … from this many frames.
    pub background_frames: usize,
    pub pose: PoseFit,
    pub alignment: AlignmentFit,
    /// Each reference: its measured distance and what the aligned depth reads there.
    pub readings: Vec<(f64, f64)>,
    /// The mean absolute relative error of the depth on the marked floor, before the
    /// alignment (a metric model's only: a relative model has no depth before it) and after.
    pub floor_abs_rel: (Option<f64>, f64),
}

impl CameraSpec {
    pub fn intrinsics(&self, width: u32, height: u32) -> Result<Intrinsics, String> {
        let (cx, cy) = (self.cx.unwrap_or(width as f64 / 2.0), self.cy.unwrap_or(height as f64 / 2.0));
        let base = match (self.hfov_deg, self.fx, self.fy) {
            (Some(h), None, None) if h > 1.0 && h < 179.0 => Intrinsics::from_hfov(width, height, h),
            (None, Some(fx), fy) if fx > 0.0 && fy.is_none_or(|f| f > 0.0) => {
                Intrinsics { width, height, fx, fy: fy.unwrap_or(fx), cx, cy, k1: 0.0, k2: 0.0 }
            }
            _ => return Err("[camera]: give hfov_deg (1 to 179) or fx (and fy), above 0 — not both".into()),
        };
        Ok(Intrinsics { cx, cy, ..base }.with_distortion(self.k1, self.k2))
    }
}

/// Calibrates camera `name` from `points` and the model's (unaligned) output of K frames of
/// the empty scene, all `width` x `height`, for a model whose output is `output`.
pub fn calibrate(
    name: &Name,
    points: &PointsFile,
    frames: &[impl Borrow<Array2<f32>>],
    output: DepthKind,
) -> Result<Outcome, String> {
    let (height, width) = frames.first().ok_or("no frame")?.borrow().dim();
    let intrinsics = points.camera.intrinsics(width as u32, height as u32)?;
    let clicks: Vec<FloorPoint> = points
        .floor_points
        .iter()
        .map(|p| FloorPoint { pixel: DVec2::from_array(p.pixel), floor: DVec2::from_array(p.floor) })
        .collect();
    let pose = pose_from_floor(&intrinsics, &clicks).map_err(|e| format!("floor points: {e}"))?;
    let camera = Camera { intrinsics, pose: pose.pose };
    let predicted = median_depth(frames);

    let mut samples = Vec::new();
    for (index, region) in points.floor_regions.iter().enumerate() {
        let before = samples.len();
        for y in (4..height).step_by(8) {
            for x in (4..width).step_by(8) {
                let pixel = DVec2::new(x as f64 + 0.5, y as f64 + 0.5);
                if !region.points.contains(pixel.x / width as f64, pixel.y / height as f64) {
                    continue;
                }
                let d = predicted[(y, x)] as f64;
                if let (Some(reference), true) = (floor_depth(&camera, pixel), d.is_finite() && d > 0.0) {
                    samples.push(DepthSample { predicted: d, reference });
                }
            }
        }
        if samples.len() == before {
            return Err(format!("floor region {}: no pixel of it sees the floor with a depth", index + 1));
        }
    }
    let mut reference_samples = Vec::new();
    for (index, r) in points.references.iter().enumerate() {
        let pixel = DVec2::from_array(r.pixel);
        let (u, v) = (pixel.x as usize, pixel.y as usize);
        if !(r.distance_m.is_finite() && r.distance_m > 0.0) {
            return Err(format!("reference {}: distance_m = {}: expected metres above 0", index + 1, r.distance_m));
        }
        if !(pixel.x >= 0.0 && pixel.y >= 0.0 && u < width && v < height) {
            return Err(format!("reference {}: pixel {:?} is outside the {width}x{height} image", index + 1, r.pixel));
        }
        let d = predicted[(v, u)] as f64;
        if !(d.is_finite() && d > 0.0) {
            return Err(format!("reference {}: the model has no depth at pixel {:?} ({d})", index + 1, r.pixel));
        }
        reference_samples.push((index, DepthSample { predicted: d, reference: z_depth(&camera, pixel, r.distance_m) }));
    }
    let floor_samples = samples.len();
    samples.extend(reference_samples.iter().map(|(_, s)| *s));
    let alignment = fit_alignment(&samples, output).map_err(|e| format!("depth alignment: {e}"))?;
    let a = alignment.alignment;
    let abs_rel = |f: &dyn Fn(f64) -> f64| {
        let floor = &samples[..floor_samples];
        floor.iter().map(|s| (f(s.predicted) - s.reference).abs() / s.reference).sum::<f64>()
            / floor.len().max(1) as f64
    };
    let before = (output == DepthKind::Metric).then(|| abs_rel(&|d| d));
    let floor_abs_rel = (before, abs_rel(&|d| a.apply(d as f32) as f64));
    let aligned: Vec<Array2<f32>> =
        frames.iter().map(|f| f.borrow().mapv(|d| if d > 0.0 && d.is_finite() { a.apply(d) } else { 0.0 })).collect();
    let background = Background::from_frames(aligned);
    let readings = reference_samples
        .iter()
        .map(|(i, s)| {
            let r = &points.references[*i];
            let read = a.apply(s.predicted as f32) as f64 * r.distance_m / s.reference;
            (r.distance_m, read)
        })
        .collect();

    let mut planes = Vec::new();
    if let Some(dock) = &points.dock {
        planes.push(dock_plane(&camera, dock)?);
    }
    if let Some(twice) = NamedZone::repeated_name(&points.zones) {
        return Err(format!("two zones are named `{twice}`"));
    }
    let file = CalibrationFile {
        version: FORMAT_VERSION,
        camera: name.clone(),
        fitted_for: None,
        intrinsics,
        pose: PoseAngles::from(&pose.pose),
        alignment: a,
        planes,
        zones: points.zones.clone(),
        background: None,
        background_spread: None,
        residuals: Some(Residuals {
            reprojection_px: Some(pose.rms_px),
            depth_rmse_m: Some(alignment.holdout_rmse_m),
            depth_max_m: Some(alignment.holdout_max_m),
        }),
    };
    Ok(Outcome { file, background, background_frames: frames.len(), pose, alignment, readings, floor_abs_rel })
}

/// The per-pixel median of the frames' depth.
fn median_depth(frames: &[impl Borrow<Array2<f32>>]) -> Array2<f32> {
    let mut out = frames[0].borrow().clone();
    if frames.len() > 1 {
        for ((y, x), v) in out.indexed_iter_mut() {
            let mut values: Vec<f32> = frames.iter().map(|f| f.borrow()[(y, x)]).collect();
            values.sort_by(f32::total_cmp);
            *v = values[values.len() / 2];
        }
    }
    out
}

/// The z-depth of the point `distance` metres from the camera along the ray of `pixel`.
fn z_depth(camera: &Camera, pixel: DVec2, distance: f64) -> f64 {
    let n = camera.intrinsics.to_normalised(pixel);
    distance / (1.0 + n.length_squared()).sqrt()
}

/// The vertical plane through the floor points seen at the two dock-edge pixels.
fn dock_plane(camera: &Camera, dock: &Dock) -> Result<NamedPlane, String> {
    let on_floor = |pixel: [f64; 2]| -> Result<DVec3, String> {
        camera
            .floor_point(DVec2::from_array(pixel))
            .ok_or_else(|| format!("dock edge pixel {pixel:?} does not see the floor (above the horizon)"))
    };
    let (a, b) = (on_floor(dock.edge[0])?, on_floor(dock.edge[1])?);
    let along = (b - a).truncate();
    if along.length() < 0.1 {
        return Err("the two dock edge pixels are less than 10 cm apart on the floor".into());
    }
    let mut normal = DVec3::new(-along.y, along.x, 0.0).normalize();
    if normal.dot(camera.pose.position - a) < 0.0 {
        normal = -normal;
    }
    Ok(NamedPlane {
        name: "dock_face".to_string().try_into().expect("a valid name"),
        point: a.to_array(),
        normal: normal.to_array(),
    })
}
