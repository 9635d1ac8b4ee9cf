//! `dinoedge sim clip`: scripted sequences with per-frame ground truth, for testing the
//! alarm path end to end. The camera is fixed over the dock; the layout changes per frame.
//!
//! Scenarios:
//! - `forklift-approach`: the forklift drives towards the dock and stops with its fork
//!   tips 2.5 m from the dock face (never within the 1.5 m alarm distance);
//! - `forklift-cross`: the same, stopping at 0.8 m, so it crosses 1.5 m;
//! - `person-between`: the forklift is parked 3 m from the dock; a person walks across
//!   between its forks and the dock;
//! - `empty-lighting`: nobody in the scene; the light dims, flickers and comes back (must
//!   not alarm);
//! - `forklift-meets-person`: a person stands in a cross aisle; a forklift drives along it
//!   towards them, stops with its fork tips under a metre away, and backs off again (its
//!   distance to the person, the truth's `to_forklift_m`, falls through 2 m and rises past it);
//! - `forklift-parked`: the forklift stands 3 m from the dock, nobody about, the light steady:
//!   nothing moves (most of a dock's day; what the change gate saves most on).

use std::str::FromStr;

use dinoedge_calibration::{Camera, Intrinsics, Pose};
use glam::DVec3;
use serde::{Deserialize, Serialize};

use crate::dock::{DockLayout, Person};

/// The distance the alarm scenarios are scripted around, metres.
pub const ALARM_DISTANCE_M: f64 = 1.5;
/// How far the fork tips reach ahead of the forklift's centre.
const FORK_REACH: f64 = 2.09;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    ForkliftApproach,
    ForkliftCross,
    PersonBetween,
    EmptyLighting,
    ForkliftMeetsPerson,
    ForkliftParked,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::ForkliftApproach,
        Scenario::ForkliftCross,
        Scenario::PersonBetween,
        Scenario::EmptyLighting,
        Scenario::ForkliftMeetsPerson,
        Scenario::ForkliftParked,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::ForkliftApproach => "forklift-approach",
            Scenario::ForkliftCross => "forklift-cross",
            Scenario::PersonBetween => "person-between",
            Scenario::EmptyLighting => "empty-lighting",
            Scenario::ForkliftMeetsPerson => "forklift-meets-person",
            Scenario::ForkliftParked => "forklift-parked",
        }
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL.into_iter().find(|sc| sc.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(Scenario::name).collect();
            format!("unknown scenario `{s}`; choose one of {}", names.join(", "))
        })
    }
}

/// The fixed camera of the clips: 4.5 m up at the side of the approach lane, looking at the dock.
pub fn clip_camera(width: u32, height: u32) -> Camera {
    Camera {
        intrinsics: Intrinsics::from_hfov(width, height, 85.0),
        pose: Pose::from_angles(DVec3::new(-3.0, 1.0, 4.5), -12.0, 28.0, 0.0),
    }
}

/// Distance travelled after `t` seconds by a vehicle going `speed` m/s that brakes at
/// `decel` m/s² so as to stop after `total` metres.
fn travelled(t: f64, speed: f64, decel: f64, total: f64) -> f64 {
    let braking = speed * speed / (2.0 * decel);
    let cruise = (total - braking).max(0.0) / speed;
    if t <= cruise {
        speed * t
    } else {
        let tb = (t - cruise).min(speed / decel);
        (speed * cruise + speed * tb - decel * tb * tb / 2.0).min(total)
    }
}

/// The layout of every frame of a scenario at `fps`.
/// The clips' dock: the example without its person and with the approach lane clear (the
/// example's second pallet stands in it).
fn clip_dock() -> DockLayout {
    let mut base = DockLayout::example();
    base.people.clear();
    base.pallets.retain(|p| p.x.abs() > 3.0);
    base
}

