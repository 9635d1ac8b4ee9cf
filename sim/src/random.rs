//! Randomised scenes for training sets: dock layouts (wall distance, doors, racks, pallets,
//! forklift, people, colours, lighting) and camera placements (height, tilt, heading,
//! position, field of view, lens distortion, sensor noise). Everything is drawn from one
//! seeded generator, so a seed gives the same scenes.

use dinoedge_calibration::{Camera, Intrinsics, Pose};
use glam::DVec3;
use rand::{Rng, RngExt};

use crate::dock::{DockLayout, Door, Forklift, Lighting, Pallet, Person, Rack};

/// Forklift paints seen in warehouses: yellow, red, orange, blue, green, grey.
const FORKLIFT_COLORS: [[f32; 3]; 6] =
    [[0.85, 0.62, 0.05], [0.7, 0.1, 0.08], [0.9, 0.4, 0.05], [0.1, 0.25, 0.6], [0.15, 0.45, 0.15], [0.45, 0.45, 0.45]];

fn jitter<R: Rng>(rng: &mut R, color: [f32; 3], amount: f32) -> [f32; 3] {
    color.map(|c| (c + rng.random_range(-amount..=amount)).clamp(0.02, 0.98))
}

fn bright_color<R: Rng>(rng: &mut R) -> [f32; 3] {
    [rng.random_range(0.05..0.95), rng.random_range(0.05..0.95), rng.random_range(0.05..0.95)]
}

/// True when a footprint circle at (x, y) of radius r keeps clear of all placed ones.
fn clear(placed: &[(f64, f64, f64)], x: f64, y: f64, r: f64) -> bool {
    placed.iter().all(|(px, py, pr)| ((px - x).powi(2) + (py - y).powi(2)).sqrt() > pr + r)
}

/// Draws a free spot for a footprint of radius `r`, up to 50 tries.
fn spot<R: Rng>(
    rng: &mut R,
    placed: &mut Vec<(f64, f64, f64)>,
    x: (f64, f64),
    y: (f64, f64),
    r: f64,
) -> Option<(f64, f64)> {
    for _ in 0..50 {
        let (px, py) = (rng.random_range(x.0..x.1), rng.random_range(y.0..y.1));
        if clear(placed, px, py, r) {
            placed.push((px, py, r));
            return Some((px, py));
        }
    }
    None
}

pub fn layout<R: Rng>(rng: &mut R) -> DockLayout {
    let wall_y = rng.random_range(8.0..16.0);
    let mut placed = vec![(0.0, 0.0, 1.5)]; // keep the camera's spot free
    let door_count = rng.random_range(1..=3);
    let doors = (0..door_count)
        .map(|i| Door {
            center_x: -5.0 + 10.0 * (i as f64 + 0.5) / door_count as f64 + rng.random_range(-0.5..0.5),
            width: rng.random_range(2.4..3.2),
            height: rng.random_range(2.6..3.4),
        })
        .collect();
    let mut racks = Vec::new();
    for side in [-1.0, 1.0] {
        if rng.random_bool(0.5) {
            let x = side * rng.random_range(5.5..8.0);
            let y = rng.random_range(2.0..(wall_y - 3.0));
            placed.push((x, y, 2.2));
            racks.push(Rack {
                x,
                y,
                yaw: std::f64::consts::FRAC_PI_2,
                length: rng.random_range(3.0..5.0),
                depth: 1.1,
                height: rng.random_range(2.5..4.0),
                levels: rng.random_range(2..=4),
            });
        }
    }
    let forklift = rng.random_bool(0.8).then(|| {
        let (x, y) = spot(rng, &mut placed, (-4.0, 4.0), (2.5, wall_y - 2.5), 1.6).unwrap_or((0.0, wall_y / 2.0));
        let paint = FORKLIFT_COLORS[rng.random_range(0..FORKLIFT_COLORS.len())];
        Forklift {
            x,
            y: y - 1.0,
            yaw: rng.random_range(-0.6..0.6) + if rng.random_bool(0.2) { std::f64::consts::PI } else { 0.0 },
            color: jitter(rng, paint, 0.06),
            fork_height: rng.random_range(0.05..1.2),
        }
    });
    let pallets = (0..rng.random_range(0..=4))
        .filter_map(|_| {
            let (x, y) = spot(rng, &mut placed, (-7.0, 7.0), (1.5, wall_y - 1.0), 0.8)?;
            Some(Pallet {
                x,
                y,
                yaw: rng.random_range(-0.5..0.5),
                layers: rng.random_range(0..=3),
                box_color: jitter(rng, [0.6, 0.45, 0.28], 0.08),
            })
        })
        .collect();
    let people = (0..rng.random_range(0..=3))
        .filter_map(|_| {
            let (x, y) = spot(rng, &mut placed, (-6.0, 6.0), (1.5, wall_y - 0.8), 0.4)?;
            Some(Person {
                x,
                y,
                yaw: rng.random_range(-std::f64::consts::PI..std::f64::consts::PI),
                height: rng.random_range(1.55..1.95),
                shirt: if rng.random_bool(0.5) { jitter(rng, [0.9, 0.5, 0.05], 0.05) } else { bright_color(rng) },
                trousers: jitter(rng, [0.15, 0.17, 0.25], 0.1),
                stride: rng.random_range(-1.0..1.0),
            })
        })
        .collect();
    let elevation: f64 = rng.random_range(0.5..1.4);
    let azimuth: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let gray = rng.random_range(0.3..0.55);
    DockLayout {
        wall_y,
        wall_height: rng.random_range(5.0..8.0),
        floor_color: jitter(rng, [gray, gray * 0.98, gray * 0.94], 0.04),
        wall_color: jitter(rng, [0.62, 0.64, 0.66], 0.15),
        floor_lines: floor_lines(rng, wall_y),
        doors,
        racks,
        pallets,
        forklift,
        people,
        lighting: Lighting {
            ambient: rng.random_range(0.2..0.5),
            towards: [elevation.cos() * azimuth.cos(), elevation.cos() * azimuth.sin(), elevation.sin()],
            intensity: rng.random_range(0.4..0.9),
        },
    }
}

fn floor_lines<R: Rng>(rng: &mut R, wall_y: f64) -> Vec<[f64; 4]> {
    let mut lines = Vec::new();
    let width = rng.random_range(0.08..0.15);
    for x in [rng.random_range(-4.5..-2.5), rng.random_range(2.5..4.5)] {
        if rng.random_bool(0.8) {
            lines.push([x, -2.0, x + width, wall_y]);
        }
    }
    if rng.random_bool(0.7) {
        let y = wall_y - rng.random_range(1.0..2.5);
        lines.push([-10.0, y, 10.0, y + width]);
    }
    lines
}

/// A camera somewhere an integrator would mount one over a dock, and its sensor noise.
pub fn camera<R: Rng>(rng: &mut R, width: u32, height: u32) -> (Camera, f32) {
    let intrinsics = Intrinsics::from_hfov(width, height, rng.random_range(60.0..100.0))
        .with_distortion(rng.random_range(-0.12..0.0), rng.random_range(0.0..0.02));
    let position = DVec3::new(rng.random_range(-3.0..3.0), rng.random_range(-1.0..1.0), rng.random_range(2.5..6.0));
    let pose = Pose::from_angles(
        position,
        rng.random_range(-20.0..20.0),
        rng.random_range(15.0..45.0),
        rng.random_range(-3.0..3.0),
    );
    (Camera { intrinsics, pose }, rng.random_range(0.0..3.0))
}
