//! The loading-dock scene: a floor with painted lines, the dock wall (its face is the plane
//! y = `wall_y`, facing −y) with dock doors and bumpers, racks, pallets with boxes, a
//! forklift (body, counterweight, overhead guard, wheels, mast, carriage, forks) and
//! people, all from primitives. [`DockLayout`] says where everything is; [`build`] turns
//! it into a [`Scene`].

use glam::{DMat3, DVec3};
use serde::Serialize;

use crate::material::{Decal, Material};
use crate::scene::{Class, Light, Object, Part, Scene};
use crate::shape::Shape;

#[derive(Debug, Clone, Serialize)]
pub struct Door {
    pub center_x: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rack {
    pub x: f64,
    pub y: f64,
    pub yaw: f64,
    pub length: f64,
    pub depth: f64,
    pub height: f64,
    pub levels: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pallet {
    pub x: f64,
    pub y: f64,
    pub yaw: f64,
    /// Layers of boxes on it (0: an empty pallet).
    pub layers: u32,
    pub box_color: [f32; 3],
}

/// A counterbalance forklift; (x, y) is the centre of its chassis footprint, `yaw` its
/// heading (its forks point along (−sin yaw, cos yaw)).
#[derive(Debug, Clone, Serialize)]
pub struct Forklift {
    pub x: f64,
    pub y: f64,
    pub yaw: f64,
    pub color: [f32; 3],
    /// Height of the forks' underside above the floor.
    pub fork_height: f64,
}

/// A person standing or walking; `stride` in [−1, 1] swings legs and arms.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub x: f64,
    pub y: f64,
    pub yaw: f64,
    pub height: f64,
    pub shirt: [f32; 3],
    pub trousers: [f32; 3],
    pub stride: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Lighting {
    pub ambient: f32,
    /// Unit vector towards the main light.
    pub towards: [f64; 3],
    pub intensity: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DockLayout {
    /// The dock face: the wall plane y = wall_y.
    pub wall_y: f64,
    pub wall_height: f64,
    pub floor_color: [f32; 3],
    pub wall_color: [f32; 3],
    /// Painted floor lines: (x0, y0, x1, y1) of axis-aligned rectangles.
    pub floor_lines: Vec<[f64; 4]>,
    pub doors: Vec<Door>,
    pub racks: Vec<Rack>,
    pub pallets: Vec<Pallet>,
    pub forklift: Option<Forklift>,
    pub people: Vec<Person>,
    pub lighting: Lighting,
}

impl DockLayout {
    /// A fixed example: two doors, a rack, two pallets, a forklift 3 m from the dock
    /// facing it, and a person beside it.
    pub fn example() -> Self {
        DockLayout {
            wall_y: 12.0,
            wall_height: 6.0,
            floor_color: [0.42, 0.41, 0.39],
            wall_color: [0.62, 0.64, 0.66],
            floor_lines: vec![[-3.1, 0.0, -3.0, 12.0], [3.0, 0.0, 3.1, 12.0], [-8.0, 10.5, 8.0, 10.6]],
            doors: vec![
                Door { center_x: -1.5, width: 2.8, height: 3.0 },
                Door { center_x: 3.5, width: 2.8, height: 3.0 },
            ],
            racks: vec![Rack {
                x: -6.0,
                y: 6.0,
                yaw: std::f64::consts::FRAC_PI_2,
                length: 4.0,
                depth: 1.1,
                height: 3.0,
                levels: 3,
            }],
            pallets: vec![
                Pallet { x: 5.5, y: 7.0, yaw: 0.1, layers: 2, box_color: [0.62, 0.46, 0.28] },
                Pallet { x: -2.0, y: 4.0, yaw: -0.2, layers: 1, box_color: [0.55, 0.42, 0.27] },
            ],
            forklift: Some(Forklift { x: 0.5, y: 7.0, yaw: 0.0, color: [0.85, 0.62, 0.05], fork_height: 0.1 }),
            people: vec![Person {
                x: 2.6,
                y: 6.0,
                yaw: 1.2,
                height: 1.75,
                shirt: [0.9, 0.45, 0.1],
                trousers: [0.15, 0.18, 0.3],
                stride: 0.5,
            }],
            lighting: Lighting { ambient: 0.35, towards: [0.3, -0.4, 0.866], intensity: 0.75 },
        }
    }
}

/// Places parts given in an object's own frame (x right, y forward, z up) into the floor frame.
struct Placement {
    origin: DVec3,
    rotation: DMat3,
}

impl Placement {
    fn new(x: f64, y: f64, yaw: f64) -> Self {
        Self { origin: DVec3::new(x, y, 0.0), rotation: DMat3::from_rotation_z(yaw) }
    }

    fn point(&self, local: DVec3) -> DVec3 {
        self.origin + self.rotation * local
    }

    fn cuboid(&self, center: [f64; 3], size: [f64; 3], material: &Material) -> Part {
        Part {
            shape: Shape::Cuboid {
                center: self.point(DVec3::from(center)),
                half: DVec3::from(size) / 2.0,
                rotation: self.rotation,
            },
            material: material.clone(),
        }
    }

    fn cylinder(&self, base: [f64; 3], axis: [f64; 3], radius: f64, height: f64, material: &Material) -> Part {
        Part {
            shape: Shape::Cylinder {
                base: self.point(DVec3::from(base)),
                axis: self.rotation * DVec3::from(axis).normalize(),
                radius,
                height,
            },
            material: material.clone(),
        }
    }

    fn sphere(&self, center: [f64; 3], radius: f64, material: &Material) -> Part {
        Part { shape: Shape::Sphere { center: self.point(DVec3::from(center)), radius }, material: material.clone() }
    }
}

/// The scene of a layout. Object names are unique: `floor`, `dock_wall`, `ceiling`, `rack0`,
/// `pallet0` and the `boxes0` on it, `forklift`, `person0`, …
pub fn build(layout: &DockLayout) -> Scene {
    let mut objects = Vec::new();
    let paint = [0.86, 0.72, 0.08];
    let floor = Material::solid(layout.floor_color).with_noise(0.18, 0.6).with_decals(
        [0, 1],
        layout.floor_lines.iter().map(|l| Decal { min: [l[0], l[1]], max: [l[2], l[3]], color: paint }).collect(),
    );
    objects.push(Object::new(
        "floor",
        Class::Floor,
        vec![Part { shape: Shape::Plane { point: DVec3::ZERO, normal: DVec3::Z }, material: floor }],
    ));
    let doors = layout
        .doors
        .iter()
        .map(|d| Decal {
            min: [d.center_x - d.width / 2.0, 0.0],
            max: [d.center_x + d.width / 2.0, d.height],
            color: [0.22, 0.24, 0.27],
        })
        .collect();
    let wall = Material::solid(layout.wall_color).with_noise(0.08, 1.5).with_decals([0, 2], doors);
    let mut wall_parts = vec![Part {
        shape: Shape::Rect {
            center: DVec3::new(0.0, layout.wall_y, layout.wall_height / 2.0),
            normal: DVec3::NEG_Y,
            u: DVec3::X,
            half_u: 40.0,
            half_v: layout.wall_height / 2.0,
        },
        material: wall,
    }];
    let bumper = Material::solid([0.08, 0.08, 0.08]);
    let at_wall = Placement::new(0.0, layout.wall_y, 0.0);
    for door in &layout.doors {
        for side in [-1.0, 1.0] {
            let x = door.center_x + side * (door.width / 2.0 + 0.15);
            wall_parts.push(at_wall.cuboid([x, -0.06, 1.1], [0.25, 0.12, 0.35], &bumper));
        }
    }
    objects.push(Object::new("dock_wall", Class::Wall, wall_parts));
    let roof = Material::solid([0.5, 0.5, 0.52]).with_checker(2.5, [0.44, 0.44, 0.46]);
    objects.push(Object::new(
        "ceiling",
        Class::Ceiling,
        vec![Part {
            shape: Shape::Plane { point: DVec3::new(0.0, 0.0, layout.wall_height), normal: DVec3::NEG_Z },
            material: roof,
        }],
    ));
    for (i, rack) in layout.racks.iter().enumerate() {
        objects.push(Object::new(format!("rack{i}"), Class::Rack, rack_parts(rack)).at(rack.x, rack.y, rack.yaw));
    }
    for (i, pallet) in layout.pallets.iter().enumerate() {
        let (wood, load) = pallet_parts(pallet);
        objects.push(Object::new(format!("pallet{i}"), Class::Pallet, wood).at(pallet.x, pallet.y, pallet.yaw));
        if !load.is_empty() {
            objects.push(Object::new(format!("boxes{i}"), Class::Box, load).at(pallet.x, pallet.y, pallet.yaw));
        }
    }
    if let Some(f) = &layout.forklift {
        objects.push(Object::new("forklift", Class::Forklift, forklift_parts(f)).at(f.x, f.y, f.yaw));
    }
    for (i, p) in layout.people.iter().enumerate() {
        objects.push(Object::new(format!("person{i}"), Class::Person, person_parts(p)).at(p.x, p.y, p.yaw));
    }
    let l = &layout.lighting;
    Scene {
        objects,
        ambient: l.ambient,
        lights: vec![Light { towards: DVec3::from(l.towards).normalize(), intensity: l.intensity }],
    }
}

fn rack_parts(rack: &Rack) -> Vec<Part> {
    let at = Placement::new(rack.x, rack.y, rack.yaw);
    let (steel, beam) = (Material::solid([0.15, 0.25, 0.55]), Material::solid([0.9, 0.45, 0.1]));
    let (hl, hd) = (rack.length / 2.0, rack.depth / 2.0);
    let mut parts = Vec::new();
    for (x, y) in [(-hl, -hd), (hl, -hd), (-hl, hd), (hl, hd)] {
        parts.push(at.cuboid([x, y, rack.height / 2.0], [0.08, 0.08, rack.height], &steel));
    }
    for level in 0..rack.levels {
        let z = 0.15 + level as f64 * (rack.height - 0.2) / rack.levels as f64;
        for y in [-hd, hd] {
            parts.push(at.cuboid([0.0, y, z], [rack.length, 0.06, 0.12], &beam));
        }
        let cardboard = Material::solid([0.6, 0.45, 0.28]).with_noise(0.12, 0.2);
        parts.push(at.cuboid([-hl / 2.0, 0.0, z + 0.36], [hl * 0.8, rack.depth * 0.8, 0.6], &cardboard));
    }
    parts
}

/// The pallet itself, and the boxes stacked on it.
fn pallet_parts(pallet: &Pallet) -> (Vec<Part>, Vec<Part>) {
    let at = Placement::new(pallet.x, pallet.y, pallet.yaw);
    let wood = Material::solid([0.55, 0.42, 0.25]).with_noise(0.2, 0.1);
    let cardboard = Material::solid(pallet.box_color).with_noise(0.1, 0.25);
    let mut load = Vec::new();
    for layer in 0..pallet.layers {
        let z = 0.15 + 0.2 + layer as f64 * 0.4;
        for (x, y) in [(-0.3, -0.2), (0.3, -0.2), (-0.3, 0.2), (0.3, 0.2)] {
            load.push(at.cuboid([x, y, z], [0.58, 0.38, 0.39], &cardboard));
        }
    }
    (vec![at.cuboid([0.0, 0.0, 0.075], [1.2, 0.8, 0.15], &wood)], load)
}

fn forklift_parts(f: &Forklift) -> Vec<Part> {
    let at = Placement::new(f.x, f.y, f.yaw);
    let paint = Material::solid(f.color).with_noise(0.05, 0.5);
    let (dark, steel, tyre) =
        (Material::solid([0.12, 0.12, 0.13]), Material::solid([0.3, 0.3, 0.32]), Material::solid([0.05, 0.05, 0.05]));
    let mut parts = vec![
        at.cuboid([0.0, 0.0, 0.65], [1.0, 1.6, 0.9], &paint),    // body
        at.cuboid([0.0, -0.95, 0.8], [1.0, 0.35, 0.7], &dark),   // counterweight
        at.cuboid([0.0, -0.2, 1.25], [0.5, 0.45, 0.2], &dark),   // seat
        at.cuboid([0.0, -0.05, 2.15], [1.0, 1.2, 0.06], &paint), // overhead guard roof
    ];
    for (x, y) in [(-0.45, -0.6), (0.45, -0.6), (-0.45, 0.5), (0.45, 0.5)] {
        parts.push(at.cylinder([x, y, 1.1], [0.0, 0.0, 1.0], 0.03, 1.02, &dark));
    }
    for (x, y) in [(-0.52, -0.55), (0.52, -0.55), (-0.52, 0.55), (0.52, 0.55)] {
        parts.push(at.cylinder([x - 0.1, y, 0.25], [1.0, 0.0, 0.0], 0.25, 0.2, &tyre));
    }
    // Mast, carriage and forks, in front of the body.
    for x in [-0.35, 0.35] {
        parts.push(at.cuboid([x, 0.88, 1.15], [0.08, 0.12, 2.2], &steel));
    }
    parts.push(at.cuboid([0.0, 0.88, 2.2], [0.78, 0.1, 0.1], &steel));
    parts.push(at.cuboid([0.0, 0.97, f.fork_height + 0.25], [0.9, 0.05, 0.4], &dark));
    for x in [-0.25, 0.25] {
        parts.push(at.cuboid([x, 0.99 + 0.55, f.fork_height + 0.0225], [0.1, 1.1, 0.045], &steel));
    }
    parts
}

fn person_parts(p: &Person) -> Vec<Part> {
    let at = Placement::new(p.x, p.y, p.yaw);
    let s = p.height / 1.75;
    let (shirt, trousers) = (Material::solid(p.shirt), Material::solid(p.trousers));
    let skin = Material::solid([0.78, 0.6, 0.48]);
    let swing = 0.35 * p.stride;
    let mut parts = Vec::new();
    for (side, phase) in [(-1.0, 1.0), (1.0, -1.0)] {
        // Legs from the hips down, swinging forward and back.
        let a = swing * phase;
        parts.push(at.cylinder(
            [side * 0.1 * s, 0.0, 0.92 * s],
            [0.0, a.sin(), -a.cos()],
            0.075 * s,
            0.9 * s,
            &trousers,
        ));
        // Arms from the shoulders, swinging opposite to the legs.
        let b = -a;
        parts.push(at.cylinder([side * 0.25 * s, 0.0, 1.45 * s], [0.0, b.sin(), -b.cos()], 0.05 * s, 0.62 * s, &shirt));
    }
    parts.push(at.cuboid([0.0, 0.0, 1.2 * s], [0.4 * s, 0.22 * s, 0.58 * s], &shirt));
    parts.push(at.sphere([0.0, 0.0, 1.63 * s], 0.11 * s, &skin));
    parts
}
