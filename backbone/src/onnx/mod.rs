//! Writing ONNX: a small graph builder over the protobuf types tract-onnx ships
//! ([`graph`]), and the DINOv2 graph emitted with it ([`dinov2`]); reading it back: the
//! metadata ([`meta`]), and what is checked before tract sees a graph from a file
//! ([`integrity`]: its sha256 and its wiring).

pub mod dinov2;
pub mod graph;
pub mod integrity;
pub mod meta;

/// The ONNX opset a graph declares, with its IR version: 20 for LayerNormalization and
/// Gelu, 23 when it also uses the fused Attention operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opset {
    pub version: i64,
    pub ir_version: i64,
}

pub const OPSET_20: Opset = Opset { version: 20, ir_version: 9 };
pub const OPSET_23: Opset = Opset { version: 23, ir_version: 11 };