pub fn script(scenario: Scenario, fps: f64) -> Vec<DockLayout> {
    let base = clip_dock();
    let wall_y = base.wall_y;
    let frames = |seconds: f64| (seconds * fps).round() as usize;
    match scenario {
        Scenario::ForkliftApproach | Scenario::ForkliftCross => {
            let stop_at = if scenario == Scenario::ForkliftApproach { 2.5 } else { 0.8 };
            let (start_gap, speed, decel) = (9.0, 1.2, 0.8);
            let total = start_gap - stop_at;
            (0..frames(10.0))
                .map(|i| {
                    let mut layout = base.clone();
                    let forklift = layout.forklift.as_mut().expect("the example has a forklift");
                    let gap = start_gap - travelled(i as f64 / fps, speed, decel, total);
                    forklift.y = wall_y - gap - FORK_REACH;
                    forklift.x = 0.5;
                    forklift.yaw = 0.0;
                    layout
                })
                .collect()
        }
        Scenario::PersonBetween => (0..frames(9.0))
            .map(|i| {
                let t = i as f64 / fps;
                let mut layout = parked(&base);
                layout.people.push(Person {
                    x: -5.0 + 1.2 * t,
                    y: wall_y - 1.4,
                    yaw: -std::f64::consts::FRAC_PI_2,
                    height: 1.75,
                    shirt: [0.95, 0.5, 0.05],
                    trousers: [0.15, 0.18, 0.3],
                    stride: (t * std::f64::consts::TAU * 0.9).sin(),
                });
                layout
            })
            .collect(),
        Scenario::ForkliftParked => vec![parked(&base); frames(10.0)],
        Scenario::EmptyLighting => (0..frames(8.0))
            .map(|i| {
                let t = i as f64 / fps;
                let mut layout = base.clone();
                layout.forklift = None;
                // Full light, a one-second dimming to 35 %, flicker, then back.
                let level = match t {
                    t if t < 2.0 => 1.0,
                    t if t < 3.0 => 1.0 - 0.65 * (t - 2.0),
                    t if t < 5.0 => 0.35 + if (t * 7.0) as i64 % 2 == 0 { 0.1 } else { 0.0 },
                    t if t < 6.0 => 0.35 + 0.65 * (t - 5.0),
                    _ => 1.0,
                } as f32;
                layout.lighting.ambient *= level;
                layout.lighting.intensity *= level;
                layout
            })
            .collect(),
        Scenario::ForkliftMeetsPerson => {
            // The aisle runs along x at y = 8; the forks point +x, the person stands ahead of them.
            let (aisle_y, person_x, start_gap, closest_gap) = (8.0, 3.0, 6.0, 0.8);
            let (forward, pause, back) = (start_gap - closest_gap, 1.5, 4.5);
            let (speed, decel) = (1.2, 0.8);
            let arrive = (forward - speed * speed / (2.0 * decel)) / speed + speed / decel;
            (0..frames(12.0))
                .map(|i| {
                    let t = i as f64 / fps;
                    let gap = if t <= arrive + pause {
                        start_gap - travelled(t, speed, decel, forward)
                    } else {
                        closest_gap + travelled(t - arrive - pause, speed, decel, back)
                    };
                    let mut layout = base.clone();
                    let forklift = layout.forklift.as_mut().expect("the example has a forklift");
                    forklift.yaw = -std::f64::consts::FRAC_PI_2;
                    forklift.x = person_x - gap - FORK_REACH;
                    forklift.y = aisle_y;
                    layout.people.push(Person {
                        x: person_x + PERSON_HALF_DEPTH,
                        y: aisle_y,
                        yaw: std::f64::consts::FRAC_PI_2,
                        height: 1.8,
                        shirt: [0.1, 0.35, 0.85],
                        trousers: [0.2, 0.2, 0.22],
                        stride: 0.0,
                    });
                    layout
                })
                .collect()
        }
    }
}

/// `base` with its forklift parked facing the dock, its fork tips 3 m from the dock face.
fn parked(base: &DockLayout) -> DockLayout {
    let mut layout = base.clone();
    let forklift = layout.forklift.as_mut().expect("the example has a forklift");
    forklift.y = base.wall_y - 3.0 - FORK_REACH;
    forklift.x = 0.5;
    layout
}

/// Half the depth of a person's torso, front to back (`dock::person_parts`).
const PERSON_HALF_DEPTH: f64 = 0.11;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_braking_profile_stops_exactly_at_the_planned_distance() {
        assert_eq!(travelled(0.0, 1.2, 0.8, 6.5), 0.0);
        assert!((travelled(100.0, 1.2, 0.8, 6.5) - 6.5).abs() < 1e-12);
        let mut last = 0.0;
        for i in 0..200 {
            let d = travelled(i as f64 * 0.05, 1.2, 0.8, 6.5);
            assert!(d >= last, "never backwards");
            last = d;
        }
    }

    #[test]
    fn a_truth_crosses_between_its_frames_and_is_back_at_the_first_frame_above() {
        let frames = [2.0, 1.6, 1.4, 1.2, 1.5, 1.7]
            .iter()
            .enumerate()
            .map(|(i, &d)| FrameTruth {
                index: i,
                t: i as f64 / 10.0,
                truth: crate::truth::Truth { forklift_to_dock_face_m: Some(d), people: Vec::new() },
            })
            .collect();
        let clip = ClipTruth {
            format: "dinoedge-clip/1",
            scenario: Scenario::ForkliftCross,
            fps: 10.0,
            camera: clip_camera(64, 48),
            dock_face: serde_json::Value::Null,
            alarm_distance_m: 1.5,
            first_frame_below_alarm_distance: Some(2),
            frames,
        };
        let dock = |f: &FrameTruth| f.truth.forklift_to_dock_face_m;
        let (crossing, back) = clip.below(dock, 1.5).unwrap();
        assert!((crossing - 0.15).abs() < 1e-12, "halfway from 1.6 at 0.1 s to 1.4 at 0.2 s: {crossing}");
        assert_eq!(back, 0.4, "1.5 m is not below 1.5 m");
        assert_eq!(clip.below(dock, 1.0), None);
        assert_eq!(clip.below(dock, 1.3).map(|(_, b)| b), Some(0.4));
        assert_eq!(clip.below(dock, 1.75).map(|(_, b)| b), Some(0.6), "below to the end: the clip's end");
    }

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>().unwrap(), s);
        }
        assert!("forklift".parse::<Scenario>().unwrap_err().contains("forklift-approach"));
    }
}

