//! Primitives with exact ray intersection: planes, rectangles, oriented boxes, capped
//! cylinders and spheres. Each also answers its support point (the farthest point in a
//! direction, exact for these convex shapes) and a bounding sphere for culling.

use glam::{DMat3, DVec3};

/// The nearest intersection of a ray with a shape.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Distance along the (unit) ray direction.
    pub t: f64,
    /// Unit surface normal, facing the ray's origin.
    pub normal: DVec3,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// The infinite plane through `point` with unit `normal`.
    Plane {
        point: DVec3,
        normal: DVec3,
    },
    /// A rectangle: centre, unit normal, unit in-plane axis `u` (v = normal × u), half sizes.
    Rect {
        center: DVec3,
        normal: DVec3,
        u: DVec3,
        half_u: f64,
        half_v: f64,
    },
    /// A box: centre, half extents along its own axes, `rotation` from box to floor frame.
    Cuboid {
        center: DVec3,
        half: DVec3,
        rotation: DMat3,
    },
    /// A capped cylinder from `base` along the unit `axis` for `height`.
    Cylinder {
        base: DVec3,
        axis: DVec3,
        radius: f64,
        height: f64,
    },
    Sphere {
        center: DVec3,
        radius: f64,
    },
}

const EPS: f64 = 1e-9;

impl Shape {
    /// A box turned by `yaw` radians about the vertical axis.
    pub fn cuboid(center: DVec3, size: DVec3, yaw: f64) -> Shape {
        Shape::Cuboid { center, half: size / 2.0, rotation: DMat3::from_rotation_z(yaw) }
    }

    pub fn intersect(&self, origin: DVec3, dir: DVec3) -> Option<Hit> {
        match *self {
            Shape::Plane { point, normal } => plane_hit(origin, dir, point, normal),
            Shape::Rect { center, normal, u, half_u, half_v } => {
                let hit = plane_hit(origin, dir, center, normal)?;
                let local = origin + dir * hit.t - center;
                let v = normal.cross(u);
                (local.dot(u).abs() <= half_u && local.dot(v).abs() <= half_v).then_some(hit)
            }
            Shape::Cuboid { center, half, rotation } => {
                let inv = rotation.transpose();
                let (o, d) = (inv * (origin - center), inv * dir);
                let (mut t_near, mut t_far, mut axis) = (f64::NEG_INFINITY, f64::INFINITY, 0);
                for i in 0..3 {
                    if d[i].abs() < EPS {
                        if o[i].abs() > half[i] {
                            return None;
                        }
                        continue;
                    }
                    let (mut t0, mut t1) = ((-half[i] - o[i]) / d[i], (half[i] - o[i]) / d[i]);
                    if t0 > t1 {
                        std::mem::swap(&mut t0, &mut t1);
                    }
                    if t0 > t_near {
                        t_near = t0;
                        axis = i;
                    }
                    t_far = t_far.min(t1);
                }
                if t_near > t_far || t_near <= EPS {
                    return None; // missed, or the origin is inside
                }
                let mut local_normal = DVec3::ZERO;
                local_normal[axis] = -d[axis].signum();
                Some(Hit { t: t_near, normal: rotation * local_normal })
            }
            Shape::Cylinder { base, axis, radius, height } => cylinder_hit(origin, dir, base, axis, radius, height),
            Shape::Sphere { center, radius } => {
                let oc = origin - center;
                let b = oc.dot(dir);
                let disc = b * b - (oc.length_squared() - radius * radius);
                if disc < 0.0 {
                    return None;
                }
                let t = -b - disc.sqrt();
                (t > EPS).then(|| Hit { t, normal: (origin + dir * t - center) / radius })
            }
        }
    }

    /// The point of the shape farthest in direction `dir` (for planes: `None`).
    pub fn support(&self, dir: DVec3) -> Option<DVec3> {
        match *self {
            Shape::Plane { .. } => None,
            Shape::Rect { center, normal, u, half_u, half_v } => {
                let v = normal.cross(u);
                Some(center + u * half_u * dir.dot(u).signum() + v * half_v * dir.dot(v).signum())
            }
            Shape::Cuboid { center, half, rotation } => {
                let local = rotation.transpose() * dir;
                Some(center + rotation * (half * local.signum()))
            }
            Shape::Cylinder { base, axis, radius, height } => {
                let end = if dir.dot(axis) > 0.0 { base + axis * height } else { base };
                let radial = dir - axis * dir.dot(axis);
                let rim = if radial.length_squared() > EPS { radial.normalize() * radius } else { DVec3::ZERO };
                Some(end + rim)
            }
            Shape::Sphere { center, radius } => Some(center + dir.normalize_or_zero() * radius),
        }
    }

