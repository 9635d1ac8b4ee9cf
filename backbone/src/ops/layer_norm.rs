//! ONNX `LayerNormalization` over the last axis as one tract operator: each row's mean and
//! variance, then `(x − mean) / √(var + ε) · scale + bias`, written in place, rows split
//! across tract's thread pool. tract-onnx expands the ONNX operator into a reduction, a
//! subtraction, a square, a second reduction, an inverse square root and three broadcast
//! products, each a pass over the whole tensor; here a row stays in cache from its first read
//! to its last write.
//!
//! Only the form the dinoedge graphs use is taken: f32, the normalised axis the last one, a
//! scale and a bias of that length, no mean or inverse-deviation outputs. Any other
//! `LayerNormalization` is handed to tract-onnx's own expansion, unchanged.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// The converter registered for `LayerNormalization`: ours for the dinoedge form, tract-onnx's
/// for any other.
pub fn convert(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axis: isize = node.get_attr_opt("axis")?.unwrap_or(-1);
    let epsilon: f32 = node.get_attr_opt("epsilon")?.unwrap_or(1e-5);
    let stash: DatumType = node.get_attr_opt("stash_type")?.unwrap_or(DatumType::F32);
    let outputs = node.output.iter().filter(|o| !o.is_empty()).count();
    if axis == -1 && stash == DatumType::F32 && node.input.len() == 3 && outputs == 1 && epsilon.is_finite() {
        Ok((expand(LayerNormalization { epsilon }), vec![]))
    } else {
        super::tract_converter("LayerNormalization")?(ctx, node)
    }
}

/// The inference-time form: checks arity and types, then wires one [`LayerNorm`] node.
#[derive(Debug, Clone)]
struct LayerNormalization {
    epsilon: f32,
}

impl Expansion for LayerNormalization {
    fn name(&self) -> StaticName {
        "LayerNormalization".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        super::f32_data_rules(s, inputs, outputs, 3)?;
        s.equals(&inputs[1].datum_type, f32::datum_type())?;
        s.equals(&inputs[2].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        s.equals(&inputs[1].rank, 1)?;
        s.equals(&inputs[2].rank, 1)?;
        s.given(&inputs[0].rank, move |s, rank| {
            let last = rank as usize - 1;
            s.equals(&inputs[0].shape[last], &inputs[1].shape[0])?;
            s.equals(&inputs[0].shape[last], &inputs[2].shape[0])
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let scale = super::constant(model, inputs[1], prefix, "LayerNormalization scale")?;
        let bias = super::constant(model, inputs[2], prefix, "LayerNormalization bias")?;
        model.wire_node(prefix, LayerNorm::new(scale, bias, self.epsilon)?, &inputs[..1])
    }
}

/// LayerNorm over the last axis with a constant scale and bias, in place on its input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerNorm {
    /// [D]
    scale: Arc<Tensor>,
    /// [D]
    bias: Arc<Tensor>,
    /// ε's bits: the operator is compared and hashed as tract's ops are, and ε is finite.
    epsilon_bits: u32,
}

impl LayerNorm {
    pub fn new(scale: Arc<Tensor>, bias: Arc<Tensor>, epsilon: f32) -> TractResult<Self> {
        ensure!(epsilon.is_finite() && epsilon >= 0.0, "LayerNorm: ε = {epsilon} is not a finite non-negative number");
        ensure!(
            scale.rank() == 1 && scale.shape() == bias.shape(),
            "LayerNorm: scale {:?} and bias {:?} must be vectors of one length",
            scale.shape(),
            bias.shape()
        );
        ensure!(scale.datum_type() == f32::datum_type() && bias.datum_type() == f32::datum_type());
        Ok(Self { scale, bias, epsilon_bits: epsilon.to_bits() })
    }

    fn epsilon(&self) -> f32 {
        f32::from_bits(self.epsilon_bits)
    }
}

impl Op for LayerNorm {
    fn name(&self) -> StaticName {
        "LayerNorm".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("last axis of {}, ε = {}", self.scale.len(), self.epsilon())])
    }

    op_as_typed_op!();
}

impl EvalOp for LayerNorm {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let d = self.scale.len();
        ensure!(
            input.rank() >= 1 && input.shape()[input.rank() - 1] == d,
            "LayerNorm: input {:?} does not end in {d}",
            input.shape()
        );
        let scale = self.scale.try_as_plain_ram()?;
        let scale = scale.as_slice::<f32>()?;
        let bias = self.bias.try_as_plain_ram()?;
        let bias = bias.as_slice::<f32>()?;
        let epsilon = self.epsilon();
        super::rows_in_place(input, d, |rows| normalise_rows(rows, scale, bias, epsilon))
    }
}

impl TypedOp for LayerNorm {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        ensure!(input.datum_type == f32::datum_type(), "LayerNorm takes f32, not {:?}", input.datum_type);
        ensure!(
            input.rank() >= 1 && input.shape[input.rank() - 1] == self.scale.len().to_dim(),
            "LayerNorm: input {:?} does not end in {}",
            input.shape,
            self.scale.len()
        );
        Ok(tvec!(f32::fact(input.shape.clone())))
    }

    fn axes_mapping(&self, inputs: &[&TypedFact], outputs: &[&TypedFact]) -> TractResult<AxesMapping> {
        AxesMapping::natural(inputs, outputs)
    }

    fn change_axes(
        &self,
        model: &TypedModel,
        node: &TypedNode,
        _io: InOut,
        change: &AxisOp,
    ) -> TractResult<Option<AxisChangeConsequence>> {
        super::keep_last_axis(model, node, change)
    }

    as_op!();
}

/// Every row of `rows` (each as long as `scale`); the AVX2 and FMA build of the same code
/// where the CPU has them.
fn normalise_rows(rows: &mut [f32], scale: &[f32], bias: &[f32], epsilon: f32) {
    #[cfg(target_arch = "x86_64")]
    if super::avx2_fma() {
        // SAFETY: the CPU has the features the function is compiled for (checked above).
        unsafe { normalise_rows_avx2(rows, scale, bias, epsilon) };
        return;
    }
    each_row(rows, scale, bias, epsilon)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn normalise_rows_avx2(rows: &mut [f32], scale: &[f32], bias: &[f32], epsilon: f32) {
    each_row(rows, scale, bias, epsilon)
}

#[inline(always)]
fn each_row(rows: &mut [f32], scale: &[f32], bias: &[f32], epsilon: f32) {
    for row in rows.chunks_exact_mut(scale.len()) {
        normalise_row(row, scale, bias, epsilon);
    }
}

/// One row: mean, variance (from the centred values, as the ONNX definition computes it),
/// then the normalised, scaled and shifted row in place.
#[inline(always)]
fn normalise_row(row: &mut [f32], scale: &[f32], bias: &[f32], epsilon: f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row, |x| x) / n;
    let var = lane_sum(row, |x| (x - mean) * (x - mean)) / n;
    let inv = 1.0 / (var + epsilon).sqrt();
    for ((x, s), b) in row.iter_mut().zip(scale).zip(bias) {
        *x = (*x - mean) * inv * s + b;
    }
}

/// Σ f(x) over a row in eight running sums, which the compiler keeps in vector registers.
#[inline(always)]
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f(x);
        }
    }
    lanes.iter().sum::<f32>() + tail
}
