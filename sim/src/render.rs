//! The ray tracer: one ray per pixel through the shared camera model, the nearest hit over
//! all objects (skipping those whose bounding sphere the ray misses), Lambert shading, and
//! optional sensor noise. Outputs exact z-depth and instance and class masks alongside RGB.

use dinoedge_calibration::Camera;
use glam::{DVec2, DVec3};
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::scene::Scene;

#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Standard deviation of Gaussian sensor noise, in 8-bit levels (0: none).
    pub noise: f32,
    /// Seed of the sensor noise.
    pub seed: u64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { noise: 0.0, seed: 0 }
    }
}

/// One rendered frame; the per-pixel buffers are row-major, `width × height`.
#[derive(Debug, Clone)]
pub struct Frame {
    pub rgb: RgbImage,
    /// z-depth in metres; 0 where the ray hits nothing.
    pub depth: Vec<f32>,
    /// 1 + the index of the object in the scene; 0 where nothing is hit.
    pub instance: Vec<u16>,
    /// The object's class number; 0 where nothing is hit.
    pub class: Vec<u8>,
}

impl Frame {
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    pub fn height(&self) -> u32 {
        self.rgb.height()
    }
}

/// Linear intensity to an 8-bit level (gamma 2.2), through a table: `powf` per channel
/// would cost an eighth of the frame.
fn encode(linear: f32) -> f32 {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| (0..=4096).map(|i| (i as f32 / 4096.0).powf(1.0 / 2.2) * 255.0).collect());
    let x = linear.clamp(0.0, 1.0) * 4096.0;
    let i = x as usize; // x ≥ 0: truncation is floor
    let f = x - i as f32;
    let (a, b) = (table[i], table[(i + 1).min(4096)]);
    a + (b - a) * f
}

/// Whether a ray can meet a sphere nearer than `limit`.
fn may_hit(origin: DVec3, dir: DVec3, (center, radius): (DVec3, f64), limit: f64) -> bool {
    if radius.is_infinite() {
        return true;
    }
    let oc = origin - center;
    let b = oc.dot(dir);
    let c = oc.length_squared() - radius * radius;
    let disc = b * b - c;
    // Missed, behind the origin, or farther than what was already hit.
    !(disc < 0.0 || (c > 0.0 && b > 0.0) || -b - disc.sqrt() > limit)
}

/// Where in the image (as undistorted normalised coordinates x/z, y/z) a set of corners
/// can appear: their bounding rectangle, `None` when unbounded or partly behind the camera.
/// Under perspective the image of a convex body lies within the hull of its corners' images,
/// so a pixel outside the rectangle cannot see the body.
type Window = Option<[f64; 4]>;

fn window(camera: &Camera, corners: Option<[DVec3; 8]>) -> Window {
    let mut w = [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY];
    for corner in corners? {
        let c = camera.pose.to_camera(corner);
        if c.z < 1e-6 {
            return None;
        }
        let (x, y) = (c.x / c.z, c.y / c.z);
        w = [w[0].min(x), w[1].max(x), w[2].min(y), w[3].max(y)];
    }
    Some(w)
}

fn inside(window: &Window, n: DVec2) -> bool {
    window.is_none_or(|w| n.x >= w[0] && n.x <= w[1] && n.y >= w[2] && n.y <= w[3])
}

/// Per object and per part, where in the image it can appear.
struct Windows {
    objects: Vec<Window>,
    parts: Vec<Vec<Window>>,
}

impl Windows {
    fn new(scene: &Scene, camera: &Camera) -> Self {
        let parts: Vec<Vec<Window>> =
            scene.objects.iter().map(|o| o.parts.iter().map(|p| window(camera, p.shape.corners())).collect()).collect();
        let objects = parts
            .iter()
            .map(|ws| {
                ws.iter().try_fold([f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY], |a, w| {
                    w.map(|w| [a[0].min(w[0]), a[1].max(w[1]), a[2].min(w[2]), a[3].max(w[3])])
                })
            })
            .collect();
        Self { objects, parts }
    }
}

