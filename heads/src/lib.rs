//! Everything about models in dinoedge: DINOv2 weight files (reading, random init,
//! download), their import into an ONNX graph, the tract runtime that runs it, the
//! preprocessing of frames, and the depth heads (their file, training and evaluation).
//!
//! This crate knows nothing of MQTT, cameras or rules (see ARCHITECTURE.md).

pub mod backbone;
pub mod data;
pub mod error;
pub mod features;
pub mod files;
pub mod head;
pub mod import;
pub mod init;
pub mod metrics;
pub mod onnx;
pub mod posembed;
pub mod preprocess;
pub mod profile;
pub mod pull;
pub mod size;
pub mod vit;

pub use backbone::{Backbone, BackboneOutputs};
pub use error::ModelError;
pub use size::InputSize;
