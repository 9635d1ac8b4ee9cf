//! Camera calibration: the camera model (intrinsics and pose in the floor frame) shared
//! with the simulator, and the calibration file the daemon loads (camera, depth alignment,
//! planes, background depth), and the fits of the calibrate workflow: the pose from floor
//! points (`pose`) and the depth alignment (`align`). The workflow itself (`dinoedge
//! calibrate`) arrives with issue 6.

pub mod align;
pub mod camera;
pub mod file;
pub mod pose;
pub mod workflow;

pub use camera::{Camera, Intrinsics, Pose};
pub use file::{Alignment, Calibration, CalibrationFile, Plane};
