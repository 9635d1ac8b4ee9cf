//! The errors of a monocular depth model, drawn over the simulator's exact depth and classes
//! so that the rules can be measured on inputs as wrong as a real model's, reproducibly.
//!
//! One number, the noise `level` L (0.05 = "5 %"), scales every part; each frame's errors
//! are drawn from the run's seed and the frame's number, so a replay sees the same errors:
//!
//! - **flying pixels**: at a depth edge (a 4-neighbour more than [`EDGE`] deeper or nearer,
//!   relatively), a pixel takes, with probability min(1, 10·L), a depth between its own and
//!   that neighbour's (uniformly): the smeared borders a network's upsampled output has;
//! - **class flips**: a pixel with another class within 2 pixels takes one of those classes,
//!   with probability min(0.5, 5·L): a class map's uncertain borders;
//! - **per-frame scale**: the whole depth map times 1 + s, s ~ N(0, L): a metric model's
//!   scale, which moves with the picture's content;
//! - **smooth error**: times 1 + m(x, y), m a smooth random field of standard deviation L/2
//!   (a grid of [`SMOOTH_CELLS`] × [`SMOOTH_CELLS`] normal draws over the frame, bilinear
//!   between them), drawn afresh each frame: errors that follow surfaces;
//! - **per-pixel noise**: times 1 + n, n ~ N(0, L/4) for each pixel.
//!
//! Level 0 changes nothing. Pixels without depth (0) stay without.

use dinoedge_config::ObjectClass;
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Two neighbouring depths more than this apart (relative to the nearer) are a depth edge.
pub const EDGE: f32 = 0.1;
/// The smooth error's grid: this many cells across the frame each way.
pub const SMOOTH_CELLS: usize = 6;
/// The highest level: beyond it the errors are not a depth model's.
pub const MAX_LEVEL: f64 = 0.5;

/// A seeded error model at one level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthNoise {
    pub level: f64,
    pub seed: u64,
}

impl DepthNoise {
    /// Draws frame `frame`'s errors into `depth` (metres, 0 where none) and `classes`, both
    /// [height, width].
    pub fn apply(&self, frame: u64, depth: &mut Array2<f32>, classes: &mut Array2<ObjectClass>) {
        if self.level <= 0.0 {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ frame);
        let l = self.level;
        let exact = depth.clone();
        fly_edges(&exact, depth, (10.0 * l).min(1.0), &mut rng);
        flip_borders(classes, (5.0 * l).min(0.5), &mut rng);
        let scale = 1.0 + Normal::new(0.0, l).expect("a finite level").sample(&mut rng);
        let smooth = smooth_field(depth.dim(), l / 2.0, &mut rng);
        let pixel = Normal::new(0.0, l / 4.0).expect("a finite level");
        for (d, m) in depth.iter_mut().zip(smooth.iter()) {
            if *d > 0.0 {
                let factor = scale * (1.0 + m) * (1.0 + pixel.sample(&mut rng));
                *d = (*d as f64 * factor.max(0.05)) as f32;
            }
        }
    }
}

/// Each pixel on a depth edge of `exact` takes, with probability `p`, a depth between its own
/// and its most different 4-neighbour's.
fn fly_edges(exact: &Array2<f32>, depth: &mut Array2<f32>, p: f64, rng: &mut ChaCha8Rng) {
    let (h, w) = exact.dim();
    for y in 0..h {
        for x in 0..w {
            let here = exact[(y, x)];
            if here <= 0.0 {
                continue;
            }
            let neighbours = [(y.wrapping_sub(1), x), (y + 1, x), (y, x.wrapping_sub(1)), (y, x + 1)];
            let far = neighbours
                .into_iter()
                .filter(|&(ny, nx)| ny < h && nx < w && exact[(ny, nx)] > 0.0)
                .map(|n| exact[n])
                .max_by(|a, b| (a - here).abs().total_cmp(&(b - here).abs()));
            let Some(other) = far else { continue };
            if (other - here).abs() > EDGE * here.min(other) && rng.random_bool(p) {
                depth[(y, x)] = here + rng.random::<f32>() * (other - here);
            }
        }
    }
}

/// Each pixel with another class within 2 pixels takes, with probability `p`, one of the
/// classes around it that is not its own.
fn flip_borders(classes: &mut Array2<ObjectClass>, p: f64, rng: &mut ChaCha8Rng) {
    let exact = classes.clone();
    let (h, w) = exact.dim();
    let mut others = Vec::with_capacity(24);
    for y in 0..h {
        for x in 0..w {
            let own = exact[(y, x)];
            others.clear();
            for ny in y.saturating_sub(2)..(y + 3).min(h) {
                for nx in x.saturating_sub(2)..(x + 3).min(w) {
                    let c = exact[(ny, nx)];
                    if c != own {
                        others.push(c);
                    }
                }
            }
            if !others.is_empty() && rng.random_bool(p) {
                classes[(y, x)] = others[rng.random_range(0..others.len())];
            }
        }
    }
}

