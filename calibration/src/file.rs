//! The calibration file (`calibration.toml`, format version 1) that `dinoedge calibrate`
//! writes and the daemon loads: one camera's model, the depth alignment, named planes, the
//! empty scene's depth and its spread (16-bit PNGs in millimetres beside it, see
//! [`Background`]) and the fit residuals.
//!
//! ```toml
//! version = 1
//! camera = "dock1"
//!
//! [fitted_for]                 # the models the depth alignment was fitted for (optional)
//! backbone_sha256 = "…"
//! head_sha256 = "…"            # a trained head's file; none with an imported depth model
//!
//! [intrinsics]                 # pixels; k1, k2 radial distortion (default 0)
//! width = 640
//! height = 480
//! fx = 554.3
//! fy = 554.3
//! cx = 320.0
//! cy = 240.0
//!
//! background = "dock1.background.png"   # (above the tables) optional; plane_distance rules need it
//! background_spread = "dock1.background-spread.png"   # optional: how much the model's depth
//!                              # of the empty scene moves from frame to frame (millimetres)
//!
//! [pose]                       # camera centre in the floor frame (metres, floor z = 0);
//! position = [-2.0, 1.0, 4.5]  # heading counter-clockwise from +y, tilt down, roll clockwise
//! yaw_deg = -20.0
//! pitch_deg = 35.0
//! roll_deg = 0.0
//!
//! [alignment]                  # output = "metric": depth = a · predicted + b;
//! output = "metric"            # output = "relative": 1 / depth = a · predicted + b
//! a = 1.0                      # (the model's output kind; default "metric")
//! b = 0.0
//!
//! [[plane]]                    # floor-frame point and normal (normalised on load)
//! name = "dock_face"
//! point = [0.0, 12.0, 0.0]
//! normal = [0.0, -1.0, 0.0]
//!
//! [[zone]]                     # named zones (0..1 image coordinates) that rules can use
//! name = "approach"            # by name: zone = "approach"
//! points = [[0.2, 0.5], [0.8, 0.5], [0.8, 1.0], [0.2, 1.0]]
//!
//! [residuals]                  # optional, reported by calibrate
//! reprojection_px = 0.4
//! depth_rmse_m = 0.05
//! depth_max_m = 0.12
//! ```

use std::path::{Path, PathBuf};

use dinoedge_config::{ConfigError, DepthKind, Name, Zone};
use glam::DVec3;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::background::Background;
use crate::camera::{Camera, Intrinsics, Pose};

pub const FORMAT_VERSION: u32 = 1;

/// The file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationFile {
    pub version: u32,
    pub camera: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_for: Option<FittedFor>,
    pub intrinsics: Intrinsics,
    pub pose: PoseAngles,
    #[serde(default)]
    pub alignment: Alignment,
    #[serde(default, rename = "plane")]
    pub planes: Vec<NamedPlane>,
    #[serde(default, rename = "zone", skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<NamedZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_spread: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residuals: Option<Residuals>,
}

impl CalibrationFile {
    /// Every number that places the camera or a plane, with its section and field.
    fn numbers(&self) -> impl Iterator<Item = (&'static str, String, f64)> + '_ {
        let i = &self.intrinsics;
        let p = &self.pose;
        let axes = |field: &str, v: [f64; 3]| (0..3).map(move |k| (format!("{field}[{k}]"), v[k])).collect::<Vec<_>>();
        let intrinsics =
            [("cx", i.cx), ("cy", i.cy), ("k1", i.k1), ("k2", i.k2)].map(|(f, v)| ("intrinsics", f.to_string(), v));
        let angles = [("yaw_deg", p.yaw_deg), ("pitch_deg", p.pitch_deg), ("roll_deg", p.roll_deg)]
            .map(|(f, v)| ("pose", f.to_string(), v));
        let position = axes("position", p.position).into_iter().map(|(f, v)| ("pose", f, v));
        let planes = self.planes.iter().flat_map(move |plane| {
            axes(&format!("plane `{}` point", plane.name), plane.point).into_iter().map(|(f, v)| ("plane", f, v))
        });
        let alignment =
            [("a", self.alignment.a), ("b", self.alignment.b)].map(|(f, v)| ("alignment", f.to_string(), v));
        intrinsics.into_iter().chain(angles).chain(position).chain(alignment).chain(planes)
    }
}

/// The sha256 of the backbone and head files the depth alignment was fitted with (no head
/// file for an imported depth model, whose head is in the backbone's file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedFor {
    pub backbone_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha256: Option<String>,
}

