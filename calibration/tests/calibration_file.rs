//! The calibration file: what is written reads back as the same camera, and a wrong file is
//! one error naming its line.

use dinoedge_calibration::file::{CalibrationFile, NamedPlane, NamedZone, PoseAngles, write_depth_mm};
use dinoedge_calibration::{Alignment, Calibration, Intrinsics, Pose};
use glam::DVec3;

fn example() -> CalibrationFile {
    CalibrationFile {
        version: 1,
        camera: "dock1".to_string().try_into().unwrap(),
        fitted_for: None,
        intrinsics: Intrinsics::from_hfov(8, 6, 80.0),
        pose: PoseAngles::from(&Pose::from_angles(DVec3::new(-2.0, 1.0, 4.5), -20.0, 35.0, 2.0)),
        alignment: Alignment { output: dinoedge_config::DepthKind::Metric, a: 1.1, b: -0.2 },
        planes: vec![NamedPlane {
            name: "dock_face".to_string().try_into().unwrap(),
            point: [0.0, 12.0, 0.0],
            normal: [0.0, -2.0, 0.0],
        }],
        zones: vec![NamedZone {
            name: "approach".to_string().try_into().unwrap(),
            points: vec![[0.2, 0.5], [0.8, 0.5], [0.8, 1.0], [0.2, 1.0]].try_into().unwrap(),
        }],
        background: Some("bg.png".into()),
        background_spread: Some("spread.png".into()),
        residuals: None,
    }
}

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("calibration.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_written_calibration_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    write_depth_mm(&dir.path().join("bg.png"), &ndarray::Array2::from_elem((6, 8), 3.25)).unwrap();
    write_depth_mm(&dir.path().join("spread.png"), &ndarray::Array2::from_elem((6, 8), 0.042)).unwrap();
    let c = Calibration::load(&write(dir.path(), &example().to_toml())).unwrap();
    let pose = Pose::from_angles(DVec3::new(-2.0, 1.0, 4.5), -20.0, 35.0, 2.0);
    assert!(c.camera.pose.rotation.abs_diff_eq(pose.rotation, 1e-12));
    assert_eq!(c.alignment.apply(2.0), 2.0);
    let face = c.plane(&"dock_face".to_string().try_into().unwrap()).unwrap();
    assert_eq!(face.normal, DVec3::new(0.0, -1.0, 0.0), "normals are made unit");
    let background = c.background.as_ref().unwrap();
    assert_eq!(background.depth[(5, 7)], 3.25);
    assert_eq!(background.spread.as_ref().map(|s| s[(5, 7)]), Some(0.042));
    let zone = c.zone(&"approach".to_string().try_into().unwrap()).unwrap();
    assert!(zone.contains(0.5, 0.75));
}

#[test]
fn a_wrong_file_is_one_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write_depth_mm(&dir.path().join("bg.png"), &ndarray::Array2::from_elem((5, 8), 3.0)).unwrap();
    write_depth_mm(&dir.path().join("bg6.png"), &ndarray::Array2::from_elem((6, 8), 3.0)).unwrap();
    write_depth_mm(&dir.path().join("spread.png"), &ndarray::Array2::from_elem((5, 8), 0.1)).unwrap();
    let text = example().to_toml();
    let line_of = |key: &str| text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    let cases = [
        (text.replace("version = 1", "version = 7"), line_of("version"), "this dinoedge reads version 1"),
        (
            text.replace("background = \"bg.png\"", "background = \"bg.png\"\nextra = 1"),
            line_of("background =") + 1,
            "unknown field `extra`",
        ),
        (text.clone(), line_of("background ="), "bg.png is 8x5, the camera 8x6"),
        (
            text.replace("background = \"bg.png\"", "background = \"bg6.png\""),
            line_of("background_spread"),
            "spread.png is 8x5, the camera 8x6",
        ),
        (
            text.replace("background = \"bg.png\"\n", ""),
            line_of("background_spread") - 1,
            "background_spread needs the background it is the spread of",
        ),
        (text.replace("a = 1.1", "a = -1.0"), line_of("[alignment]"), "expected a scale above 0"),
        (
            format!("{text}\n[[zone]]\nname = \"approach\"\npoints = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]\n"),
            line_of("[[zone]]"),
            "a second zone named `approach`",
        ),
    ];
    // A number that is not one (NaN, an infinity) would make every distance NaN and the
    // rules never alarm: refused at its section.
    let not_numbers = [
        (text.replace("pitch_deg = ", "pitch_deg = nan\n# "), line_of("[pose]"), "pose: pitch_deg = NaN"),
        (text.replace("cx = ", "cx = nan\n# "), line_of("[intrinsics]"), "intrinsics: cx = NaN"),
        (
            text.replace("point = [\n    0.0,\n    12.0", "point = [\n    0.0,\n    inf"),
            line_of("[[plane]]"),
            "point[1] = inf",
        ),
        (text.replace("position = [\n    -2.0", "position = [\n    -inf"), line_of("[pose]"), "position[0] = -inf"),
        (text.replace("b = -0.2", "b = -inf"), line_of("[alignment]"), "alignment: b = -inf: expected a finite number"),
        (text.replace("width = 8", "width = 100000"), line_of("[intrinsics]"), "width = 100000, height = 6"),
    ];
    for (text, line, words) in cases.into_iter().chain(not_numbers) {
        let err = Calibration::load(&write(dir.path(), &text)).unwrap_err();
        assert_eq!(err.at.map(|a| a.0), Some(line), "{err}");
        assert!(err.to_string().contains(words), "{err}");
    }
}
