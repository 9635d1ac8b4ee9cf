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
        Self {
            noise: 0.0,
            seed: 0,
        }
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

    pub fn depth_at(&self, x: u32, y: u32) -> f32 {
        self.depth[(y * self.width() + x) as usize]
    }
}

/// Linear intensity to an 8-bit level (gamma 2.2), through a table: `powf` per channel
/// would cost an eighth of the frame.
fn encode(linear: f32) -> f32 {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=4096)
            .map(|i| (i as f32 / 4096.0).powf(1.0 / 2.2) * 255.0)
            .collect()
    });
    let x = linear.clamp(0.0, 1.0) * 4096.0;
    let (i, f) = (x.floor() as usize, x.fract());
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

/// The nearest surface along a ray: object index, part index, distance, normal.
fn trace(scene: &Scene, origin: DVec3, dir: DVec3) -> Option<(usize, usize, f64, DVec3)> {
    let mut best: Option<(usize, usize, f64, DVec3)> = None;
    for (i, object) in scene.objects.iter().enumerate() {
        let limit = best.map_or(f64::INFINITY, |b| b.2);
        if !may_hit(origin, dir, object.bounds, limit) {
            continue;
        }
        for (j, (part, bounds)) in object.parts.iter().zip(&object.part_bounds).enumerate() {
            let limit = best.map_or(f64::INFINITY, |b| b.2);
            if !may_hit(origin, dir, *bounds, limit) {
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
    let mut frame = Frame {
        rgb: RgbImage::new(w, h),
        depth: vec![0.0; n],
        instance: vec![0; n],
        class: vec![0; n],
    };
    let forward = camera.pose.forward();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let noise = Normal::new(0.0f32, options.noise.max(1e-6)).expect("a positive std");
    for y in 0..h {
        for x in 0..w {
            let (origin, dir) = camera.ray(DVec2::new(x as f64 + 0.5, y as f64 + 0.5));
            let index = (y * w + x) as usize;
            let mut color = [0.0f32; 3];
            if let Some((i, j, t, normal)) = trace(scene, origin, dir) {
                let object = &scene.objects[i];
                let point = origin + dir * t;
                let albedo = object.parts[j].material.albedo(point);
                let light = scene.ambient
                    + scene
                        .lights
                        .iter()
                        .map(|l| l.intensity * normal.dot(l.towards).max(0.0) as f32)
                        .sum::<f32>();
                color = albedo.map(|a| a * light);
                frame.depth[index] = (t * dir.dot(forward)) as f32;
                frame.instance[index] = (i + 1) as u16;
                frame.class[index] = object.class as u8;
            }
            let pixel = color.map(|c| {
                let level = encode(c);
                let level = if options.noise > 0.0 {
                    level + noise.sample(&mut rng)
                } else {
                    level
                };
                level.round().clamp(0.0, 255.0) as u8
            });
            frame.rgb.put_pixel(x, y, image::Rgb(pixel));
        }
    }
    frame
}