/// Ground truth of one clip frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameTruth {
    pub index: usize,
    /// Seconds since the first frame.
    pub t: f64,
    #[serde(flatten)]
    pub truth: crate::truth::Truth,
}

/// `truth.json` of a clip.
#[derive(Debug, Clone, Serialize)]
pub struct ClipTruth {
    pub format: &'static str,
    pub scenario: Scenario,
    pub fps: f64,
    pub camera: Camera,
    pub dock_face: serde_json::Value,
    pub alarm_distance_m: f64,
    /// The first frame whose forklift is nearer the dock face than `alarm_distance_m`.
    pub first_frame_below_alarm_distance: Option<usize>,
    pub frames: Vec<FrameTruth>,
}

impl ClipTruth {
    /// When `truth` (a value of each frame's truth) first goes below `distance`, in seconds into
    /// the clip (between the frames on either side of the crossing), and when it is next back
    /// at or above it (the clip's end if never); `None` if it never goes below.
    pub fn below(&self, truth: impl Fn(&FrameTruth) -> Option<f64>, distance: f64) -> Option<(f64, f64)> {
        let values: Vec<Option<f64>> = self.frames.iter().map(truth).collect();
        let first = values.iter().position(|v| v.is_some_and(|d| d < distance))?;
        let t = |i: usize| self.frames[i].t;
        let crossing = match (first.checked_sub(1).and_then(|p| values[p]), values[first]) {
            (Some(before), Some(after)) => {
                t(first - 1) + (t(first) - t(first - 1)) * (before - distance) / (before - after)
            }
            _ => t(first),
        };
        let back = (first..values.len())
            .find(|&i| values[i].is_none_or(|d| d >= distance))
            .map_or(t(values.len() - 1) + 1.0 / self.fps, t);
        Some((crossing, back))
    }
}

/// Renders a scenario into `dir` (the RGB-D folder format, plus `truth.json`).
pub fn write_clip(
    dir: &std::path::Path,
    scenario: Scenario,
    fps: f64,
    (width, height): (u32, u32),
    progress: &dyn Fn(usize, usize),
) -> std::io::Result<ClipTruth> {
    let camera = clip_camera(width, height);
    let layouts = script(scenario, fps);
    let mut frames = Vec::with_capacity(layouts.len());
    for (i, layout) in layouts.iter().enumerate() {
        let scene = crate::dock::build(layout);
        let frame = crate::render(&scene, &camera, &crate::RenderOptions { noise: 1.0, seed: i as u64 });
        let truth = crate::truth(layout, &scene);
        let record = crate::record::frame_record(&camera, layout, &scene, &truth);
        crate::output::write_frame(dir, &crate::dataset::frame_name(i), &frame, &record)?;
        frames.push(FrameTruth { index: i, t: i as f64 / fps, truth });
        progress(i + 1, layouts.len());
    }
    let first =
        frames.iter().find(|f| f.truth.forklift_to_dock_face_m.is_some_and(|d| d < ALARM_DISTANCE_M)).map(|f| f.index);
    let wall_y = layouts.first().map_or(0.0, |l| l.wall_y);
    let truth = ClipTruth {
        format: "dinoedge-clip/1",
        scenario,
        fps,
        camera,
        dock_face: serde_json::json!({ "point": [0.0, wall_y, 0.0], "normal": [0.0, -1.0, 0.0] }),
        alarm_distance_m: ALARM_DISTANCE_M,
        first_frame_below_alarm_distance: first,
        frames,
    };
    let json = serde_json::to_string_pretty(&truth).expect("serialisable");
    std::fs::write(dir.join("truth.json"), json)?;
    write_true_calibration(dir, &camera, wall_y)?;
    Ok(truth)
}