    /// The corners of a box containing the shape (`None` for planes).
    pub fn corners(&self) -> Option<[DVec3; 8]> {
        let boxed = |center: DVec3, axes: [DVec3; 3]| {
            let mut out = [DVec3::ZERO; 8];
            for (k, corner) in out.iter_mut().enumerate() {
                let sign = |bit: usize| if k & (1 << bit) == 0 { -1.0 } else { 1.0 };
                *corner = center + axes[0] * sign(0) + axes[1] * sign(1) + axes[2] * sign(2);
            }
            out
        };
        match *self {
            Shape::Plane { .. } => None,
            Shape::Rect { center, normal, u, half_u, half_v } => {
                Some(boxed(center, [u * half_u, normal.cross(u) * half_v, DVec3::ZERO]))
            }
            Shape::Cuboid { center, half, rotation } => {
                Some(boxed(center, [rotation.x_axis * half.x, rotation.y_axis * half.y, rotation.z_axis * half.z]))
            }
            Shape::Cylinder { base, axis, radius, height } => {
                let e1 = axis.any_orthonormal_vector();
                let e2 = axis.cross(e1);
                Some(boxed(base + axis * height / 2.0, [axis * height / 2.0, e1 * radius, e2 * radius]))
            }
            Shape::Sphere { center, radius } => {
                Some(boxed(center, [DVec3::X * radius, DVec3::Y * radius, DVec3::Z * radius]))
            }
        }
    }

    /// A sphere containing the shape (infinite for planes).
    pub fn bounds(&self) -> (DVec3, f64) {
        match *self {
            Shape::Plane { point, .. } => (point, f64::INFINITY),
            Shape::Rect { center, half_u, half_v, .. } => (center, (half_u * half_u + half_v * half_v).sqrt()),
            Shape::Cuboid { center, half, .. } => (center, half.length()),
            Shape::Cylinder { base, axis, radius, height } => {
                (base + axis * height / 2.0, (radius * radius + height * height / 4.0).sqrt())
            }
            Shape::Sphere { center, radius } => (center, radius),
        }
    }

    /// Distance from a point to the shape (0 inside); for the person–forklift truth.
    pub fn distance(&self, p: DVec3) -> f64 {
        match *self {
            Shape::Plane { point, normal } => (p - point).dot(normal).abs(),
            Shape::Rect { center, normal, u, half_u, half_v } => {
                let v = normal.cross(u);
                let local = p - center;
                let du = (local.dot(u).abs() - half_u).max(0.0);
                let dv = (local.dot(v).abs() - half_v).max(0.0);
                (du * du + dv * dv + local.dot(normal).powi(2)).sqrt()
            }
            Shape::Cuboid { center, half, rotation } => {
                let local = (rotation.transpose() * (p - center)).abs() - half;
                local.max(DVec3::ZERO).length()
            }
            Shape::Cylinder { base, axis, radius, height } => {
                let local = p - base;
                let along = local.dot(axis);
                let radial = (local - axis * along).length();
                let dr = (radial - radius).max(0.0);
                let da = (-along).max(along - height).max(0.0);
                (dr * dr + da * da).sqrt()
            }
            Shape::Sphere { center, radius } => ((p - center).length() - radius).max(0.0),
        }
    }
}

fn plane_hit(origin: DVec3, dir: DVec3, point: DVec3, normal: DVec3) -> Option<Hit> {
    let denom = dir.dot(normal);
    if denom.abs() < EPS {
        return None;
    }
    let t = (point - origin).dot(normal) / denom;
    (t > EPS).then(|| Hit { t, normal: if denom < 0.0 { normal } else { -normal } })
}

