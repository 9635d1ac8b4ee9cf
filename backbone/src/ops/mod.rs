//! dinoedge's own tract operators, registered with tract-onnx in place of its converters for
//! the ONNX operators where a DINOv2 graph spends time outside its matrix products. The ONNX
//! files stay standard (ONNX Runtime runs the same file); only how tract runs them changes.
//!
//! - [`layer_norm`]: `LayerNormalization` as one fused pass per row.
//! - [`softmax`]: `Softmax` over the last axis, rows of any length, in place.
//! - [`resize`]: bilinear `Resize` of NCHW maps (the published depth heads' upsampling) with
//!   its taps computed once per row and column.
//! - [`conv`]: the 3×3 same-size `Conv` of the DPT heads as a direct convolution over blocks
//!   of 16 output channels.
//!
//! Each operator is held equal to tract's own form of the same ONNX node by the tests
//! (`backbone/tests/operators.rs`: ≤ 1e-5 on the full-size model).

pub mod conv;
pub mod layer_norm;
pub mod resize;
pub mod softmax;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::Precision;

/// Which converters a backbone is loaded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operators {
    /// dinoedge's operators where it has them (the default).
    #[default]
    Dinoedge,
    /// tract-onnx's converters only: the reference the exactness tests and the benchmark's
    /// "what was tried" rows compare with.
    Tract,
}

impl std::fmt::Display for Operators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Dinoedge => "dinoedge",
            Self::Tract => "tract",
        })
    }
}

impl std::str::FromStr for Operators {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dinoedge" => Ok(Self::Dinoedge),
            "tract" => Ok(Self::Tract),
            other => Err(format!("`{other}` is not `dinoedge` or `tract`")),
        }
    }
}

/// tract-onnx's ONNX loader with `operators`' converters registered, for a plan that runs in
/// `precision`: an f16 plan keeps tract's convolutions, which run in half precision ([`conv`]
/// is f32 only).
pub fn onnx(operators: Operators, precision: Precision) -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    if operators == Operators::Dinoedge {
        onnx.op_register.insert("LayerNormalization", layer_norm::convert);
        onnx.op_register.insert("Softmax", softmax::convert);
        onnx.op_register.insert("Resize", resize::convert);
        if precision == Precision::F32 {
            onnx.op_register.insert("Conv", conv::convert);
        }
    }
    onnx
}

type Converter = fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// tract-onnx's own converter for `op`: what an operator of ours hands the forms it does not
/// take to.
fn tract_converter(op: &str) -> TractResult<Converter> {
    tract_onnx::onnx().op_register.0.get(op).copied().with_context(|| format!("tract-onnx has no converter for {op}"))
}

/// How a row-wise operator over the last axis follows an axis change around it: axes before
/// the last may move, appear or go; the last must stay where it is, else the change stops here.
fn keep_last_axis(model: &TypedModel, node: &TypedNode, change: &AxisOp) -> TractResult<Option<AxisChangeConsequence>> {
    let last = model.outlet_fact(node.inputs[0])?.rank() - 1;
    if change.transform_axis(last) == Some(last) && !matches!(change, AxisOp::Reshape(..)) {
        Ok(Some(AxisChangeConsequence::new(model, node, None, change)))
    } else {
        Ok(None)
    }
}

/// Whether this x86-64 CPU has AVX2 and FMA, for which the row loops of [`layer_norm`] and
/// [`softmax`] are compiled a second time (the release build targets baseline x86-64).
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// The rules every operator here starts with: `arity` inputs, one output, the data input
/// and the output f32.
fn f32_data_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
    arity: usize,
) -> InferenceResult {
    check_input_arity(inputs, arity)?;
    check_output_arity(outputs, 1)?;
    s.equals(&inputs[0].datum_type, f32::datum_type())?;
    s.equals(&outputs[0].datum_type, f32::datum_type())
}

/// The value of an input that must be a constant of the graph (a scale, a size), or an error
/// naming the node and the input.
fn constant(model: &TypedModel, outlet: OutletId, node: &str, what: &str) -> TractResult<Arc<Tensor>> {
    model.outlet_fact(outlet)?.konst.clone().with_context(|| format!("{node}: the {what} must be a constant"))
}

/// `input` with `f` applied in place to runs of whole `row`-long rows, split across tract's
/// thread pool: the evaluation of the row-wise operators.
fn rows_in_place(input: TValue, row: usize, f: impl Fn(&mut [f32]) + Sync + Send) -> TractResult<TVec<TValue>> {
    let mut tensor = input.into_tensor();
    if row > 0 && tensor.len() > 0 {
        let mut plain = tensor.try_as_plain_ram_mut()?;
        let data = plain.as_slice_mut::<f32>()?;
        let total = data.len();
        tract_linalg::multithread::par_chunks_mut(data, row, total, |_, rows| {
            f(rows);
            Ok(())
        })?;
    }
    Ok(tvec!(tensor.into_tvalue()))
}