/// The nearest surface along a ray (seen at normalised image point `n`): object index, part
/// index, distance, normal.
fn trace(scene: &Scene, windows: &Windows, n: DVec2, origin: DVec3, dir: DVec3) -> Option<(usize, usize, f64, DVec3)> {
    let mut best: Option<(usize, usize, f64, DVec3)> = None;
    for (i, object) in scene.objects.iter().enumerate() {
        let limit = best.map_or(f64::INFINITY, |b| b.2);
        if !inside(&windows.objects[i], n) || !may_hit(origin, dir, object.bounds, limit) {
            continue;
        }
        for (j, (part, bounds)) in object.parts.iter().zip(&object.part_bounds).enumerate() {
            let limit = best.map_or(f64::INFINITY, |b| b.2);
            if !inside(&windows.parts[i][j], n) || !may_hit(origin, dir, *bounds, limit) {
                continue;
            }
            if let Some(hit) = part.shape.intersect(origin, dir)
                && hit.t < limit
            {
                best = Some((i, j, hit.t, hit.normal));
            }
        }
    }
    best
}

pub fn render(scene: &Scene, camera: &Camera, options: &RenderOptions) -> Frame {
    let (w, h) = (camera.intrinsics.width, camera.intrinsics.height);
    let n = (w * h) as usize;
    let mut frame = Frame { rgb: RgbImage::new(w, h), depth: vec![0.0; n], instance: vec![0; n], class: vec![0; n] };
    let forward = camera.pose.forward();
    let windows = Windows::new(scene, camera);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let noise = Normal::new(0.0f32, options.noise.max(1e-6)).expect("a positive std");
    for y in 0..h {
        for x in 0..w {
            let n = camera.intrinsics.to_normalised(DVec2::new(x as f64 + 0.5, y as f64 + 0.5));
            let (origin, dir) = (camera.pose.position, (camera.pose.rotation * DVec3::new(n.x, n.y, 1.0)).normalize());
            let index = (y * w + x) as usize;
            let mut color = [0.0f32; 3];
            if let Some((i, j, t, normal)) = trace(scene, &windows, n, origin, dir) {
                let object = &scene.objects[i];
                let point = origin + dir * t;
                let albedo = object.parts[j].material.albedo(point);
                let light = scene.ambient
                    + scene.lights.iter().map(|l| l.intensity * normal.dot(l.towards).max(0.0) as f32).sum::<f32>();
                color = albedo.map(|a| a * light);
                frame.depth[index] = (t * dir.dot(forward)) as f32;
                frame.instance[index] = (i + 1) as u16;
                frame.class[index] = object.class as u8;
            }
            let pixel = color.map(|c| {
                let level = encode(c);
                let level = if options.noise > 0.0 { level + noise.sample(&mut rng) } else { level };
                (level.clamp(0.0, 255.0) + 0.5) as u8
            });
            frame.rgb.put_pixel(x, y, image::Rgb(pixel));
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{dock, random};
    use rand::SeedableRng;

    /// Every part of every object, no culling.
    fn brute_force(scene: &Scene, origin: DVec3, dir: DVec3) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for (i, object) in scene.objects.iter().enumerate() {
            for part in &object.parts {
                if let Some(hit) = part.shape.intersect(origin, dir)
                    && best.is_none_or(|b| hit.t < b.1)
                {
                    best = Some((i, hit.t));
                }
            }
        }
        best
    }

    #[test]
    fn culling_never_loses_a_surface() {
        for seed in 0..6 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let layout = random::layout(&mut rng);
            let (camera, _) = random::camera(&mut rng, 96, 72);
            let scene = dock::build(&layout);
            let frame = render(&scene, &camera, &RenderOptions::default());
            for y in 0..72 {
                for x in 0..96 {
                    let (origin, dir) = camera.ray(DVec2::new(x as f64 + 0.5, y as f64 + 0.5));
                    let index = (y * 96 + x) as usize;
                    match brute_force(&scene, origin, dir) {
                        Some((i, t)) => {
                            assert_eq!(frame.instance[index], (i + 1) as u16, "seed {seed}, pixel ({x}, {y})");
                            let depth = t * dir.dot(camera.pose.forward());
                            assert!((frame.depth[index] as f64 - depth).abs() < 1e-5 * depth.max(1.0));
                        }
                        None => assert_eq!(frame.instance[index], 0),
                    }
                }
            }
        }
    }
}
