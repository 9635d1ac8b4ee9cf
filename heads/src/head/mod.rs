//! The depth head: a small model that turns the backbone's frozen features into metric depth.
//! The linear head of the DINOv2 paper ([`linear`]) over depth bins ([`bins`]), its file
//! format ([`file`]), and [`DepthModel`], a backbone and its depth head (trained, or inside an
//! imported depth model's graph) together. Training: the frames'
//! patch features, cached ([`features`]), a closed-form start ([`ridge`]) and gradient steps
//! ([`train`]); evaluation against the median and pixel ([`pixels`]) baselines ([`eval`]).

pub mod bins;
pub mod eval;
pub mod features;
pub mod file;
pub mod linear;
pub mod model;
pub mod pixels;
pub mod ridge;
pub mod train;
pub mod upsample;

pub use bins::{BinSpacing, Bins};
pub use linear::{HeadLayers, LinearHead};
pub use model::{DepthHead, DepthModel};
