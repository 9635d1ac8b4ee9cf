//! One number per rule and frame: the distance the rule compares with its thresholds, or
//! `None` when nothing is measurable in the zone (no valid depth, nothing standing out of the
//! empty scene, no part of the rule's classes), which counts as "nothing near".
//!
//! Every rule measures **parts** ([`parts`](super::parts)): its candidate pixels grouped by
//! neighbourhood and agreeing depth, parts smaller than
//! [`MIN_PART_SHARE`](super::parts::MIN_PART_SHARE) of the frame dropped as noise,
//! and the distance is the nearest part's, whatever the size of the others: fork tines count
//! as much as the forklift's body.
//!
//! - `min_distance`: the candidates are the zone's pixels (of the `objects` only, when it names
//!   classes); the value is metric z-depth (along the optical axis), never more than the
//!   straight-line distance, so the rule errs on the safe side.
//! - `plane_distance`: the candidates are the zone's foreground pixels — standing out of the
//!   calibrated empty scene (nearer than its depth by more than [`SPREADS`] times its spread
//!   there and more than the margin), or of the rule's classes and not the empty scene itself
//!   (nearer than it by more than [`NOT_BACKGROUND_SPREADS`] spreads) — back-projected to 3D;
//!   the value is the distance to the plane.
//! - `object_distance`: the zone's parts of class `from` and of class `to` (each not the empty
//!   scene itself, where the calibration has it) are back-projected; the distance is, over the
//!   `from` points, the [`NEAR_RANK`](super::parts::NEAR_RANK)-th smallest distance to the
//!   nearest `to` point.

use dinoedge_calibration::background::{Background, NOT_BACKGROUND_SPREADS, SPREADS};
use dinoedge_calibration::{Calibration, Plane};
use dinoedge_config::{ClassSet, Foreground, Measure, ObjectClass, Zone, ZoneRef};
use glam::{DVec2, DVec3};
use ndarray::Array2;

use super::parts::{LINK, LINK_SPREADS, Parts, min_part, near};

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

/// An `object_distance` compares at most this many points of each class (an even subsample
/// of the class's parts), each `from` point with the `to` points near it on one axis
/// ([`nearest_distances`]).
const MAX_POINTS: usize = 4096;

/// What a rule measures on: a frame's metric depth and, when the model gives them, its
/// pixels' classes, both [height, width].
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub depth: &'a Array2<f32>,
    pub classes: Option<&'a Array2<ObjectClass>>,
}

/// A rule cannot measure: the depth in its zone is NaN or infinite at `bad` of its `of` pixels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the depth is not a number at {bad} of the zone's {of} pixels (the model or its alignment is broken)")]
pub struct NotFinite {
    pub bad: usize,
    pub of: usize,
}

/// The pixels of a frame inside a zone (by pixel centre), as flat row-major indices.
#[derive(Debug, Clone)]
pub struct ZoneMask {
    pub width: usize,
    /// The smallest part of the frame's size ([`min_part`]).
    min_part: usize,
    pub pixels: Vec<usize>,
}

impl ZoneMask {
    pub fn new(zone: &Zone, width: usize, height: usize) -> Self {
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .filter(|&(x, y)| zone.contains((x as f64 + 0.5) / width as f64, (y as f64 + 0.5) / height as f64))
            .map(|(x, y)| y * width + x)
            .collect();
        Self { width, min_part: min_part(width, height), pixels }
    }

    /// The centre of pixel `i` (a flat index), in pixel coordinates.
    fn centre(&self, i: usize) -> DVec2 {
        DVec2::new((i % self.width) as f64 + 0.5, (i / self.width) as f64 + 0.5)
    }
}

/// How a `plane_distance` rule picks its pixels, bound to the calibration's background.
#[derive(Debug, Clone)]
pub enum Picked {
    /// Standing out of the background (same size as the frame) by more than its spread allows
    /// and more than `margin_m`. The background is moved here out of the measurer's own copy
    /// of the calibration (held once, where it is needed).
    StandsOut { margin_m: f32, background: Background },
    /// Of these classes, and not the background itself where the calibration has one.
    Objects(ClassSet),
}

