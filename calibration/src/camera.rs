//! The pinhole camera: intrinsics with optional radial distortion, and the camera's pose in
//! the floor frame.
//!
//! Frames and conventions:
//! - **Floor frame** (metres): the floor is z = 0, z points up; x and y span the floor.
//! - **Camera frame**: x right, y down, z forward along the optical axis (OpenCV's).
//! - **Pixels**: (u, v) with (0, 0) the top-left corner of the top-left pixel; the centre
//!   of pixel (i, j) is (i + 0.5, j + 0.5).
//! - **Depth** is z-depth: the distance along the optical axis, not along the ray.

use glam::{DMat3, DVec2, DVec3};
use serde::{Deserialize, Serialize};

/// Focal lengths and principal point in pixels, image size, radial distortion k1, k2
/// (Brown's model on normalised coordinates: r' = r (1 + k1 r² + k2 r⁴)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    pub width: u32,
    pub height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    #[serde(default)]
    pub k1: f64,
    #[serde(default)]
    pub k2: f64,
}

impl Intrinsics {
    /// Square pixels, principal point at the image centre, from the horizontal field of view.
    pub fn from_hfov(width: u32, height: u32, hfov_degrees: f64) -> Self {
        let fx = width as f64 / 2.0 / (hfov_degrees.to_radians() / 2.0).tan();
        Self { width, height, fx, fy: fx, cx: width as f64 / 2.0, cy: height as f64 / 2.0, k1: 0.0, k2: 0.0 }
    }

    pub fn with_distortion(self, k1: f64, k2: f64) -> Self {
        Self { k1, k2, ..self }
    }

    fn distortion(&self, normalised: DVec2) -> f64 {
        let r2 = normalised.length_squared();
        1.0 + self.k1 * r2 + self.k2 * r2 * r2
    }

    /// Pixel of a point given in normalised camera coordinates (x/z, y/z).
    pub fn to_pixel(&self, normalised: DVec2) -> DVec2 {
        let d = normalised * self.distortion(normalised);
        DVec2::new(self.fx * d.x + self.cx, self.fy * d.y + self.cy)
    }

    /// Normalised camera coordinates (x/z, y/z) seen at a pixel, distortion removed.
    pub fn to_normalised(&self, pixel: DVec2) -> DVec2 {
        let distorted = DVec2::new((pixel.x - self.cx) / self.fx, (pixel.y - self.cy) / self.fy);
        if self.k1 == 0.0 && self.k2 == 0.0 {
            return distorted;
        }
        // Fixed-point iteration: converges for the mild distortion of real lenses.
        let mut undistorted = distorted;
        for _ in 0..20 {
            undistorted = distorted / self.distortion(undistorted);
        }
        undistorted
    }
}

/// Where the camera is and where it looks: `rotation` takes camera-frame vectors to the
/// floor frame; `position` is the camera centre in the floor frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub rotation: DMat3,
    pub position: DVec3,
}

impl Pose {
    /// A camera at `position` with heading `yaw` (counter-clockwise about +z from the +y
    /// axis), tilted down by `pitch` and rolled clockwise by `roll` about its optical axis;
    /// angles in degrees. At yaw = pitch = roll = 0 it looks along +y, level.
    pub fn from_angles(position: DVec3, yaw: f64, pitch: f64, roll: f64) -> Self {
        let (forward, right, down) = (DVec3::Y, DVec3::X, DVec3::NEG_Z);
        let (sp, cp) = pitch.to_radians().sin_cos();
        let (forward, down) = (cp * forward + sp * down, -sp * forward + cp * down);
        let (sr, cr) = roll.to_radians().sin_cos();
        let (right, down) = (cr * right + sr * down, -sr * right + cr * down);
        let yaw = DMat3::from_rotation_z(yaw.to_radians());
        Self { rotation: yaw * DMat3::from_cols(right, down, forward), position }
    }

    /// The (yaw, pitch, roll) in degrees that [`Pose::from_angles`] turns into this rotation.
    /// Looking straight down or up (pitch ±90°), yaw and roll turn about the same axis; the
    /// roll is then reported as 0.
    pub fn angles(&self) -> (f64, f64, f64) {
        let (right, down, forward) = (self.rotation.x_axis, self.rotation.y_axis, self.rotation.z_axis);
        let pitch = (-forward.z).clamp(-1.0, 1.0).asin();
        if pitch.cos() < 1e-9 {
            return (right.y.atan2(right.x).to_degrees(), pitch.to_degrees(), 0.0);
        }
        let yaw = (-forward.x).atan2(forward.y);
        let roll = (-right.z).atan2(-down.z);
        (yaw.to_degrees(), pitch.to_degrees(), roll.to_degrees())
    }

    pub fn forward(&self) -> DVec3 {
        self.rotation.z_axis
    }

    pub fn to_camera(&self, world: DVec3) -> DVec3 {
        self.rotation.transpose() * (world - self.position)
    }

    pub fn to_world(&self, camera: DVec3) -> DVec3 {
        self.rotation * camera + self.position
    }
}

/// Intrinsics and pose together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub intrinsics: Intrinsics,
    pub pose: Pose,
}