/// The calibration `dinoedge calibrate` would ideally find for the clip camera, from the
/// simulator's truth: the exact camera, no depth correction, the dock face as plane
/// `dock_face`, and the empty dock's depth as the background (`calibration.toml`,
/// `background.png`).
fn write_true_calibration(dir: &std::path::Path, camera: &Camera, wall_y: f64) -> std::io::Result<()> {
    use dinoedge_calibration::file::{self, CalibrationFile, NamedPlane, PoseAngles};
    let mut empty = clip_dock();
    empty.forklift = None;
    let scene = crate::dock::build(&empty);
    let frame = crate::render(&scene, camera, &crate::RenderOptions { noise: 0.0, seed: 0 });
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let depth = ndarray::Array2::from_shape_vec((h, w), frame.depth).expect("one depth per pixel");
    file::write_depth_mm(&dir.join("background.png"), &depth).map_err(std::io::Error::other)?;
    let calibration = CalibrationFile {
        version: file::FORMAT_VERSION,
        camera: "dock1".to_string().try_into().expect("a valid name"),
        fitted_for: None,
        intrinsics: camera.intrinsics,
        pose: PoseAngles::from(&camera.pose),
        alignment: Default::default(),
        planes: vec![NamedPlane {
            name: "dock_face".to_string().try_into().expect("a valid name"),
            point: [0.0, wall_y, 0.0],
            normal: [0.0, -1.0, 0.0],
        }],
        zones: Vec::new(),
        background: Some("background.png".into()),
        background_spread: None,
        residuals: None,
    };
    let text = format!("# The simulator's true calibration of this clip's camera.\n{}", calibration.to_toml());
    std::fs::write(dir.join("calibration.toml"), text)
}

/// What `dinoedge calibrate` would record of the empty scene of the clip in `clip` if the depth
/// model had `noise`'s errors: the clip's true calibration, with the background and its spread
/// from as many frames of the empty scene as `calibrate` records
/// ([`CALIBRATION_FRAMES`](dinoedge_calibration::background::CALIBRATION_FRAMES)), each with
/// fresh errors, at the scale the depth alignment fitted to the floor marks gives it (taken as
/// exact: the alignment's own error is the calibrate tests' business). Writes
/// `calibration.toml`, `background.png` and `background-spread.png` into `out` (made if
/// missing); returns the calibration's path.
pub fn write_calibration_with(
    clip: &std::path::Path,
    noise: crate::noise::DepthNoise,
    out: &std::path::Path,
) -> std::io::Result<std::path::PathBuf> {
    use dinoedge_calibration::background::{Background, CALIBRATION_FRAMES};
    use dinoedge_calibration::file::{CalibrationFile, read_depth_mm, write_depth_mm};
    std::fs::create_dir_all(out)?;
    let exact = read_depth_mm(&clip.join("background.png")).map_err(std::io::Error::other)?;
    let frames: Vec<ndarray::Array2<f32>> = (0..CALIBRATION_FRAMES as u64)
        .map(|k| {
            let mut depth = exact.clone();
            let mut classes = ndarray::Array2::from_elem(depth.dim(), dinoedge_config::ObjectClass::Other);
            noise.apply(k, &mut depth, &mut classes);
            depth
        })
        .collect();
    let mut background = Background::from_frames(frames);
    let mut ratios: Vec<f32> =
        background.depth.iter().zip(exact.iter()).filter(|(b, e)| **b > 0.0 && **e > 0.0).map(|(b, e)| b / e).collect();
    if ratios.is_empty() {
        return Err(std::io::Error::other(format!("{}: the clip's background has no depth", clip.display())));
    }
    let mid = ratios.len() / 2;
    let scale = *ratios.select_nth_unstable_by(mid, f32::total_cmp).1;
    background.depth.mapv_inplace(|d| d / scale);
    let true_file = clip.join("calibration.toml");
    let text = std::fs::read_to_string(&true_file)?;
    let mut file: CalibrationFile = dinoedge_config::from_toml(&text, &true_file).map_err(std::io::Error::other)?;
    write_depth_mm(&out.join("background.png"), &background.depth).map_err(std::io::Error::other)?;
    file.background = Some("background.png".into());
    if let Some(spread) = &mut background.spread {
        spread.mapv_inplace(|s| s / scale);
        write_depth_mm(&out.join("background-spread.png"), spread).map_err(std::io::Error::other)?;
        file.background_spread = Some("background-spread.png".into());
    }
    let path = out.join("calibration.toml");
    std::fs::write(
        &path,
        format!("# The simulator's calibration under a depth model's errors ({noise:?}).\n{}", file.to_toml()),
    )?;
    Ok(path)
}
