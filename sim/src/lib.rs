//! The scene simulator: loading-dock scenes built from primitives that a ray tracer
//! intersects exactly, rendered through the shared camera model into RGB, exact z-depth,
//! instance and class masks, with per-frame ground truth. For tests, head training and the
//! offline demo; never needed by a production configuration.
//!
//! How data moves, and the principal types:
//!
//! - A [`Scene`] is [`Object`]s (parts of a [`Shape`] with a material, and a [`Class`]) under
//!   light. `dock` builds the loading dock from a layout; `random` draws layouts and camera
//!   placements for training sets; `clip` scripts a layout over time (a forklift approaching
//!   the dock, a person walking between).
//! - [`render()`] traces a scene through the calibration crate's camera into a [`Frame`]: RGB,
//!   z-depth, instance and class masks.
//! - [`noise::DepthNoise`] draws a monocular depth model's errors (scale, smooth, per-pixel,
//!   flying pixels at edges, class flips at borders) over the exact depth and classes, seeded,
//!   for measuring the rules on inputs as wrong as a model's.
//! - [`truth()`] measures from the geometry, not the pixels (the forklift to the dock face, each
//!   person to the forklift); `record` is a frame's JSON; `output`, `dataset` and `clip` write
//!   the RGB-D folders the depth heads train on and the clips the tests and the demo replay.
//!
//! This crate is a renderer only: no model, no rules.

pub mod clip;
pub mod colormap;
pub mod dataset;
pub mod dock;
pub mod material;
pub mod noise;
pub mod output;
pub mod random;
pub mod record;
pub mod render;
pub mod scene;
pub mod shape;
pub mod truth;

pub use render::{Frame, RenderOptions, render};
pub use scene::{Class, Object, Scene};
pub use shape::Shape;
pub use truth::truth;