impl Camera {
    /// The ray through a pixel position: origin and unit direction in the floor frame.
    pub fn ray(&self, pixel: DVec2) -> (DVec3, DVec3) {
        let n = self.intrinsics.to_normalised(pixel);
        (self.pose.position, (self.pose.rotation * DVec3::new(n.x, n.y, 1.0)).normalize())
    }

    /// The pixel position of a floor-frame point, and its depth; `None` behind the camera.
    pub fn project(&self, world: DVec3) -> Option<(DVec2, f64)> {
        let c = self.pose.to_camera(world);
        (c.z > 1e-9).then(|| (self.intrinsics.to_pixel(DVec2::new(c.x / c.z, c.y / c.z)), c.z))
    }

    /// The floor-frame point seen at a pixel position at a z-depth.
    pub fn back_project(&self, pixel: DVec2, depth: f64) -> DVec3 {
        let n = self.intrinsics.to_normalised(pixel);
        self.pose.to_world(DVec3::new(n.x * depth, n.y * depth, depth))
    }

    /// Where the ray through a pixel position meets the floor (z = 0); `None` if it does not
    /// go down (at or above the horizon).
    pub fn floor_point(&self, pixel: DVec2) -> Option<DVec3> {
        let (origin, direction) = self.ray(pixel);
        (direction.z < -1e-9).then(|| origin + direction * (-origin.z / direction.z))
    }

    /// The z-depth of a floor-frame point.
    pub fn depth_of(&self, world: DVec3) -> f64 {
        (world - self.pose.position).dot(self.pose.forward())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera() -> Camera {
        Camera {
            intrinsics: Intrinsics::from_hfov(640, 480, 90.0).with_distortion(-0.05, 0.01),
            pose: Pose::from_angles(DVec3::new(1.0, -2.0, 3.0), 30.0, 25.0, 5.0),
        }
    }

    #[test]
    fn angles_read_back_the_angles_a_pose_was_made_from() {
        for (yaw, pitch, roll) in [(30.0, 25.0, 5.0), (-170.0, -10.0, -30.0), (0.0, 0.0, 0.0), (95.0, 60.0, 179.0)] {
            let pose = Pose::from_angles(DVec3::ZERO, yaw, pitch, roll);
            let (y, p, r) = pose.angles();
            assert!((y - yaw).abs() < 1e-9 && (p - pitch).abs() < 1e-9 && (r - roll).abs() < 1e-9, "{y} {p} {r}");
        }
        // Straight down: the heading is kept in the yaw, the roll reads 0.
        let down = Pose::from_angles(DVec3::ZERO, 40.0, 90.0, 0.0);
        let back = Pose::from_angles(DVec3::ZERO, down.angles().0, down.angles().1, down.angles().2);
        assert!(back.rotation.abs_diff_eq(down.rotation, 1e-9));
    }

    #[test]
    fn a_90_degree_lens_on_640_pixels_has_a_320_pixel_focal_length() {
        let k = Intrinsics::from_hfov(640, 480, 90.0);
        assert!((k.fx - 320.0).abs() < 1e-9 && k.fx == k.fy);
        assert_eq!((k.cx, k.cy), (320.0, 240.0));
    }

    #[test]
    fn projection_and_back_projection_invert_each_other_with_distortion() {
        let cam = camera();
        for (u, v, depth) in [(10.5, 20.5, 1.0), (320.0, 240.0, 7.5), (600.25, 470.75, 3.2)] {
            let world = cam.back_project(DVec2::new(u, v), depth);
            let (pixel, z) = cam.project(world).unwrap();
            assert!((pixel - DVec2::new(u, v)).length() < 1e-6, "{pixel:?}");
            assert!((z - depth).abs() < 1e-9);
            assert!((cam.depth_of(world) - depth).abs() < 1e-9);
        }
    }

    #[test]
    fn a_camera_pitched_down_sees_the_floor_below_the_image_centre() {
        let cam = Camera {
            intrinsics: Intrinsics::from_hfov(640, 480, 90.0),
            pose: Pose::from_angles(DVec3::new(0.0, 0.0, 2.0), 0.0, 45.0, 0.0),
        };
        // The optical axis meets the floor 2 m ahead: at the image centre, 2√2 m deep.
        let (pixel, depth) = cam.project(DVec3::new(0.0, 2.0, 0.0)).unwrap();
        assert!((pixel - DVec2::new(320.0, 240.0)).length() < 1e-9);
        assert!((depth - 8f64.sqrt()).abs() < 1e-9);
        // Yaw 90° turns the camera from +y to -x.
        let turned = Pose::from_angles(DVec3::ZERO, 90.0, 0.0, 0.0);
        assert!((turned.forward() - DVec3::NEG_X).length() < 1e-12);
    }

    #[test]
    fn the_pose_rotation_is_orthonormal() {
        let r = camera().pose.rotation;
        assert!((r.transpose() * r - DMat3::IDENTITY).to_cols_array().iter().all(|v| v.abs() < 1e-12));
        assert!((r.determinant() - 1.0).abs() < 1e-12);
    }
}
