//! Camera calibration: the camera model (intrinsics and pose in the floor frame) shared
//! with the simulator; later the ground plane, the depth alignment fit, zones and planes,
//! and the calibration file.

pub mod camera;

pub use camera::{Camera, Intrinsics, Pose};
