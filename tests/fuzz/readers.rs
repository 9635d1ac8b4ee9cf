//! The readers of untrusted files that are fuzzed, one function per target, shared by the
//! stable mutation run in the test command (`tests/fuzz_readers.rs`) and the coverage-guided
//! cargo-fuzz targets (`tests/fuzz/targets/`). Each reads the file at a path (readers tell
//! formats by name or by bytes) as dinoedge does and says whether it was read without error;
//! a panic, an endless loop or an unbounded allocation in one is a finding. The outbox reader
//! also holds the outbox to its promise: an event added is there after a reopen.

use std::path::Path;

use dinoedge_calibration::workflow::{PointsFile, calibrate};

/// The config: the schema, then the checks after it (which look for the files it names).
pub fn config(path: &Path) -> bool {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let _ = dinoedge_config::parse(&text, path);
    dinoedge_config::from_toml::<dinoedge_config::Config>(&text, path).is_ok()
}

/// A camera's calibration file.
pub fn calibration(path: &Path) -> bool {
    dinoedge_calibration::Calibration::load(path).is_ok()
}

/// The outbox log at `<folder>/events.jsonl`, opened, added to, and opened again.
pub fn outbox(path: &Path) -> bool {
    use dinoedge::outbox::{EventKind, Outbox};
    let dir = path.parent().unwrap();
    let Ok(mut outbox) = Outbox::open(dir, 100) else { return false };
    let seq = outbox.add(EventKind::Start, |_| serde_json::json!({ "alarm": "fuzz" }));
    drop(outbox);
    let outbox = Outbox::open(dir, 100).expect("an outbox it opened once opens again");
    assert!(outbox.pending_after(seq.checked_sub(1)).any(|p| p.seq == seq), "the added event is kept");
    true
}

/// A frame (any format the images source reads) and, from the same bytes, a background depth
/// image in millimetres.
pub fn image(path: &Path) -> bool {
    let frame = dinoedge_calibration::image_file::open(path).is_ok();
    let depth = dinoedge_calibration::file::read_depth_mm(path).is_ok();
    frame || depth
}

/// A weight file (safetensors, or a PyTorch checkpoint: a zip holding a pickle) with every
/// tensor's values read.
pub fn weights(path: &Path) -> bool {
    let Ok(file) = dinoedge_backbone::tensors::TensorFile::open(path) else { return false };
    let names: Vec<String> = file.names().map(str::to_string).collect();
    names.iter().all(|name| file.tensor(name).is_ok())
}

/// A backbone ONNX file, loaded as the daemon loads its model.
pub fn onnx(path: &Path) -> bool {
    dinoedge_backbone::Backbone::load(path, 1).is_ok()
}

/// Calibrate's points: as the TOML points file and as the page's JSON body, each fitted to the
/// floor of the camera they were clicked on.
pub fn points(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let toml = dinoedge_config::from_toml::<PointsFile>(&text, path).is_ok_and(|points| fits(&points));
    let json = serde_json::from_slice::<PointsFile>(&bytes).is_ok_and(|points| fits(&points));
    toml || json
}

/// Fits `points` (those of `tests/fuzz/seeds/points/`) to the depth the camera they were clicked on
/// sees of its floor, as `dinoedge calibrate` does: true when a calibration comes out.
fn fits(points: &PointsFile) -> bool {
    use dinoedge_calibration::align::floor_depth;
    use dinoedge_calibration::{Camera, Intrinsics, Pose};
    static FLOOR: std::sync::OnceLock<ndarray::Array2<f32>> = std::sync::OnceLock::new();
    let depth = FLOOR.get_or_init(|| {
        let camera = Camera {
            intrinsics: Intrinsics::from_hfov(320, 240, 85.0),
            pose: Pose::from_angles(glam::DVec3::new(0.0, 0.0, 4.5), 0.0, 28.0, 0.0),
        };
        ndarray::Array2::from_shape_fn((240, 320), |(y, x)| {
            floor_depth(&camera, glam::DVec2::new(x as f64 + 0.5, y as f64 + 0.5)).unwrap_or(30.0) as f32
        })
    });
    let name = "dock1".to_string().try_into().unwrap();
    calibrate(&name, points, std::slice::from_ref(depth), dinoedge_config::DepthKind::Metric).is_ok()
}
