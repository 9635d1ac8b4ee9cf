//! Camera calibration: the camera model (intrinsics and pose), the ground plane, the
//! depth alignment fit, zones and planes, and the calibration file.
//!
//! The contents arrive with the simulator and calibrate issues; until then this crate only
//! reserves its place in the workspace map (`../shared/ARCHITECTURE.md`).
