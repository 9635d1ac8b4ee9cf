//! The simulator's truth checks: rendered depth is the exact geometry (floor pixels read the
//! analytic ray–plane intersection, a box face its distance), the forklift–dock distance in
//! the record agrees with the rendered depth back-projected to 3-D, and frames are images
//! (not black, not uniform) that are the same for the same seed.

use dinoedge_calibration::{Camera, Intrinsics, Pose};
use dinoedge_sim::dock::{DockLayout, build};
use dinoedge_sim::material::Material;
use dinoedge_sim::scene::{Class, Light, Object, Part, Scene};
use dinoedge_sim::{RenderOptions, Shape, render, truth};
use glam::{DVec2, DVec3};

fn camera(position: [f64; 3], yaw: f64, pitch: f64) -> Camera {
    Camera {
        intrinsics: Intrinsics::from_hfov(320, 240, 80.0).with_distortion(-0.03, 0.0),
        pose: Pose::from_angles(DVec3::from(position), yaw, pitch, 2.0),
    }
}

#[test]
fn floor_pixels_read_the_analytic_ray_plane_intersection() {
    let cam = camera([0.5, -1.0, 3.5], 10.0, 30.0);
    let scene = build(&DockLayout::example());
    let frame = render(&scene, &cam, &RenderOptions::default());
    let mut checked = 0;
    for (x, y) in [(10, 230), (160, 200), (300, 180), (40, 150), (250, 239)] {
        let index = (y * 320 + x) as usize;
        assert_eq!(frame.class[index], Class::Floor as u8, "pixel ({x}, {y}) should see the floor");
        let (origin, dir) = cam.ray(DVec2::new(x as f64 + 0.5, y as f64 + 0.5));
        let t = -origin.z / dir.z;
        let expected = t * dir.dot(cam.pose.forward());
        assert!(
            (frame.depth[index] as f64 - expected).abs() < 1e-5 * expected,
            "({x}, {y}): {} vs {expected}",
            frame.depth[index]
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn a_box_face_at_a_known_distance_reads_that_distance() {
    // A level camera 1 m above the floor looking along +y; a 2 m box whose near face is the plane y = 5.
    let cam = Camera {
        intrinsics: Intrinsics::from_hfov(320, 240, 60.0),
        pose: Pose::from_angles(DVec3::new(0.0, 0.0, 1.0), 0.0, 0.0, 0.0),
    };
    let floor = Object::new(
        "floor",
        Class::Floor,
        vec![Part {
            shape: Shape::Plane { point: DVec3::ZERO, normal: DVec3::Z },
            material: Material::solid([0.4; 3]),
        }],
    );
    let cube = Object::new(
        "box",
        Class::Box,
        vec![Part {
            shape: Shape::cuboid(DVec3::new(0.3, 6.0, 1.0), DVec3::splat(2.0), 0.0),
            material: Material::solid([0.6, 0.4, 0.2]),
        }],
    );
    let scene =
        Scene { objects: vec![floor, cube], ambient: 0.5, lights: vec![Light { towards: DVec3::Z, intensity: 0.5 }] };
    let frame = render(&scene, &cam, &RenderOptions::default());
    let face: Vec<f32> =
        frame.depth.iter().zip(&frame.class).filter(|(_, c)| **c == Class::Box as u8).map(|(d, _)| *d).collect();
    assert!(face.len() > 5000, "the box fills part of the view: {} pixels", face.len());
    assert!(face.iter().all(|d| (d - 5.0).abs() < 1e-5), "every pixel of the face is 5 m deep");
}

#[test]
fn the_forklift_to_dock_distance_matches_the_rendered_depth_in_3d() {
    let layout = DockLayout::example();
    let scene = build(&layout);
    let truth = truth(&layout, &scene);
    let expected = truth.forklift_to_dock_face_m.unwrap();
    // From the side, where the fork tips are in view.
    let cam = Camera {
        intrinsics: Intrinsics::from_hfov(640, 480, 70.0),
        pose: Pose::from_angles(DVec3::new(-5.0, 8.0, 2.0), -90.0, 12.0, 0.0),
    };
    let frame = render(&scene, &cam, &RenderOptions::default());
    let forklift = scene.objects.iter().position(|o| o.class == Class::Forklift).unwrap() as u16 + 1;
    let mut nearest = f64::INFINITY;
    let mut pixels = 0;
    for y in 0..frame.height() {
        for x in 0..frame.width() {
            let i = (y * frame.width() + x) as usize;
            if frame.instance[i] == forklift {
                let point = cam.back_project(DVec2::new(x as f64 + 0.5, y as f64 + 0.5), frame.depth[i] as f64);
                nearest = nearest.min(layout.wall_y - point.y);
                pixels += 1;
            }
        }
    }
    assert!(pixels > 1000, "the forklift is in view: {pixels} pixels");
    assert!(nearest >= expected - 1e-3, "no rendered point is nearer than the truth: {nearest} vs {expected}");
    assert!(nearest - expected < 0.02, "the nearest rendered point is the truth's: {nearest} vs {expected}");
    // The fork tips are the forklift's nearest point: forks 1.1 m long ending 2.09 m ahead of its centre.
    assert!((expected - (layout.wall_y - layout.forklift.as_ref().unwrap().y - 2.09)).abs() < 1e-9);
}

#[test]
fn frames_are_images_and_the_same_for_the_same_seed() {
    let scene = build(&DockLayout::example());
    let cam = camera([0.0, 0.0, 4.0], 0.0, 25.0);
    let options = RenderOptions { noise: 2.0, seed: 9 };
    let a = render(&scene, &cam, &options);
    let b = render(&scene, &cam, &options);
    assert_eq!(a.rgb, b.rgb, "same seed, same pixels");
    assert_ne!(a.rgb, render(&scene, &cam, &RenderOptions { noise: 2.0, seed: 10 }).rgb);
    let values: Vec<f64> = a.rgb.as_raw().iter().map(|v| *v as f64).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    assert!(mean > 40.0 && std > 20.0, "not black, not uniform: mean {mean:.1}, std {std:.1}");
    let mut classes: Vec<u8> = a.class.clone();
    classes.sort();
    classes.dedup();
    for class in [Class::Floor, Class::Wall, Class::Forklift, Class::Person, Class::Pallet, Class::Box, Class::Rack] {
        assert!(classes.contains(&(class as u8)), "{class:?} is in view");
    }
}
