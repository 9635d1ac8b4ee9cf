//! Camera calibration: what turns a camera's depth map into distances on the site.
//!
//! - The camera model ([`Camera`]: [`Intrinsics`] and a [`Pose`] in the floor frame), shared
//!   with the simulator, which renders through it.
//! - The calibration file the daemon loads ([`Calibration`], written as a
//!   [`CalibrationFile`]): the camera, the depth [`Alignment`] `a·d + b`, named planes
//!   ([`Plane`]) and zones, the empty scene's background depth, and the model files it was
//!   fitted for.
//! - The fits: the pose from clicked floor points ([`pose`]), the depth alignment from depth
//!   samples on the floor ([`align`]), and the workflow that runs them on frames and a
//!   points file and reports the residuals ([`workflow`]: what `dinoedge calibrate` does,
//!   scripted or from its web page).
//! - Image files read within a frame's bounds ([`image_file`]), here and by the daemon.

pub mod align;
pub mod background;
pub mod camera;
pub mod file;
pub mod image_file;
pub mod pose;
pub mod workflow;

pub use camera::{Camera, Intrinsics, Pose};
pub use file::{Alignment, Calibration, CalibrationFile, Plane};