/// A rule's measurement, bound to the frame size and (for plane_distance and object_distance)
/// the calibration.
#[derive(Debug, Clone)]
pub enum Measurer {
    MinDistance { mask: ZoneMask, objects: Option<ClassSet> },
    PlaneDistance { mask: ZoneMask, picked: Picked, plane: Plane, calibration: Box<Calibration> },
    ObjectDistance { mask: ZoneMask, from: ObjectClass, to: ObjectClass, calibration: Box<Calibration> },
}

impl Measurer {
    /// Binds `measure` on `zone` to frames of `width` x `height`; plane_distance and
    /// object_distance need the camera's calibration for frames of that size (and
    /// plane_distance its plane, and the background when it goes by geometry alone).
    pub fn new(
        measure: &Measure,
        zone: &ZoneRef,
        (width, height): (usize, usize),
        calibration: Option<&Calibration>,
    ) -> Result<Self, String> {
        let mask = ZoneMask::new(resolve_zone(zone, calibration)?, width, height);
        let calibrated = |kind: &str| -> Result<Box<Calibration>, String> {
            let calibration = calibration.ok_or_else(|| format!("{kind} needs the camera's calibration"))?;
            let i = &calibration.camera.intrinsics;
            if (i.width as usize, i.height as usize) != (width, height) {
                return Err(format!(
                    "{}: calibrated for {}x{} frames, the camera delivers {width}x{height}",
                    calibration.file.display(),
                    i.width,
                    i.height
                ));
            }
            Ok(Box::new(calibration.clone()))
        };
        match *measure {
            Measure::MinDistance { objects } => Ok(Measurer::MinDistance { mask, objects }),
            Measure::PlaneDistance { ref plane, foreground } => {
                let mut calibration = calibrated("plane_distance")?;
                let file = calibration.file.display().to_string();
                let plane = *calibration.plane(plane).ok_or_else(|| format!("{file}: no plane named `{plane}`"))?;
                let picked = match foreground {
                    Foreground::Objects(set) => Picked::Objects(set),
                    Foreground::StandsOut { margin_m } => Picked::StandsOut {
                        margin_m: margin_m as f32,
                        background: calibration
                            .background
                            .take()
                            .ok_or_else(|| format!("{file}: no background depth"))?,
                    },
                };
                Ok(Measurer::PlaneDistance { mask, picked, plane, calibration })
            }
            Measure::ObjectDistance { from, to } => {
                Ok(Measurer::ObjectDistance { mask, from, to, calibration: calibrated("object_distance")? })
            }
        }
    }

    /// The rule's distance in metres on a frame of the bound size (`None`: nothing to measure
    /// in the zone). A rule that counts classes measures nothing on a frame without them. A
    /// depth that is not a number anywhere in the zone (a broken model or alignment) is an
    /// error: the rule cannot tell near from far there.
    pub fn measure(&self, seen: Seen) -> Result<Option<f64>, NotFinite> {
        let (Measurer::MinDistance { mask, .. }
        | Measurer::PlaneDistance { mask, .. }
        | Measurer::ObjectDistance { mask, .. }) = self;
        let depth = seen.depth.as_slice().expect("depth maps are contiguous");
        match mask.pixels.iter().filter(|&&i| !depth[i].is_finite()).count() {
            0 => Ok(self.distance(seen)),
            bad => Err(NotFinite { bad, of: mask.pixels.len() }),
        }
    }

