//! Camera calibration: the camera model (intrinsics and pose in the floor frame) shared
//! with the simulator, and the calibration file the daemon loads (camera, depth alignment,
//! planes, background depth). The calibrate workflow and its fits arrive with issue 6.

pub mod camera;
pub mod file;

pub use camera::{Camera, Intrinsics, Pose};
pub use file::{Alignment, Calibration, CalibrationFile, Plane};
