//! What a fit is reported as, in the terminal and (as JSON) on the UI's page: the camera's
//! pose and reprojection error, the depth alignment with its held-out residuals and the floor's
//! error before and after, how much the model's depth of the empty scene moves from frame to
//! frame (and a warning when it is from fewer than [`CALIBRATION_FRAMES`] frames), each
//! reference's measured against read distance, each plane's distance from the camera.

use dinoedge_calibration::background::CALIBRATION_FRAMES;
use dinoedge_calibration::workflow::Outcome;
use dinoedge_calibration::{Camera, Plane};
use dinoedge_config::DepthKind;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub height_m: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
    pub heading_deg: f64,
    pub reprojection_rms_px: f64,
    pub reprojection_max_px: f64,
    pub a: f64,
    pub b: f64,
    pub holdout_rmse_m: f64,
    pub holdout_max_m: f64,
    pub fitted: usize,
    pub held_out: usize,
    /// A metric model's only: a relative model has no depth before the alignment.
    pub floor_abs_rel_before: Option<f64>,
    pub output: DepthKind,
    pub floor_abs_rel_after: f64,
    /// The empty scene's relative spread ([`Background::relative_spread`]), when the frames
    /// were enough to tell it.
    ///
    /// [`Background::relative_spread`]: dinoedge_calibration::background::Background::relative_spread
    pub empty_scene_spread: Option<f64>,
    /// The frames of the empty scene the background and its spread are from, and how many it
    /// needs ([`CALIBRATION_FRAMES`]).
    pub empty_scene_frames: usize,
    pub empty_scene_frames_wanted: usize,
    pub references: Vec<Reading>,
    pub planes: Vec<PlaneDistance>,
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    pub measured_m: f64,
    pub reads_m: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlaneDistance {
    pub name: String,
    pub distance_m: f64,
}

impl Report {
    pub fn new(outcome: &Outcome) -> Report {
        let pose = &outcome.pose.pose;
        let (heading_deg, pitch_deg, roll_deg) = pose.angles();
        let al = &outcome.alignment;
        Report {
            height_m: pose.position.z,
            pitch_deg,
            roll_deg,
            heading_deg,
            reprojection_rms_px: outcome.pose.rms_px,
            reprojection_max_px: outcome.pose.max_px,
            a: al.alignment.a,
            b: al.alignment.b,
            holdout_rmse_m: al.holdout_rmse_m,
            holdout_max_m: al.holdout_max_m,
            fitted: al.fitted,
            held_out: al.held_out,
            floor_abs_rel_before: outcome.floor_abs_rel.0,
            output: al.alignment.output,
            floor_abs_rel_after: outcome.floor_abs_rel.1,
            empty_scene_spread: outcome.background.relative_spread(),
            empty_scene_frames: outcome.background_frames,
            empty_scene_frames_wanted: CALIBRATION_FRAMES,
            references: outcome.readings.iter().map(|&(measured_m, reads_m)| Reading { measured_m, reads_m }).collect(),
            planes: planes(outcome)
                .map(|(name, plane)| PlaneDistance { name, distance_m: plane.distance(pose.position) })
                .collect(),
            zones: outcome.file.zones.iter().map(|z| z.name.to_string()).collect(),
        }
    }
}

/// The outcome's planes, ready for distances.
pub fn planes(outcome: &Outcome) -> impl Iterator<Item = (String, Plane)> + '_ {
    outcome.file.planes.iter().map(|p| (p.name.to_string(), p.plane()))
}

/// The camera the outcome solved.
pub fn camera(outcome: &Outcome) -> Camera {
    Camera { intrinsics: outcome.file.intrinsics, pose: outcome.pose.pose }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "camera    height {:.3} m, pitch {:.2}°, roll {:.2}°, heading {:.2}°; reprojection {:.2} px rms, {:.2} px max",
            self.height_m,
            self.pitch_deg,
            self.roll_deg,
            self.heading_deg,
            self.reprojection_rms_px,
            self.reprojection_max_px
        )?;
        let line = match self.output {
            DepthKind::Metric => format!("metric = {:.4} · predicted {:+.4} m", self.a, self.b),
            DepthKind::Relative => {
                format!("1 / metric = {:.4} · predicted {:+.4} per m (relative model)", self.a, self.b)
            }
        };
        writeln!(
            f,
            "depth     {line}; held-out residual {:.3} m rms, {:.3} m max ({} fitted, {} held out)",
            self.holdout_rmse_m, self.holdout_max_m, self.fitted, self.held_out
        )?;
        match self.floor_abs_rel_before {
            Some(before) => {
                writeln!(f, "floor     AbsRel {before:.3} before the alignment, {:.3} after", self.floor_abs_rel_after)?
            }
            None => writeln!(f, "floor     AbsRel {:.3} after the alignment", self.floor_abs_rel_after)?,
        }
        if let Some(spread) = self.empty_scene_spread {
            writeln!(
                f,
                "empty     the depth of the empty scene moves by {:.1} % from frame to frame (median of {} frames); \
                 the README's \"What the rules do under a depth model's errors\" says what the rules do at it",
                spread * 100.0,
                self.empty_scene_frames
            )?;
        }
        if self.empty_scene_frames < self.empty_scene_frames_wanted {
            writeln!(
                f,
                "warning   the empty scene is from {} of the {} frames it needs (a `--frame` each; on the \
                 page, keep the scene empty longer before Fit): with fewer, its spread is too unsteady to tell \
                 a model's errors from something standing out, and rules that go by geometry alone start falsely",
                self.empty_scene_frames, self.empty_scene_frames_wanted
            )?;
        }
        for (i, r) in self.references.iter().enumerate() {
            writeln!(f, "reference {}: measured {:.2} m, reads {:.2} m", i + 1, r.measured_m, r.reads_m)?;
        }
        for p in &self.planes {
            writeln!(f, "plane     {}: {:.2} m from the camera", p.name, p.distance_m)?;
        }
        for z in &self.zones {
            writeln!(f, "zone      {z}")?;
        }
        Ok(())
    }
}