    /// The distance, on a depth that is finite in the zone.
    fn distance(&self, seen: Seen) -> Option<f64> {
        let depth = seen.depth.as_slice().expect("depth maps are contiguous");
        let valid = |i: usize| depth[i] > 0.0;
        let classes = seen.classes.map(|c| c.as_slice().expect("class maps are contiguous"));
        let of = |set: ClassSet, i: usize| classes.is_some_and(|c| set.contains(c[i]));
        // Not the empty scene itself: nearer than its depth there by more than its spread.
        let not_background = |background: Option<&Background>, i: usize| {
            background.is_none_or(|b| b.nearer(i, depth[i], NOT_BACKGROUND_SPREADS, 0.0))
        };
        let parts = |mask: &ZoneMask, candidate: &dyn Fn(usize) -> bool, background: Option<&Background>| {
            let candidates: Vec<usize> = mask.pixels.iter().copied().filter(|&i| valid(i) && candidate(i)).collect();
            Parts::of(&candidates, mask.width, mask.min_part, |a, b| agree(depth, background, a, b))
        };
        match self {
            Measurer::MinDistance { mask, objects } => {
                if objects.is_some() && classes.is_none() {
                    return None;
                }
                parts(mask, &|i| objects.is_none_or(|set| of(set, i)), None).nearest(|i| f64::from(depth[i]))
            }
            Measurer::PlaneDistance { mask, picked, plane, calibration } => {
                let (candidate, background): (Box<dyn Fn(usize) -> bool>, Option<&Background>) = match picked {
                    Picked::StandsOut { margin_m, background } => {
                        (Box::new(move |i| background.nearer(i, depth[i], SPREADS, *margin_m)), Some(background))
                    }
                    Picked::Objects(set) => {
                        let background = calibration.background.as_ref();
                        (Box::new(move |i| of(*set, i) && not_background(background, i)), background)
                    }
                };
                let point = |i: usize| calibration.camera.back_project(mask.centre(i), f64::from(depth[i]));
                parts(mask, &*candidate, background).nearest(|i| plane.distance(point(i)))
            }
            Measurer::ObjectDistance { mask, from, to, calibration } => {
                let background = calibration.background.as_ref();
                let points = |class: ObjectClass| -> Option<Vec<DVec3>> {
                    let set = ClassSet::of(class);
                    let kept = parts(mask, &|i| of(set, i) && not_background(background, i), background);
                    let pixels: Vec<usize> = kept.pixels().collect();
                    if pixels.is_empty() {
                        return None;
                    }
                    let step = pixels.len().div_ceil(MAX_POINTS);
                    Some(
                        pixels
                            .iter()
                            .step_by(step)
                            .map(|&i| calibration.camera.back_project(mask.centre(i), f64::from(depth[i])))
                            .collect(),
                    )
                };
                let (from, to) = (points(*from)?, points(*to)?);
                near(nearest_distances(&from, to).into_iter())
            }
        }
    }
}

/// Whether two neighbouring pixels' depths agree: within [`LINK`] of the nearer, and
/// [`LINK_SPREADS`] times the background's larger spread at the two where the calibration
/// knows it.
fn agree(depth: &[f32], background: Option<&Background>, a: usize, b: usize) -> bool {
    let spread = background.map_or(0.0, |bg| bg.spread_at(a).max(bg.spread_at(b)));
    (depth[a] - depth[b]).abs() <= LINK * depth[a].min(depth[b]) + LINK_SPREADS * spread
}

