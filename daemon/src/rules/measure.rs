//! One number per rule and frame: the distance the rule compares with its thresholds, or
//! `None` when nothing is measurable in the zone (no valid depth, nothing standing out of the
//! empty scene), which counts as "nothing near".
//!
//! - `min_distance`: a low percentile of the zone's metric z-depth. z-depth (along the optical
//!   axis) is never more than the straight-line distance, so the rule errs on the safe side.
//! - `plane_distance`: the zone's pixels nearer than the calibrated empty scene by more than
//!   the margin are back-projected to 3D; the distance is a low percentile of their distances
//!   to the plane. At least [`MIN_FOREGROUND_PIXELS`] such pixels are needed.

use dinoedge_calibration::{Calibration, Plane};
use dinoedge_config::{Measure, Zone, ZoneRef};
use glam::DVec2;
use ndarray::Array2;

use crate::percentile::nearest_rank;

/// A rule's polygon, or the calibration's zone it names.
pub fn resolve_zone<'a>(zone: &'a ZoneRef, calibration: Option<&'a Calibration>) -> Result<&'a Zone, String> {
    match zone {
        ZoneRef::Polygon(polygon) => Ok(polygon),
        ZoneRef::Named(name) => {
            let calibration = calibration.ok_or_else(|| format!("zone `{name}` needs the camera's calibration"))?;
            calibration.zone(name).ok_or_else(|| format!("{}: no zone named `{name}`", calibration.file.display()))
        }
    }
}

/// Fewer foreground pixels than this in a zone are taken as noise, not an object.
pub const MIN_FOREGROUND_PIXELS: usize = 16;

/// The pixels of a frame inside a zone (by pixel centre), as flat row-major indices.
#[derive(Debug, Clone)]
pub struct ZoneMask {
    pub width: usize,
    pub pixels: Vec<usize>,
}

impl ZoneMask {
    pub fn new(zone: &Zone, width: usize, height: usize) -> Self {
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .filter(|&(x, y)| zone.contains((x as f64 + 0.5) / width as f64, (y as f64 + 0.5) / height as f64))
            .map(|(x, y)| y * width + x)
            .collect();
        Self { width, pixels }
    }
}

/// A rule's measurement, bound to the frame size and (for plane_distance) the calibration.
#[derive(Debug, Clone)]
pub enum Measurer {
    MinDistance { mask: ZoneMask, percentile: f64 },
    PlaneDistance { mask: ZoneMask, percentile: f64, margin_m: f32, plane: Plane, calibration: Box<Calibration> },
}

impl Measurer {
    /// Binds `measure` on `zone` to frames of `width` x `height`; plane_distance needs the
    /// camera's calibration, with the plane and a background of that size.
    pub fn new(
        measure: &Measure,
        zone: &ZoneRef,
        (width, height): (usize, usize),
        calibration: Option<&Calibration>,
    ) -> Result<Self, String> {
        let mask = ZoneMask::new(resolve_zone(zone, calibration)?, width, height);
        match measure {
            Measure::MinDistance { percentile } => Ok(Measurer::MinDistance { mask, percentile: *percentile }),
            Measure::PlaneDistance { plane, margin_m, percentile } => {
                let calibration = calibration.ok_or("plane_distance needs the camera's calibration")?;
                let file = calibration.file.display();
                let plane = *calibration.plane(plane).ok_or_else(|| format!("{file}: no plane named `{plane}`"))?;
                let background =
                    calibration.background.as_ref().ok_or_else(|| format!("{file}: no background depth"))?;
                let i = &calibration.camera.intrinsics;
                if background.dim() != (height, width) || (i.width as usize, i.height as usize) != (width, height) {
                    return Err(format!(
                        "{file}: calibrated for {}x{} frames, the camera delivers {width}x{height}",
                        i.width, i.height
                    ));
                }
                Ok(Measurer::PlaneDistance {
                    mask,
                    percentile: *percentile,
                    margin_m: *margin_m as f32,
                    plane,
                    calibration: Box::new(calibration.clone()),
                })
            }
        }
    }

