//! Task heads on the frozen DINOv2 backbone (`dinoedge-backbone`): small models that read
//! the patch features one backbone pass per frame gives, and the data they learn from.
//!
//! How data moves, and the principal types:
//!
//! - Data: an RGB-D folder ([`data::RgbdFolder`]: `rgb/`, `depth/` in a known scale), as the
//!   simulator and the NYU and Middlebury converters write them.
//! - Training: each frame through the backbone once, its patch features and patch depths
//!   cached on disk ([`head::features::PatchFrame`]); the head fitted on them
//!   ([`head::train`]) and saved in a safetensors file bound to its backbone ([`head::file`]).
//! - Run time: [`head::DepthModel`] is a backbone and a depth head together: frame in, metric
//!   depth map out.
//! - Published depth models ([`published`]): Meta's heads for DINOv2 read from their
//!   checkpoints and imported into one ONNX graph with the backbone
//!   ([`published::import`]), whose `depth` output the backbone runtime returns.
//! - The class head ([`classes::ClassHead`]): the same patch features to one logit per object
//!   class (forklift, person, load, floor, other), fitted by softmax regression on labelled
//!   frames ([`classes::train`]), bound to its backbone like the depth head ([`classes::file`]).
//! - Evaluation: [`head::eval`] reports the standard depth [`metrics`] of the head beside a
//!   median and a pixel baseline.
//!
//! This crate knows nothing of MQTT, cameras or rules (see ARCHITECTURE.md).

pub mod classes;
pub mod data;
pub mod head;
pub mod head_file;
pub mod metrics;
pub mod published;
