//! Published depth models, imported exactly: their weight files read as they are published
//! (PyTorch checkpoints or safetensors, through [`dinoedge_backbone::tensors`]) and turned into
//! one ONNX graph with the backbone ([`import`]), so that tract runs backbone and head in one
//! pass with no Python on the box. [`catalog`] names the models dinoedge knows; [`init`] makes full-size random ones in their
//! published layout. Meta's linear heads for DINOv2 ([`bn_head`]); Depth Anything
//! in transformers' layout and as its original checkpoints ([`depth_anything`]), built of convolutions read as torch stores
//! them ([`conv`]); Meta's DPT heads ([`dpt_head`]), whose neck Depth Anything shares
//! ([`dpt_neck`]).

pub mod bn_head;
pub mod catalog;
pub mod conv;
pub mod depth_anything;
pub mod dpt_head;
pub mod dpt_neck;
pub mod import;
pub mod init;

pub use bn_head::{BnHead, DepthRange};