fn cylinder_hit(origin: DVec3, dir: DVec3, base: DVec3, axis: DVec3, radius: f64, height: f64) -> Option<Hit> {
    let mut best: Option<Hit> = None;
    let mut keep = |hit: Hit| {
        if best.is_none_or(|b| hit.t < b.t) {
            best = Some(hit);
        }
    };
    // The side: |(o + t d - base) - axis((o + t d - base)·axis)| = r.
    let oc = origin - base;
    let d_perp = dir - axis * dir.dot(axis);
    let o_perp = oc - axis * oc.dot(axis);
    let a = d_perp.length_squared();
    if a > EPS {
        let b = o_perp.dot(d_perp);
        let disc = b * b - a * (o_perp.length_squared() - radius * radius);
        if disc >= 0.0 {
            for t in [(-b - disc.sqrt()) / a, (-b + disc.sqrt()) / a] {
                let along = (oc + dir * t).dot(axis);
                if t > EPS && (0.0..=height).contains(&along) {
                    let normal = (o_perp + d_perp * t) / radius;
                    keep(Hit { t, normal: if normal.dot(dir) > 0.0 { -normal } else { normal } });
                }
            }
        }
    }
    // The caps.
    for (center, normal) in [(base, -axis), (base + axis * height, axis)] {
        if let Some(hit) = plane_hit(origin, dir, center, normal)
            && (origin + dir * hit.t - center).length_squared() <= radius * radius
        {
            keep(hit);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ray(from: [f64; 3], to: [f64; 3]) -> (DVec3, DVec3) {
        let (a, b) = (DVec3::from(from), DVec3::from(to));
        (a, (b - a).normalize())
    }

    #[test]
    fn a_box_face_is_hit_at_its_distance_from_any_angle_of_the_box() {
        let cube = Shape::cuboid(DVec3::new(0.0, 5.0, 1.0), DVec3::splat(2.0), 0.3);
        let (o, d) = ray([0.0, 0.0, 1.0], [0.0, 5.0, 1.0]);
        let hit = cube.intersect(o, d).unwrap();
        // The face towards the origin is 1 m from the centre along the box's own axis.
        let expected = 5.0 - 1.0 / 0.3f64.cos();
        assert!((hit.t - expected).abs() < 1e-9, "{} vs {expected}", hit.t);
        assert!(hit.normal.dot(d) < 0.0);
    }

    #[test]
    fn cylinders_are_hit_on_the_side_and_on_the_caps() {
        let c = Shape::Cylinder { base: DVec3::new(0.0, 3.0, 0.0), axis: DVec3::Z, radius: 0.5, height: 2.0 };
        let (o, d) = ray([0.0, 0.0, 1.0], [0.0, 3.0, 1.0]);
        assert!((c.intersect(o, d).unwrap().t - 2.5).abs() < 1e-9);
        let (o, d) = ray([0.0, 3.0, 5.0], [0.0, 3.0, 0.0]);
        assert!((c.intersect(o, d).unwrap().t - 3.0).abs() < 1e-9, "top cap");
        let (o, d) = ray([0.0, 0.0, 3.0], [0.0, 10.0, 3.0]);
        assert!(c.intersect(o, d).is_none(), "passes above");
    }

    #[test]
    fn support_points_are_the_extreme_points() {
        let cube = Shape::cuboid(DVec3::ZERO, DVec3::new(2.0, 4.0, 6.0), 0.0);
        assert_eq!(cube.support(DVec3::new(1.0, 1.0, 1.0)), Some(DVec3::new(1.0, 2.0, 3.0)));
        let cyl = Shape::Cylinder { base: DVec3::ZERO, axis: DVec3::Z, radius: 1.0, height: 2.0 };
        assert!((cyl.support(DVec3::new(0.0, 1.0, 1.0)).unwrap() - DVec3::new(0.0, 1.0, 2.0)).length() < 1e-12);
        let sphere = Shape::Sphere { center: DVec3::ONE, radius: 2.0 };
        assert!((sphere.support(DVec3::X).unwrap() - DVec3::new(3.0, 1.0, 1.0)).length() < 1e-12);
    }

    #[test]
    fn distances_are_zero_inside_and_euclidean_outside() {
        let cube = Shape::cuboid(DVec3::ZERO, DVec3::splat(2.0), 0.0);
        assert_eq!(cube.distance(DVec3::ZERO), 0.0);
        assert!((cube.distance(DVec3::new(4.0, 1.0, 0.0)) - 3.0).abs() < 1e-12);
        assert!((cube.distance(DVec3::new(4.0, 5.0, 0.0)) - 5.0).abs() < 1e-12);
    }
}