/// A smooth field of standard deviation `sigma` over a [height, width] frame: normal draws on
/// a grid of (SMOOTH_CELLS + 1)² nodes, bilinear between them.
fn smooth_field((h, w): (usize, usize), sigma: f64, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let n = SMOOTH_CELLS + 1;
    let normal = Normal::new(0.0, sigma).expect("a finite sigma");
    let nodes = Array2::from_shape_fn((n, n), |_| normal.sample(rng));
    Array2::from_shape_fn((h, w), |(y, x)| {
        let gy = (y as f64 + 0.5) / h as f64 * SMOOTH_CELLS as f64;
        let gx = (x as f64 + 0.5) / w as f64 * SMOOTH_CELLS as f64;
        let (y0, x0) = ((gy as usize).min(SMOOTH_CELLS - 1), (gx as usize).min(SMOOTH_CELLS - 1));
        let (fy, fx) = (gy - y0 as f64, gx - x0 as f64);
        let top = nodes[(y0, x0)] * (1.0 - fx) + nodes[(y0, x0 + 1)] * fx;
        let bottom = nodes[(y0 + 1, x0)] * (1.0 - fx) + nodes[(y0 + 1, x0 + 1)] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40x30 frame: a near square (2 m, forklift) on a far background (10 m, other).
    fn scene() -> (Array2<f32>, Array2<ObjectClass>) {
        let inside = |y: usize, x: usize| (10..20).contains(&y) && (15..25).contains(&x);
        let depth = Array2::from_shape_fn((30, 40), |(y, x)| if inside(y, x) { 2.0 } else { 10.0 });
        let classes =
            Array2::from_shape_fn(
                (30, 40),
                |(y, x)| {
                    if inside(y, x) { ObjectClass::Forklift } else { ObjectClass::Other }
                },
            );
        (depth, classes)
    }

    #[test]
    fn level_zero_changes_nothing_and_a_level_is_reproducible() {
        let (exact, classes) = scene();
        let (mut depth, mut labels) = (exact.clone(), classes.clone());
        DepthNoise { level: 0.0, seed: 1 }.apply(3, &mut depth, &mut labels);
        assert_eq!((&depth, &labels), (&exact, &classes));
        let noisy = |seed, frame| {
            let (mut d, mut c) = scene();
            DepthNoise { level: 0.05, seed }.apply(frame, &mut d, &mut c);
            (d, c)
        };
        assert_eq!(noisy(1, 3), noisy(1, 3), "same seed and frame, same errors");
        assert_ne!(noisy(1, 3).0, noisy(1, 4).0, "another frame, other errors");
        assert_ne!(noisy(1, 3).0, noisy(2, 3).0, "another seed, other errors");
    }

    #[test]
    fn the_errors_have_the_documented_sizes() {
        // The relative error of the background, away from edges, over many frames: its
        // standard deviation is that of the scale, smooth and pixel parts together.
        let level = 0.05;
        let mut errors = Vec::new();
        let mut edge_values = Vec::new();
        let mut flipped = 0;
        for frame in 0..200 {
            let (mut depth, mut classes) = scene();
            DepthNoise { level, seed: 9 }.apply(frame, &mut depth, &mut classes);
            errors.push(f64::from(depth[(2, 2)]) / 10.0 - 1.0);
            // The square's left border column (x = 15) and the background beside it (x = 14)
            // are on the edge: smeared between 2 and 10 m, before the multiplicative errors.
            edge_values.push(depth[(15, 14)] / depth[(2, 14)]);
            flipped += usize::from(classes[(15, 15)] != ObjectClass::Forklift);
        }
        let n = errors.len() as f64;
        let mean = errors.iter().sum::<f64>() / n;
        let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
        let want = level * (1.0f64 + 0.25 + 1.0 / 16.0).sqrt();
        assert!((sd - want).abs() < 0.25 * want, "sd {sd:.4}, expected about {want:.4}");
        // p = min(1, 10·L) = 0.5 of the edge pixels fly, each to a uniform point of the way
        // from 10 m to 2 m: 0.5 × 15/16 of them read under 9.5 m, about 94 of 200.
        let flew = edge_values.iter().filter(|&&r| r < 0.95).count();
        assert!((70..=120).contains(&flew), "{flew} of 200 edge pixels flew");
        // p = min(0.5, 5·L) = 0.25 of the border pixels change class.
        assert!((25..=75).contains(&flipped), "{flipped} of 200 border pixels flipped");
    }

    #[test]
    fn pixels_without_depth_stay_without() {
        let (mut depth, mut classes) = scene();
        depth[(0, 0)] = 0.0;
        DepthNoise { level: 0.1, seed: 3 }.apply(0, &mut depth, &mut classes);
        assert_eq!(depth[(0, 0)], 0.0);
        assert!(depth.iter().filter(|d| **d != 0.0).all(|d| d.is_finite() && *d > 0.0));
    }
}