    /// The rule's distance in metres on a metric depth map of the bound size.
    pub fn measure(&self, depth: &Array2<f32>) -> Option<f64> {
        let flat = depth.as_slice().expect("depth maps are contiguous");
        match self {
            Measurer::MinDistance { mask, percentile } => {
                let mut values: Vec<f64> =
                    mask.pixels.iter().map(|&i| flat[i]).filter(|d| d.is_finite() && *d > 0.0).map(f64::from).collect();
                nearest_rank(&mut values, *percentile)
            }
            Measurer::PlaneDistance { mask, percentile, margin_m, plane, calibration } => {
                let background =
                    calibration.background.as_ref().expect("checked in new").as_slice().expect("contiguous");
                let mut values: Vec<f64> = mask
                    .pixels
                    .iter()
                    .filter(|&&i| {
                        let (d, bg) = (flat[i], background[i]);
                        d.is_finite() && d > 0.0 && bg > 0.0 && d < bg - margin_m
                    })
                    .map(|&i| {
                        let pixel = DVec2::new((i % mask.width) as f64 + 0.5, (i / mask.width) as f64 + 0.5);
                        plane.distance(calibration.camera.back_project(pixel, flat[i] as f64))
                    })
                    .collect();
                if values.len() < MIN_FOREGROUND_PIXELS { None } else { nearest_rank(&mut values, *percentile) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dinoedge_config::Name;

    fn zone(points: &[[f64; 2]]) -> Zone {
        Zone::try_from(points.to_vec()).unwrap()
    }

    #[test]
    fn the_left_half_zone_holds_the_left_half_pixels() {
        let mask = ZoneMask::new(&zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]), 4, 2);
        assert_eq!(mask.pixels, vec![0, 1, 4, 5]);
    }

    #[test]
    fn min_distance_takes_the_low_percentile_of_valid_depth_in_the_zone() {
        let measurer = Measurer::new(
            &Measure::MinDistance { percentile: 0.0 },
            &ZoneRef::Polygon(zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]])),
            (4, 2),
            None,
        )
        .unwrap();
        // Left half: 3, 0 (invalid), 2.5, NaN (invalid); the right half (0.5 m) is outside.
        let depth = ndarray::arr2(&[[3.0, 0.0, 0.5, 0.5], [2.5, f32::NAN, 0.5, 0.5]]);
        assert_eq!(measurer.measure(&depth), Some(2.5));
        assert_eq!(measurer.measure(&ndarray::Array2::zeros((2, 4))), None, "no valid depth: nothing measured");
    }

    #[test]
    fn a_named_zone_is_the_calibrations_zone_of_that_name() {
        let name = |n: &str| Name::try_from(n.to_string()).unwrap();
        let left = zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]);
        let calibration = Calibration {
            file: "dock1.toml".into(),
            camera_name: name("dock1"),
            camera: dinoedge_calibration::Camera {
                intrinsics: dinoedge_calibration::Intrinsics::from_hfov(4, 2, 80.0),
                pose: dinoedge_calibration::Pose::from_angles(glam::DVec3::new(0.0, 0.0, 3.0), 0.0, 30.0, 0.0),
            },
            alignment: Default::default(),
            planes: vec![],
            zones: vec![dinoedge_calibration::file::NamedZone { name: name("left"), points: left.clone() }],
            background: None,
            fitted_for: None,
        };
        let named = ZoneRef::Named(name("left"));
        assert_eq!(resolve_zone(&named, Some(&calibration)), Ok(&left));
        let measure = Measure::MinDistance { percentile: 0.0 };
        let measurer = Measurer::new(&measure, &named, (4, 2), Some(&calibration)).unwrap();
        assert_eq!(measurer.measure(&ndarray::arr2(&[[3.0, 2.0, 0.5, 0.5], [2.5, 4.0, 0.5, 0.5]])), Some(2.0));
        let missing = ZoneRef::Named(name("right"));
        assert_eq!(resolve_zone(&missing, Some(&calibration)), Err("dock1.toml: no zone named `right`".to_string()));
        assert!(resolve_zone(&named, None).unwrap_err().contains("needs the camera's calibration"));
    }
}
