//! Writing ONNX: a small graph builder over the protobuf types tract-onnx ships
//! ([`graph`]), and the DINOv2 graph emitted with it ([`dinov2`]).

pub mod dinov2;
pub mod graph;
pub mod meta;

/// The ONNX opset the emitted graphs declare (LayerNormalization needs 17, Gelu 20).
pub const OPSET: i64 = 20;
/// ONNX IR version matching [`OPSET`].
pub const IR_VERSION: i64 = 9;