/// The pose as an integrator reads it: where the camera is and its three angles (degrees),
/// as in [`Pose::from_angles`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseAngles {
    pub position: [f64; 3],
    pub yaw_deg: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
}

impl PoseAngles {
    pub fn pose(&self) -> Pose {
        Pose::from_angles(DVec3::from_array(self.position), self.yaw_deg, self.pitch_deg, self.roll_deg)
    }
}

impl From<&Pose> for PoseAngles {
    fn from(pose: &Pose) -> Self {
        let (yaw_deg, pitch_deg, roll_deg) = pose.angles();
        PoseAngles { position: pose.position.to_array(), yaw_deg, pitch_deg, roll_deg }
    }
}

/// Metric depth from the model's output, for the kind of output it was fitted for: a
/// metric model's depth is `a · predicted + b`; a relative model's inverse depth is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alignment {
    #[serde(default)]
    pub output: DepthKind,
    pub a: f64,
    pub b: f64,
}

impl Default for Alignment {
    fn default() -> Self {
        Self { output: DepthKind::Metric, a: 1.0, b: 0.0 }
    }
}

impl Alignment {
    /// Metres from the model's output at a pixel, if it has a depth there: a metric model's
    /// output must be above 0; a relative model's 0 (or below) is its farthest, not unknown.
    pub fn to_metres(&self, predicted: f32) -> Option<f32> {
        let has_depth = match self.output {
            DepthKind::Metric => predicted > 0.0 && predicted.is_finite(),
            DepthKind::Relative => predicted.is_finite(),
        };
        has_depth.then(|| self.apply(predicted))
    }

    pub fn apply(&self, predicted: f32) -> f32 {
        self.output.metres(self.a * predicted as f64 + self.b) as f32
    }
}

/// A plane in the floor frame, by a point on it and its normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPlane {
    pub name: Name,
    pub point: [f64; 3],
    pub normal: [f64; 3],
}

impl NamedPlane {
    /// The plane ready for distances (its normal made unit; a zero normal stays invalid).
    pub fn plane(&self) -> Plane {
        Plane { point: DVec3::from_array(self.point), normal: DVec3::from_array(self.normal).normalize() }
    }
}

/// A polygon of the image with a name, drawn at calibration, for rules to refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedZone {
    pub name: Name,
    pub points: Zone,
}

