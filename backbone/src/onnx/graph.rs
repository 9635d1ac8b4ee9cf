//! A minimal builder for ONNX graphs: constants, nodes with attributes, typed inputs and
//! outputs, and model metadata, encoded with prost into the `.onnx` protobuf.

use ndarray::{ArrayView, Dimension};
use prost::Message;
use tract_onnx::pb;

use super::Opset;
use crate::files::f32_to_le;

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
const INT64: i32 = pb::tensor_proto::DataType::Int64 as i32;

/// An attribute value of a node.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
}

#[derive(Default)]
pub struct GraphBuilder {
    graph: pb::GraphProto,
    names: usize,
}

impl GraphBuilder {
    fn fresh(&mut self, stem: &str) -> String {
        self.names += 1;
        format!("{stem}_{}", self.names)
    }

    /// Declares a float input of a fixed shape.
    pub fn input(&mut self, name: &str, shape: &[usize]) -> String {
        self.graph.input.push(value_info(name, shape));
        name.to_string()
    }

    /// Declares `value` a graph output of the given name and shape.
    pub fn output(&mut self, value: &str, name: &str, shape: &[usize]) {
        self.node_named("Identity", &[value], &[], name);
        self.graph.output.push(value_info(name, shape));
    }

    /// A float constant (an initializer), stored row-major as raw little-endian bytes.
    pub fn constant<D: Dimension>(&mut self, stem: &str, value: ArrayView<f32, D>) -> String {
        let name = self.fresh(stem);
        let raw_data = f32_to_le(value.iter());
        self.graph.initializer.push(pb::TensorProto {
            name: name.clone(),
            dims: value.shape().iter().map(|d| *d as i64).collect(),
            data_type: FLOAT,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// An int64 vector constant (shapes, axes, slice bounds).
    pub fn ints(&mut self, stem: &str, values: &[i64]) -> String {
        let name = self.fresh(stem);
        self.graph.initializer.push(pb::TensorProto {
            name: name.clone(),
            dims: vec![values.len() as i64],
            data_type: INT64,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    /// Adds a node with one output and returns the output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let output = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, attrs, &output);
        output
    }

    fn node_named(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], output: &str) {
        let attribute = attrs.iter().map(|(name, value)| attribute(name, value)).collect();
        self.graph.node.push(pb::NodeProto {
            name: format!("{op}_{}", self.graph.node.len()),
            op_type: op.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            attribute,
            ..Default::default()
        });
    }

    // Conveniences for the ops the DINOv2 graph uses.

    pub fn matmul(&mut self, a: &str, b: &str) -> String {
        self.node("MatMul", &[a, b], &[])
    }

    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.node("Add", &[a, b], &[])
    }

    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let shape = self.ints("shape", shape);
        self.node("Reshape", &[x, &shape], &[])
    }

    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], &[("perm", Attr::Ints(perm.to_vec()))])
    }

    /// `x[start..end]` along `axis`.
    pub fn slice(&mut self, x: &str, axis: i64, start: i64, end: i64) -> String {
        let starts = self.ints("starts", &[start]);
        let ends = self.ints("ends", &[end]);
        let axes = self.ints("axes", &[axis]);
        self.node("Slice", &[x, &starts, &ends, &axes], &[])
    }

    /// Bilinear resampling of an NCHW tensor to `sizes` (all four dimensions), as torch's
    /// `F.interpolate(mode="bilinear", align_corners=…)`: with `align_corners` the corner
    /// pixels of input and output coincide (sample `dst · (in − 1)/(out − 1)`); without, ONNX
    /// `half_pixel` (sample `(dst + 0.5) · in/out − 0.5`, clamped to the border).
    pub fn resize_bilinear(&mut self, x: &str, sizes: [usize; 4], align_corners: bool) -> String {
        let sizes = self.ints("sizes", &sizes.map(|s| s as i64));
        let mode = if align_corners { "align_corners" } else { "half_pixel" };
        self.node(
            "Resize",
            &[x, "", "", &sizes],
            &[("mode", Attr::Str("linear")), ("coordinate_transformation_mode", Attr::Str(mode))],
        )
    }

    /// A float scalar constant.
    pub fn scalar(&mut self, stem: &str, value: f32) -> String {
        self.constant(stem, ndarray::arr0(value).view())
    }

    /// Finishes the model, with `metadata` as its `metadata_props`, and the graph's sha256
    /// ([`super::integrity::stamp`]).
    pub fn finish(self, name: &str, opset: Opset, metadata: &[(String, String)]) -> Vec<u8> {
        let mut graph = self.graph;
        graph.name = name.to_string();
        let stamp = super::integrity::stamp(&graph);
        let model = pb::ModelProto {
            ir_version: opset.ir_version,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: opset.version }],
            producer_name: "dinoedge".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(graph),
            metadata_props: metadata
                .iter()
                .map(|(key, value)| pb::StringStringEntryProto { key: key.clone(), value: value.clone() })
                .chain([stamp])
                .collect(),
            ..Default::default()
        };
        model.encode_to_vec()
    }
}

fn attribute(name: &str, value: &Attr) -> pb::AttributeProto {
    use pb::attribute_proto::AttributeType;
    let mut attr = pb::AttributeProto { name: name.to_string(), ..Default::default() };
    match value {
        Attr::Int(i) => {
            attr.r#type = AttributeType::Int as i32;
            attr.i = *i;
        }
        Attr::Ints(v) => {
            attr.r#type = AttributeType::Ints as i32;
            attr.ints = v.clone();
        }
        Attr::Float(f) => {
            attr.r#type = AttributeType::Float as i32;
            attr.f = *f;
        }
        Attr::Str(s) => {
            attr.r#type = AttributeType::String as i32;
            attr.s = s.as_bytes().to_vec();
        }
    }
    attr
}

fn value_info(name: &str, shape: &[usize]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = shape.iter().map(|d| Dimension { value: Some(Value::DimValue(*d as i64)), ..Default::default() });
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(pb::TensorShapeProto { dim: dim.collect() }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
