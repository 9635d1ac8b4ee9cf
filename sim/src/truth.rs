//! Ground truth derived from the scene's geometry, not from the rendered pixels: the
//! forklift's minimum distance to the dock face, and each person's distance to the forklift.

use glam::DVec3;
use serde::{Deserialize, Serialize};

use crate::dock::DockLayout;
use crate::scene::{Class, Scene};
use crate::shape::Shape;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PersonTruth {
    pub name: String,
    /// Minimum distance between the person's and the forklift's surfaces (sampled every
    /// 2 cm on the person: within 1.5 cm of the exact value).
    pub to_forklift_m: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Truth {
    /// Minimum distance from any point of the forklift to the dock face plane
    /// (negative once it passes through the plane); exact.
    pub forklift_to_dock_face_m: Option<f64>,
    pub people: Vec<PersonTruth>,
}

impl Truth {
    /// The distance from the forklift to the person nearest it.
    pub fn nearest_person_to_forklift_m(&self) -> Option<f64> {
        self.people.iter().filter_map(|p| p.to_forklift_m).min_by(f64::total_cmp)
    }
}

/// Sample spacing on people's surfaces, metres.
const SPACING: f64 = 0.02;

pub fn truth(layout: &DockLayout, scene: &Scene) -> Truth {
    let forklift: Vec<&Shape> = scene
        .objects
        .iter()
        .filter(|o| o.class == Class::Forklift)
        .flat_map(|o| o.parts.iter().map(|p| &p.shape))
        .collect();
    let forklift_to_dock_face_m = (!forklift.is_empty()).then(|| {
        forklift.iter().filter_map(|s| s.support(DVec3::Y)).map(|p| layout.wall_y - p.y).fold(f64::INFINITY, f64::min)
    });
    let people = scene
        .objects
        .iter()
        .filter(|o| o.class == Class::Person)
        .map(|person| PersonTruth {
            name: person.name.clone(),
            to_forklift_m: (!forklift.is_empty()).then(|| {
                person
                    .parts
                    .iter()
                    .flat_map(|p| surface_samples(&p.shape, SPACING))
                    .map(|q| forklift.iter().map(|s| s.distance(q)).fold(f64::INFINITY, f64::min))
                    .fold(f64::INFINITY, f64::min)
            }),
        })
        .collect();
    Truth { forklift_to_dock_face_m, people }
}

/// Points on the surface of a bounded shape, about `spacing` apart.
pub fn surface_samples(shape: &Shape, spacing: f64) -> Vec<DVec3> {
    let steps = |length: f64| ((length / spacing).ceil() as usize).max(1);
    let mut out = Vec::new();
    match *shape {
        Shape::Plane { .. } => {}
        Shape::Rect { center, normal, u, half_u, half_v } => {
            let v = normal.cross(u);
            let (nu, nv) = (steps(2.0 * half_u), steps(2.0 * half_v));
            for i in 0..=nu {
                for j in 0..=nv {
                    let a = -half_u + 2.0 * half_u * i as f64 / nu as f64;
                    let b = -half_v + 2.0 * half_v * j as f64 / nv as f64;
                    out.push(center + u * a + v * b);
                }
            }
        }
        Shape::Cuboid { center, half, rotation } => {
            for axis in 0..3 {
                let (a, b) = ((axis + 1) % 3, (axis + 2) % 3);
                let (na, nb) = (steps(2.0 * half[a]), steps(2.0 * half[b]));
                for side in [-1.0, 1.0] {
                    for i in 0..=na {
                        for j in 0..=nb {
                            let mut local = DVec3::ZERO;
                            local[axis] = side * half[axis];
                            local[a] = -half[a] + 2.0 * half[a] * i as f64 / na as f64;
                            local[b] = -half[b] + 2.0 * half[b] * j as f64 / nb as f64;
                            out.push(center + rotation * local);
                        }
                    }
                }
            }
        }
        Shape::Cylinder { base, axis, radius, height } => {
            let helper = if axis.x.abs() < 0.9 { DVec3::X } else { DVec3::Y };
            let e1 = axis.cross(helper).normalize();
            let e2 = axis.cross(e1);
            let around = steps(std::f64::consts::TAU * radius);
            for k in 0..=steps(height) {
                for i in 0..around {
                    let phi = std::f64::consts::TAU * i as f64 / around as f64;
                    out.push(
                        base + axis * (height * k as f64 / steps(height) as f64)
                            + (e1 * phi.cos() + e2 * phi.sin()) * radius,
                    );
                }
            }
            for end in [base, base + axis * height] {
                for r in 0..=steps(radius) {
                    let rr = radius * r as f64 / steps(radius) as f64;
                    for i in 0..around {
                        let phi = std::f64::consts::TAU * i as f64 / around as f64;
                        out.push(end + (e1 * phi.cos() + e2 * phi.sin()) * rr);
                    }
                }
            }
        }
        Shape::Sphere { center, radius } => {
            let rings = steps(std::f64::consts::PI * radius);
            for i in 0..=rings {
                let theta = std::f64::consts::PI * i as f64 / rings as f64;
                let around = steps(std::f64::consts::TAU * radius * theta.sin()).max(1);
                for j in 0..around {
                    let phi = std::f64::consts::TAU * j as f64 / around as f64;
                    let dir = DVec3::new(theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos());
                    out.push(center + dir * radius);
                }
            }
        }
    }
    out
}
