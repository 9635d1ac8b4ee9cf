//! Surface colours: a base colour with deterministic value noise (concrete, cardboard),
//! an optional checker, and decals — axis-aligned rectangles of paint on a surface, such as
//! floor markings or dock doors on a wall.

use glam::DVec3;

/// A rectangle of another colour, in two floor-frame axes (`Material::decal_axes`).
#[derive(Debug, Clone, PartialEq)]
pub struct Decal {
    pub min: [f64; 2],
    pub max: [f64; 2],
    pub color: [f32; 3],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// Linear RGB albedo in [0, 1].
    pub color: [f32; 3],
    /// Relative brightness variation of the value noise (0: none).
    pub noise: f32,
    /// Size of the noise features in metres.
    pub noise_scale: f64,
    /// Cell size and second colour of a 3-D checker.
    pub checker: Option<(f64, [f32; 3])>,
    pub decals: Vec<Decal>,
    /// The floor-frame axes decals are laid out in: [0, 1] on the floor, [0, 2] on a wall
    /// facing ±y.
    pub decal_axes: [usize; 2],
}

impl Material {
    pub fn solid(color: [f32; 3]) -> Self {
        Self { color, noise: 0.0, noise_scale: 1.0, checker: None, decals: Vec::new(), decal_axes: [0, 1] }
    }

    pub fn with_noise(self, amount: f32, scale: f64) -> Self {
        Self { noise: amount, noise_scale: scale, ..self }
    }

    pub fn with_checker(self, size: f64, other: [f32; 3]) -> Self {
        Self { checker: Some((size, other)), ..self }
    }

    pub fn with_decals(self, axes: [usize; 2], decals: Vec<Decal>) -> Self {
        Self { decals, decal_axes: axes, ..self }
    }

    /// The albedo at a floor-frame point.
    pub fn albedo(&self, p: DVec3) -> [f32; 3] {
        let (a, b) = (p[self.decal_axes[0]], p[self.decal_axes[1]]);
        let mut color = self
            .decals
            .iter()
            .rev()
            .find(|d| a >= d.min[0] && a <= d.max[0] && b >= d.min[1] && b <= d.max[1])
            .map(|d| d.color)
            .unwrap_or(self.color);
        if let Some((size, other)) = self.checker {
            let cell = (p / size).floor();
            if (cell.x + cell.y + cell.z) as i64 % 2 != 0 {
                color = other;
            }
        }
        if self.noise > 0.0 {
            let n = 0.65 * value_noise(p / self.noise_scale) + 0.35 * value_noise(p / self.noise_scale * 4.0);
            let gain = 1.0 + self.noise * (2.0 * n as f32 - 1.0);
            color = color.map(|c| (c * gain).clamp(0.0, 1.0));
        }
        color
    }
}

/// Smooth deterministic noise in [0, 1]: trilinear interpolation of hashed lattice values.
fn value_noise(p: DVec3) -> f64 {
    let cell = p.floor();
    let f = p - cell;
    let s = f * f * (DVec3::splat(3.0) - 2.0 * f);
    let (x, y, z) = (cell.x as i64, cell.y as i64, cell.z as i64);
    let h = |dx: i64, dy: i64, dz: i64| lattice(x + dx, y + dy, z + dz);
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    let x00 = lerp(h(0, 0, 0), h(1, 0, 0), s.x);
    let x10 = lerp(h(0, 1, 0), h(1, 1, 0), s.x);
    let x01 = lerp(h(0, 0, 1), h(1, 0, 1), s.x);
    let x11 = lerp(h(0, 1, 1), h(1, 1, 1), s.x);
    lerp(lerp(x00, x10, s.y), lerp(x01, x11, s.y), s.z)
}

fn lattice(x: i64, y: i64, z: i64) -> f64 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (z as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decals_paint_their_rectangle_only() {
        let floor = Material::solid([0.5; 3])
            .with_decals([0, 1], vec![Decal { min: [1.0, 0.0], max: [1.1, 10.0], color: [0.9, 0.8, 0.1] }]);
        assert_eq!(floor.albedo(DVec3::new(1.05, 5.0, 0.0)), [0.9, 0.8, 0.1]);
        assert_eq!(floor.albedo(DVec3::new(1.2, 5.0, 0.0)), [0.5; 3]);
    }

    #[test]
    fn noise_varies_smoothly_and_deterministically() {
        let concrete = Material::solid([0.5; 3]).with_noise(0.3, 0.5);
        let a = concrete.albedo(DVec3::new(0.3, 0.7, 0.0));
        assert_eq!(a, concrete.albedo(DVec3::new(0.3, 0.7, 0.0)));
        let near = concrete.albedo(DVec3::new(0.3001, 0.7, 0.0));
        assert!((a[0] - near[0]).abs() < 0.01);
        let values: Vec<f32> = (0..50).map(|i| concrete.albedo(DVec3::new(i as f64 * 0.37, 0.0, 0.0))[0]).collect();
        let spread = values.iter().cloned().fold(f32::MIN, f32::max) - values.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread > 0.1, "the noise varies: {spread}");
    }
}
