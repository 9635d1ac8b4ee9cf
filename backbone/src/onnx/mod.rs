//! Writing ONNX: a small graph builder over the protobuf types tract-onnx ships
//! ([`graph`]), and the DINOv2 graph emitted with it ([`dinov2`]); reading it back: the
//! metadata ([`meta`]) and the wiring check of a graph from a file ([`wiring`]).

pub mod dinov2;
pub mod graph;
pub mod meta;
pub mod wiring;

/// The ONNX opset a graph declares, with its IR version: 20 for LayerNormalization and
/// Gelu, 23 when it also uses the fused Attention operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opset {
    pub version: i64,
    pub ir_version: i64,
}

pub const OPSET_20: Opset = Opset { version: 20, ir_version: 9 };
pub const OPSET_23: Opset = Opset { version: 23, ir_version: 11 };