impl NamedZone {
    /// The first name that a later zone of `zones` takes again.
    pub fn repeated_name(zones: &[NamedZone]) -> Option<&Name> {
        zones.iter().enumerate().find(|(i, z)| zones[..*i].iter().any(|o| o.name == z.name)).map(|(_, z)| &z.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residuals {
    pub reprojection_px: Option<f64>,
    pub depth_rmse_m: Option<f64>,
    pub depth_max_m: Option<f64>,
}

/// A plane ready for distances: unit normal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    pub point: DVec3,
    pub normal: DVec3,
}

impl Plane {
    /// Unsigned distance of a floor-frame point to the plane.
    pub fn distance(&self, p: DVec3) -> f64 {
        (p - self.point).dot(self.normal).abs()
    }
}

/// A loaded calibration: the camera, alignment, planes and the empty scene's background,
/// checked against each other.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub file: PathBuf,
    pub camera_name: Name,
    pub camera: Camera,
    pub alignment: Alignment,
    pub planes: Vec<(Name, Plane)>,
    pub zones: Vec<NamedZone>,
    pub background: Option<Background>,
    pub fitted_for: Option<FittedFor>,
}

impl Calibration {
    /// Reads and checks `path`; a background file is read relative to it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unlocated(path, e.to_string()))?;
        let file: CalibrationFile = dinoedge_config::from_toml(&text, path)?;
        let fail = |key, message: String| dinoedge_config::error_at_key(&text, path, key, message);
        if file.version != FORMAT_VERSION {
            return Err(fail(
                "version",
                format!("version {}: this dinoedge reads version {FORMAT_VERSION}", file.version),
            ));
        }
        let i = &file.intrinsics;
        let side = 1..=dinoedge_config::MAX_FRAME_SIDE;
        if !side.contains(&i.width) || !side.contains(&i.height) {
            return Err(fail(
                "intrinsics",
                format!(
                    "intrinsics: width = {}, height = {}: expected 1 to {} pixels",
                    i.width,
                    i.height,
                    dinoedge_config::MAX_FRAME_SIDE
                ),
            ));
        }
        if [i.fx, i.fy].iter().any(|f| !(f.is_finite() && *f > 0.0)) {
            return Err(fail("intrinsics", "intrinsics: fx and fy must be above 0".into()));
        }
        // A NaN or an infinity would make every distance NaN and the rules silently never
        // alarm: refused here, loudly.
        if let Some((section, field, value)) = file.numbers().find(|(_, _, v)| !v.is_finite()) {
            return Err(fail(section, format!("{section}: {field} = {value}: expected a finite number")));
        }
        if !(file.alignment.a.is_finite() && file.alignment.a > 0.0 && file.alignment.b.is_finite()) {
            return Err(fail("alignment", format!("alignment a = {}: expected a scale above 0", file.alignment.a)));
        }
        let mut planes = Vec::new();
        for plane in &file.planes {
            let normal = DVec3::from_array(plane.normal);
            if !(normal.length() > 1e-9 && normal.is_finite()) {
                return Err(fail("plane", format!("plane `{}`: the normal must be a non-zero vector", plane.name)));
            }
            if planes.iter().any(|(name, _)| name == &plane.name) {
                return Err(fail("plane", format!("a second plane named `{}`", plane.name)));
            }
            planes.push((plane.name.clone(), plane.plane()));
        }
        if let Some(twice) = NamedZone::repeated_name(&file.zones) {
            return Err(fail("zone", format!("a second zone named `{twice}`")));
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        let depth_file = |key: &'static str, name: &Path| {
            let file = folder.join(name);
            let depth = read_depth_mm(&file).map_err(|e| fail(key, e))?;
            if depth.dim() != (i.height as usize, i.width as usize) {
                return Err(fail(
                    key,
                    format!(
                        "{} is {}x{}, the camera {}x{}",
                        file.display(),
                        depth.ncols(),
                        depth.nrows(),
                        i.width,
                        i.height
                    ),
                ));
            }
            Ok(depth)
        };
        let background = match (&file.background, &file.background_spread) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(fail(
                    "background_spread",
                    "background_spread needs the background it is the spread of".into(),
                ));
            }
            (Some(depth), spread) => Some(Background {
                depth: depth_file("background", depth)?,
                spread: spread.as_deref().map(|s| depth_file("background_spread", s)).transpose()?,
            }),
        };
        Ok(Calibration {
            file: path.to_path_buf(),
            camera_name: file.camera,
            camera: Camera { intrinsics: file.intrinsics, pose: file.pose.pose() },
            alignment: file.alignment,
            planes,
            zones: file.zones,
            background,
            fitted_for: file.fitted_for,
        })
    }

    pub fn plane(&self, name: &Name) -> Option<&Plane> {
        self.planes.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    pub fn zone(&self, name: &Name) -> Option<&Zone> {
        self.zones.iter().find(|z| &z.name == name).map(|z| &z.points)
    }
}

/// A 16-bit PNG of depth in millimetres (0 = unknown), in metres.
pub fn read_depth_mm(path: &Path) -> Result<Array2<f32>, String> {
    let img = crate::image_file::open(path)?;
    let image::DynamicImage::ImageLuma16(img) = img else {
        return Err(format!("{}: expected a 16-bit grey PNG of millimetres", path.display()));
    };
    let (w, h) = img.dimensions();
    Ok(Array2::from_shape_fn((h as usize, w as usize), |(y, x)| img.get_pixel(x as u32, y as u32)[0] as f32 / 1000.0))
}

/// Writes depth in metres as a 16-bit PNG of millimetres (0 where unknown or out of range),
/// through a temporary file, so `path` is either the old file or the whole new one.
pub fn write_depth_mm(path: &Path, depth: &Array2<f32>) -> image::ImageResult<()> {
    let (h, w) = depth.dim();
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(w as u32, h as u32, |x, y| {
        let d = depth[(y as usize, x as usize)];
        let mm = if d.is_finite() && d > 0.0 { (d * 1000.0).round().min(65535.0) } else { 0.0 };
        image::Luma([mm as u16])
    });
    let tmp = path.with_extension("png.partial");
    img.save_with_format(&tmp, image::ImageFormat::Png)?;
    std::fs::rename(&tmp, path).map_err(image::ImageError::IoError)
}

impl CalibrationFile {
    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a calibration serialises")
    }
}
