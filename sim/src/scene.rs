//! A scene: objects made of primitive parts with materials, each with a class and a
//! bounding sphere, under ambient and directional light.

use dinoedge_config::ObjectClass;
use glam::DVec3;
use serde::Serialize;

use crate::material::Material;
use crate::shape::Shape;

/// What an object is; the class mask stores these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Class {
    Floor = 1,
    Wall = 2,
    Rack = 3,
    Pallet = 4,
    Box = 5,
    Forklift = 6,
    Person = 7,
    Ceiling = 8,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Floor,
        Class::Wall,
        Class::Rack,
        Class::Pallet,
        Class::Box,
        Class::Forklift,
        Class::Person,
        Class::Ceiling,
    ];

    /// The class of a class-mask value; `None` for 0 (no surface) and unknown values.
    pub fn from_mask(value: u8) -> Option<Class> {
        Self::ALL.into_iter().find(|c| *c as u8 == value)
    }

    /// What dinoedge's rules and class heads call it: a pallet and its boxes are a `load`;
    /// walls, racks and the ceiling are `other`.
    pub fn object_class(self) -> ObjectClass {
        match self {
            Class::Floor => ObjectClass::Floor,
            Class::Pallet | Class::Box => ObjectClass::Load,
            Class::Forklift => ObjectClass::Forklift,
            Class::Person => ObjectClass::Person,
            Class::Wall | Class::Rack | Class::Ceiling => ObjectClass::Other,
        }
    }

    /// The object class of a class-mask value (no surface is `other`).
    pub fn object_class_of_mask(value: u8) -> ObjectClass {
        Self::from_mask(value).map_or(ObjectClass::Other, Class::object_class)
    }
}

#[derive(Debug, Clone)]
pub struct Part {
    pub shape: Shape,
    pub material: Material,
}

/// Where a placed object stands: the origin of its own frame on the floor, and its heading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ObjectPose {
    pub position: [f64; 3],
    /// Counter-clockwise about +z; at 0 the object faces +y (towards the dock).
    pub yaw_degrees: f64,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub name: String,
    pub class: Class,
    /// `None` for the building (floor, walls, ceiling).
    pub pose: Option<ObjectPose>,
    pub parts: Vec<Part>,
    /// A sphere around all parts: a ray that misses it misses the object.
    pub bounds: (DVec3, f64),
    /// A sphere around each part, in the order of `parts`.
    pub part_bounds: Vec<(DVec3, f64)>,
}

impl Object {
    pub fn new(name: impl Into<String>, class: Class, parts: Vec<Part>) -> Self {
        let part_bounds: Vec<_> = parts.iter().map(|p| p.shape.bounds()).collect();
        let bounds = enclosing(part_bounds.iter().copied());
        Self { name: name.into(), class, pose: None, parts, bounds, part_bounds }
    }

    /// The same object, recorded as standing at (x, y) on the floor with heading `yaw` (radians).
    pub fn at(self, x: f64, y: f64, yaw: f64) -> Self {
        Self { pose: Some(ObjectPose { position: [x, y, 0.0], yaw_degrees: yaw.to_degrees() }), ..self }
    }
}

/// A sphere enclosing spheres (not the smallest; centred on the mean of the centres).
fn enclosing(spheres: impl Iterator<Item = (DVec3, f64)>) -> (DVec3, f64) {
    let spheres: Vec<_> = spheres.collect();
    if spheres.iter().any(|(_, r)| r.is_infinite()) || spheres.is_empty() {
        return (DVec3::ZERO, f64::INFINITY);
    }
    let center = spheres.iter().map(|(c, _)| *c).sum::<DVec3>() / spheres.len() as f64;
    let radius = spheres.iter().map(|(c, r)| (*c - center).length() + r).fold(0.0, f64::max);
    (center, radius)
}

/// Light from one direction (like a skylight or a row of high lamps), no falloff.
#[derive(Debug, Clone, Copy)]
pub struct Light {
    /// Unit vector pointing from the scene towards the light.
    pub towards: DVec3,
    pub intensity: f32,
}

#[derive(Debug, Clone)]
pub struct Scene {
    pub objects: Vec<Object>,
    pub ambient: f32,
    pub lights: Vec<Light>,
}
