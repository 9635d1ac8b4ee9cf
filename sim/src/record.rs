//! The per-frame JSON record (`meta/NAME.json`): the camera, the layout, every object with
//! its index in the instance mask and its class, the class numbers, and the ground truth.

use dinoedge_calibration::Camera;
use serde_json::{Value, json};

use crate::dock::DockLayout;
use crate::scene::{Class, Scene};
use crate::truth::Truth;

pub fn frame_record(camera: &Camera, layout: &DockLayout, scene: &Scene, truth: &Truth) -> Value {
    let objects: Vec<Value> = scene
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| json!({ "instance": i + 1, "name": o.name, "class": o.class, "pose": o.pose }))
        .collect();
    let classes: serde_json::Map<String, Value> = Class::ALL
        .iter()
        .map(|c| (serde_json::to_value(c).unwrap().as_str().unwrap().to_string(), json!(*c as u8)))
        .collect();
    json!({
        "format": "dinoedge-sim/1",
        "depth": "z-depth along the optical axis; depth/NAME.png in millimetres, depth/NAME.npy in metres; 0 = none",
        "camera": camera,
        "intrinsics": camera.intrinsics,
        "layout": layout,
        "dock_face": { "point": [0.0, layout.wall_y, 0.0], "normal": [0.0, -1.0, 0.0] },
        "objects": objects,
        "classes": classes,
        "truth": truth,
    })
}