/// For each point of `from`, the distance to the nearest point of `to` (not empty): exact,
/// with `to` sorted along the axis it spreads most on, each search widening from the point's
/// place on that axis until the gap alone exceeds the best distance found.
fn nearest_distances(from: &[DVec3], mut to: Vec<DVec3>) -> Vec<f64> {
    let extent = to.iter().fold([DVec3::INFINITY, DVec3::NEG_INFINITY], |[lo, hi], p| [lo.min(*p), hi.max(*p)]);
    let spread = extent[1] - extent[0];
    let axis = if spread.x >= spread.y && spread.x >= spread.z {
        0
    } else if spread.y >= spread.z {
        1
    } else {
        2
    };
    to.sort_by(|a, b| a[axis].total_cmp(&b[axis]));
    from.iter()
        .map(|p| {
            let start = to.partition_point(|q| q[axis] < p[axis]);
            let mut best = f64::INFINITY;
            for q in to[start..].iter() {
                if (q[axis] - p[axis]).powi(2) >= best {
                    break;
                }
                best = best.min(p.distance_squared(*q));
            }
            for q in to[..start].iter().rev() {
                if (p[axis] - q[axis]).powi(2) >= best {
                    break;
                }
                best = best.min(p.distance_squared(*q));
            }
            best.sqrt()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dinoedge_config::Name;

    #[test]
    fn the_pruned_nearest_point_search_is_the_brute_force_one() {
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for spread in [DVec3::new(8.0, 1.0, 2.0), DVec3::new(0.5, 9.0, 1.0), DVec3::new(0.1, 0.2, 3.0)] {
            let mut cloud =
                |n: usize| -> Vec<DVec3> { (0..n).map(|_| DVec3::new(next(), next(), next()) * spread).collect() };
            let (from, to) = (cloud(300), cloud(500));
            let brute: Vec<f64> = from
                .iter()
                .map(|p| to.iter().map(|q| p.distance_squared(*q)).fold(f64::INFINITY, f64::min).sqrt())
                .collect();
            assert_eq!(nearest_distances(&from, to), brute, "spread {spread}");
        }
        let one = nearest_distances(&[DVec3::ZERO, DVec3::X], vec![DVec3::new(3.0, 4.0, 0.0)]);
        assert_eq!(one, [5.0, 20f64.sqrt()]);
    }

    fn zone(points: &[[f64; 2]]) -> Zone {
        Zone::try_from(points.to_vec()).unwrap()
    }

    #[test]
    fn the_left_half_zone_holds_the_left_half_pixels() {
        let mask = ZoneMask::new(&zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]), 4, 2);
        assert_eq!(mask.pixels, vec![0, 1, 4, 5]);
    }

    /// A `min_distance` rule on the left half of a 16x8 frame.
    fn left_half_min_distance() -> Measurer {
        let left = ZoneRef::Polygon(zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]));
        Measurer::new(&Measure::MinDistance { objects: None }, &left, (16, 8), None).unwrap()
    }

    #[test]
    fn min_distance_is_the_nearest_part_of_valid_depth_in_the_zone() {
        let measurer = left_half_min_distance();
        // The left half: 3 m, with a 4x4 block at 2 m, a 2-pixel speck at 0.5 m (noise),
        // and invalid depth (0, -1) in one row; the right half (0.2 m) is outside the zone.
        let block = |y: usize, x: usize| (2..6).contains(&y) && (2..6).contains(&x);
        let depth = Array2::from_shape_fn((8, 16), |(y, x)| match (y, x) {
            (_, 8..) => 0.2,
            _ if block(y, x) => 2.0,
            (7, 0..2) => 0.5,
            (0, _) => [0.0, -1.0][x % 2],
            _ => 3.0,
        });
        assert_eq!(measurer.measure(seen(&depth)), Ok(Some(2.0)));
        assert_eq!(measurer.measure(seen(&Array2::zeros((8, 16)))), Ok(None), "no valid depth: nothing measured");
        // Item 3 of the reliability issue: NaN was taken for "no depth here", and the rule
        // never alarmed, silently.
        let mut broken = depth.clone();
        broken[(1, 1)] = f32::INFINITY;
        broken[(3, 4)] = f32::NAN;
        broken[(3, 12)] = f32::NAN;
        assert_eq!(measurer.measure(seen(&broken)), Err(NotFinite { bad: 2, of: 64 }), "only the zone counts");
    }

    fn seen(depth: &Array2<f32>) -> Seen<'_> {
        Seen { depth, classes: None }
    }

    /// A 16x8 frame seen from 3 m straight above a floor (every pixel 3 m deep; 1 px = 0.375 m
    /// there): columns 0–2 a person, 11–15 a forklift, the rest floor.
    fn overhead() -> (Calibration, Array2<f32>, Array2<ObjectClass>) {
        let calibration = Calibration {
            file: "overhead.toml".into(),
            camera_name: Name::try_from("top".to_string()).unwrap(),
            camera: dinoedge_calibration::Camera {
                intrinsics: dinoedge_calibration::Intrinsics::from_hfov(16, 8, 90.0),
                pose: dinoedge_calibration::Pose::from_angles(DVec3::new(0.0, 0.0, 3.0), 0.0, 90.0, 0.0),
            },
            alignment: Default::default(),
            planes: vec![(
                Name::try_from("middle".to_string()).unwrap(),
                Plane { point: DVec3::ZERO, normal: DVec3::X },
            )],
            zones: vec![],
            background: None,
            fitted_for: None,
        };
        let classes = Array2::from_shape_fn((8, 16), |(_, x)| match x {
            0..=2 => ObjectClass::Person,
            11.. => ObjectClass::Forklift,
            _ => ObjectClass::Floor,
        });
        (calibration, Array2::from_elem((8, 16), 3.0), classes)
    }

    #[test]
    fn rules_with_classes_measure_only_their_classes_pixels() {
        let (calibration, depth, classes) = overhead();
        let whole = ZoneRef::Polygon(zone(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]));
        let with_classes = Seen { depth: &depth, classes: Some(&classes) };
        let bind = |measure: Measure| Measurer::new(&measure, &whole, (16, 8), Some(&calibration)).unwrap();
        let set = |class| ClassSet::of(class);
        let plane = |class| Measure::PlaneDistance {
            plane: Name::try_from("middle".to_string()).unwrap(),
            foreground: Foreground::Objects(set(class)),
        };
        // Column centres 2.5 and 11.5 are 5.5 and 3.5 px from the middle: 2.0625 m and 1.3125 m.
        let close = |d: Option<f64>, want: f64| d.is_some_and(|d| (d - want).abs() < 1e-9);
        assert!(close(bind(plane(ObjectClass::Person)).distance(with_classes), 2.0625));
        assert!(close(bind(plane(ObjectClass::Forklift)).distance(with_classes), 1.3125));
        assert_eq!(bind(plane(ObjectClass::Load)).distance(with_classes), None, "no load in view");
        let near = bind(Measure::ObjectDistance { from: ObjectClass::Person, to: ObjectClass::Forklift });
        assert!(close(near.distance(with_classes), 9.0 * 0.375), "columns 2 and 11 are 9 px apart");
        let min = bind(Measure::MinDistance { objects: Some(set(ObjectClass::Forklift)) });
        assert_eq!(min.distance(with_classes), Some(3.0));
        for rule in [&near, &min] {
            assert_eq!(rule.distance(seen(&depth)), None, "a frame without classes measures nothing");
        }
        // A part of fewer than `min_part` pixels (4 of a frame this small) is noise.
        let mut few = classes.clone();
        few.mapv_inplace(|c| if c == ObjectClass::Forklift { ObjectClass::Floor } else { c });
        few[[0, 15]] = ObjectClass::Forklift;
        assert_eq!(near.distance(Seen { depth: &depth, classes: Some(&few) }), None);
    }

    #[test]
    fn a_named_zone_is_the_calibrations_zone_of_that_name() {
        let name = |n: &str| Name::try_from(n.to_string()).unwrap();
        let left = zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]);
        let calibration = Calibration {
            file: "dock1.toml".into(),
            camera_name: name("dock1"),
            camera: dinoedge_calibration::Camera {
                intrinsics: dinoedge_calibration::Intrinsics::from_hfov(16, 8, 80.0),
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
        let measure = Measure::MinDistance { objects: None };
        let measurer = Measurer::new(&measure, &named, (16, 8), Some(&calibration)).unwrap();
        let depth = Array2::from_shape_fn((8, 16), |(_, x)| if x < 8 { 2.0 } else { 0.5 });
        assert_eq!(measurer.distance(seen(&depth)), Some(2.0));
        let missing = ZoneRef::Named(name("right"));
        assert_eq!(resolve_zone(&missing, Some(&calibration)), Err("dock1.toml: no zone named `right`".to_string()));
        assert!(resolve_zone(&named, None).unwrap_err().contains("needs the camera's calibration"));
    }
}
