//! The scene simulator: loading-dock scenes built from primitives that a ray tracer
//! intersects exactly, rendered through the shared camera model into RGB, exact z-depth,
//! instance and class masks, with per-frame ground truth. For tests, head training and the
//! offline demo; never needed by a production configuration.
//!
//! This crate is a renderer only: no model, no rules.

pub mod clip;
pub mod colormap;
pub mod dataset;
pub mod dock;
pub mod material;
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
