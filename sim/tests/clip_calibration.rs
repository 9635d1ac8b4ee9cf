//! A clip folder carries the calibration that `dinoedge calibrate` would ideally find: the
//! clip's true camera, the dock face as a plane, and the empty dock's depth as background.

use dinoedge_calibration::Calibration;
use dinoedge_sim::clip::{Scenario, clip_camera, write_clip};
use glam::DVec2;

#[test]
fn the_clip_calibration_is_the_true_camera_dock_face_and_empty_scene() {
    let dir = tempfile::tempdir().unwrap();
    let truth = write_clip(dir.path(), Scenario::ForkliftCross, 2.0, (96, 72), &|_, _| {}).unwrap();
    let calibration = Calibration::load(&dir.path().join("calibration.toml")).unwrap();

    let camera = clip_camera(96, 72);
    assert_eq!(calibration.camera.intrinsics, camera.intrinsics);
    assert!(calibration.camera.pose.rotation.abs_diff_eq(camera.pose.rotation, 1e-9));
    assert!(calibration.camera.pose.position.abs_diff_eq(camera.pose.position, 1e-12));
    assert_eq!(truth.camera, camera);

    let face = calibration.plane(&"dock_face".to_string().try_into().unwrap()).unwrap();
    let wall_y = truth.dock_face["point"][1].as_f64().unwrap();
    assert!((face.distance(glam::DVec3::new(5.0, wall_y - 1.5, 2.0)) - 1.5).abs() < 1e-12);

    // The background, back-projected through the stored camera, lies on the floor or the dock
    // wall for most pixels (the rest is racks and pallets), to the millimetre of the PNG.
    let background = calibration.background.as_ref().unwrap();
    assert_eq!(background.depth.dim(), (72, 96));
    let (mut on_floor_or_wall, mut known) = (0, 0);
    for ((y, x), &d) in background.depth.indexed_iter() {
        if d <= 0.0 {
            continue;
        }
        known += 1;
        let p = calibration.camera.back_project(DVec2::new(x as f64 + 0.5, y as f64 + 0.5), d as f64);
        if p.z.abs() < 0.01 || (p.y - wall_y).abs() < 0.01 {
            on_floor_or_wall += 1;
        }
    }
    assert!(known > 96 * 72 * 9 / 10, "{known} pixels with depth");
    assert!(on_floor_or_wall * 2 > known, "{on_floor_or_wall} of {known} on the floor or the wall");
}
