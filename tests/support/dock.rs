//! A simulated dock whose camera is known, for the calibrate tests: an empty 320x240 clip,
//! a configuration with the clip as the camera's (looping) image source and the
//! simulator's exact depth as the model, and the true camera to project floor points with.

use std::path::Path;

use dinoedge_calibration::{Calibration, Camera};
use glam::DVec3;

use super::{dinoedge, path, run_ok};

pub struct Site {
    pub dir: tempfile::TempDir,
    pub camera: Camera,
    /// The dock face is the plane y = wall_y.
    pub wall_y: f64,
}

/// Tape marks over the approach lane, out to the dock edge (the face is at y = 12).
pub const MARKS: &[[f64; 2]] =
    &[[-2.0, 5.0], [2.0, 5.0], [-2.0, 9.0], [2.0, 9.0], [0.0, 7.0], [4.0, 7.0], [-1.0, 11.5], [3.0, 11.5]];

pub fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip");
    run_ok(
        &["sim", "clip", "--scenario", "empty-lighting", "--out", path(&clip), "--width", "320", "--height", "240"],
        dir.path(),
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(clip.join("truth.json")).unwrap()).unwrap();
    let camera: Camera = serde_json::from_value(truth["camera"].clone()).unwrap();
    let wall_y = truth["dock_face"]["point"][1].as_f64().unwrap();
    let config = "device_id = \"cal\"\n[model]\nkind = \"sim-truth\"\n[[camera]]\nname = \"dock1\"\n[camera.source]\nkind = \"images\"\npath = \"clip/rgb\"\nfps = 10\nloop = true\n";
    std::fs::write(dir.path().join("dinoedge.toml"), config).unwrap();
    Site { dir, camera, wall_y }
}

impl Site {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `dinoedge calibrate` scripted, with the clip's first two frames.
    pub fn calibrate_scripted(&self, points: &Path, out: &Path) -> std::process::Output {
        let d = self.path();
        dinoedge(
            &[
                "calibrate",
                "--config",
                path(&d.join("dinoedge.toml")),
                "--camera",
                "dock1",
                "--frame",
                path(&d.join("clip/rgb/000000.png")),
                "--frame",
                path(&d.join("clip/rgb/000001.png")),
                "--points",
                path(points),
                "--out",
                path(out),
            ],
            d,
        )
    }

    /// Where the true camera sees a floor-frame point.
    pub fn pixel(&self, world: DVec3) -> [f64; 2] {
        self.camera.project(world).unwrap().0.to_array()
    }

    /// Asserts that a calibration recovered this site: the camera's height within 2 %, its
    /// pitch within 1°, and the dock plane within 5 cm of the true face at three points along
    /// it. `context` (e.g. the command's report) goes into the failure messages.
    pub fn assert_recovered_by(&self, c: &Calibration, context: &str) {
        let (height, true_height) = (c.camera.pose.position.z, self.camera.pose.position.z);
        assert!((height - true_height).abs() < 0.02 * true_height, "height {height} for {true_height}: {context}");
        let (pitch, true_pitch) = (c.camera.pose.angles().1, self.camera.pose.angles().1);
        assert!((pitch - true_pitch).abs() < 1.0, "pitch {pitch} for {true_pitch}: {context}");
        let face = c.plane(&"dock_face".to_string().try_into().unwrap()).unwrap();
        for x in [-3.0, 0.0, 3.0] {
            let off = face.distance(DVec3::new(x, self.wall_y, 1.0));
            assert!(off < 0.05, "the dock plane is {off:.3} m off at x = {x}: {context}");
        }
    }
}
