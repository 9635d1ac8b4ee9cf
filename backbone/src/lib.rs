//! The DINOv2 backbone of dinoedge: from weight files to patch features on the CPU, with no
//! Python on the box. Every task head (depth today; more to come) reads what this crate
//! returns, one backbone pass per frame.
//!
//! How data moves, and the principal type of each step:
//!
//! - Weights in: a safetensors file or a PyTorch checkpoint, opened as named tensors without
//!   executing or trusting anything in it ([`tensors::TensorFile`]), read and checked tensor
//!   by tensor against the architecture ([`vit::DinoWeights`], [`vit::VitSpec`]); official files downloaded at a
//!   pinned revision and sha256 ([`pull`]), or full-size random ones made by the reference's
//!   initialisation ([`init`]).
//! - Import ([`import::import`]): the weights become one ONNX graph for a fixed
//!   [`InputSize`] ([`onnx`]: a small graph builder and the DINOv2 forward pass; the position
//!   embedding resampled as the reference does, [`posembed`]), with [`onnx::meta::BackboneMeta`]
//!   in its metadata (architecture, input, blocks, source sha256).
//! - Run time: [`Backbone`] loads that ONNX (its sha256 and wiring checked first,
//!   [`onnx::integrity`]) into an optimised tract plan; a frame is resized and normalised
//!   ([`preprocess`]) and comes out as [`BackboneOutputs`] (class token and patch tokens of the
//!   chosen blocks, and the depth map when the graph is an imported depth model, its head
//!   appended by `dinoedge-heads` after [`onnx::dinov2::encode`]). [`profile`] times the plan's
//!   operators, and [`peak`] measures the CPU's f32 FMA rate they are held to; [`ops`] holds
//!   dinoedge's own tract operators, registered in place of tract-onnx's converters where they
//!   are faster ([`ops::Operators`]); [`Precision`] runs the plan in f16 where the CPU computes
//!   in half precision ([`precision`]). How a backbone is loaded (threads, operators,
//!   precision) is one [`Settings`].
//! - Errors are one [`ModelError`] naming the file and the tensor or field; files are written
//!   whole or not at all ([`files`]).
//!
//! This crate knows nothing of heads' weights, MQTT, cameras or rules (see ARCHITECTURE.md).

pub mod error;
pub mod files;
pub mod import;
pub mod init;
pub mod onnx;
pub mod ops;
pub mod peak;
pub mod posembed;
pub mod precision;
pub mod preprocess;
pub mod profile;
pub mod pull;
pub mod runtime;
pub mod size;
pub mod tensors;
pub mod vit;

pub use error::ModelError;
pub use precision::Precision;
pub use runtime::{Backbone, BackboneOutputs, Settings};
pub use size::InputSize;
