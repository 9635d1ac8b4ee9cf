//! Depth heads: small models that turn the backbone's frozen features into metric depth.
//! The linear head of the DINOv2 paper ([`linear`]) over depth bins ([`bins`]), its file
//! format ([`file`]), and [`DepthModel`], backbone and head together.

pub mod bins;
pub mod eval;
pub mod file;
pub mod linear;
pub mod model;
pub mod pixels;
pub mod train;
pub mod upsample;

pub use bins::{BinSpacing, Bins};
pub use linear::{HeadLayers, LinearHead};
pub use model::DepthModel;
