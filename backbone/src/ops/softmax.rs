//! ONNX `Softmax` over the last axis as one tract operator, in place, for rows of any length:
//! each row's maximum, `exp(x − max)` and its sum in one pass, then the scaling by the sum's
//! inverse, rows split across tract's thread pool.
//!
//! tract's own Softmax runs three kernel calls per row (maximum, exponentials and sum,
//! scaling), each copying a row's unaligned head and tail through a scratch buffer, and
//! takes its one-call path for whole buffers only on ARM and for rows of a multiple of four.
//! An attention row of DINOv2 has 1 + rows × cols entries (257 at 224×224, 1025 at 448×448),
//! and on an Intel Xeon its softmax took 13 % of a frame (BENCHMARKS.md).
//!
//! `exp` is a Cody–Waite reduction to r ∈ [−ln2/2, ln2/2] and a degree-6 Taylor polynomial
//! (truncation error below 2e-7 relative, under one f32 ulp), compiled for AVX2 and FMA when
//! the CPU has them. A NaN anywhere in a row makes the whole row NaN, as the definition does.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// The converter registered for `Softmax`: ours over the last axis (opset 13 on), tract-onnx's
/// for any other form.
pub fn convert(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let axis: isize = node.get_attr_opt("axis")?.unwrap_or(-1);
    if ctx.onnx_operator_set_version >= 13 && axis == -1 {
        Ok((expand(SoftmaxLastAxis), vec![]))
    } else {
        super::tract_converter("Softmax")?(ctx, node)
    }
}

/// The inference-time form: checks types, then wires one [`Softmax`] node.
#[derive(Debug, Clone)]
struct SoftmaxLastAxis;

impl Expansion for SoftmaxLastAxis {
    fn name(&self) -> StaticName {
        "Softmax".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        super::f32_data_rules(s, inputs, outputs, 1)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, Softmax, inputs)
    }
}

/// Softmax over the last axis of an f32 tensor, in place on its input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Softmax;

impl Op for Softmax {
    fn name(&self) -> StaticName {
        "SoftmaxRows".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Softmax {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        ensure!(input.rank() >= 1, "Softmax over the last axis of a scalar");
        let row = input.shape()[input.rank() - 1];
        super::rows_in_place(input, row, |rows| softmax_rows(rows, row))
    }
}

impl TypedOp for Softmax {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type(), "Softmax takes f32, not {:?}", inputs[0].datum_type);
        ensure!(inputs[0].rank() >= 1, "Softmax over the last axis of a scalar");
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
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

/// Every `row`-long row of `data`, in place; the AVX2 and FMA build of the same code where
/// the CPU has them.
pub fn softmax_rows(data: &mut [f32], row: usize) {
    #[cfg(target_arch = "x86_64")]
    if super::avx2_fma() {
        // SAFETY: the CPU has the features the function is compiled for (checked above).
        unsafe { softmax_rows_avx2(data, row) };
        return;
    }
    rows(data, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_rows_avx2(data: &mut [f32], row: usize) {
    rows(data, row)
}

#[inline(always)]
fn rows(data: &mut [f32], row: usize) {
    for row in data.chunks_exact_mut(row) {
        softmax_row(row);
    }
}

/// Eight lanes: the compiler keeps them in one AVX register, or two SSE/NEON ones.
const LANES: usize = 8;

#[inline(always)]
fn softmax_row(row: &mut [f32]) {
    let mut maxima = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail_max = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        for (m, &x) in maxima.iter_mut().zip(chunk) {
            *m = m.max(x);
        }
    }
    let max = maxima.iter().fold(tail_max, |m, &x| m.max(x));

    let mut sums = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (s, x) in sums.iter_mut().zip(chunk.iter_mut()) {
            *x = exp_non_positive(*x - max);
            *s += *x;
        }
    }
    let mut sum: f32 = 0.0;
    for x in chunks.into_remainder() {
        *x = exp_non_positive(*x - max);
        sum += *x;
    }
    let inverse = 1.0 / (sum + sums.iter().sum::<f32>());
    for x in row.iter_mut() {
        *x *= inverse;
    }
}

/// e^x for x ≤ 0 (a row's entry minus its maximum); NaN stays NaN. Below −87.3 the result is
/// e^−87.3 ≈ 1.2e-38 instead of a smaller number or zero.
#[inline(always)]
fn exp_non_positive(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, the first exact in few bits, so k · LN2_HI has no rounding error.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding it rounds x·log2(e) to an integer held in the low mantissa bits,
    // with no float-to-int conversion (which would keep the loop from vectorising).
    const ROUNDER: f32 = 12_582_912.0;
    let x = if x < -87.3 { -87.3 } else { x };
    let shifted = x * LOG2_E + ROUNDER;
    let k = shifted - ROUNDER;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2^k, k ∈ [−126, 0]: k's bits (two's complement, in the low mantissa bits) plus the
    // exponent bias, moved into the exponent field. A NaN x gives a NaN p already.
    let two_k = f32::from_bits(shifted.to_bits().wrapping_sub(ROUNDER.to_bits()).wrapping_add(127) << 23);
    p * two_k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulps_of_the_standard_library_over_its_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let (ours, std) = (exp_non_positive(x) as f64, (x as f64).exp());
            worst = worst.max(((ours - std) / std).abs());
            x += 0.001_37;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp_non_positive(0.0), 1.0);
        assert!(exp_non_positive(f32::NAN).is_nan());
        assert!(exp_non_positive(f32::NEG_INFINITY) < 1.3e-38);
    }

    #[test]
    fn rows_of_any_length_sum_to_one_and_keep_their_order() {
        for len in [1, 7, 8, 9, 257, 1025] {
            let mut data: Vec<f32> = (0..2 * len).map(|i| ((i * 37) % 101) as f32 * 0.13 - 6.0).collect();
            let original = data.clone();
            softmax_rows(&mut data, len);
            for (row, before) in data.chunks(len).zip(original.chunks(len)) {
                let max = before.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                let sum: f64 = before.iter().map(|&x| ((x - max) as f64).exp()).sum();
                for (&p, &x) in row.iter().zip(before) {
                    let expected = ((x - max) as f64).exp() / sum;
                    assert!((p as f64 - expected).abs() <= 1e-6 * expected.max(1e-3), "len {len}: {p} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn a_nan_makes_its_row_nan_and_leaves_the_others() {
        let mut data = vec![0.0, 1.0, f32::NAN, 2.0, 0.0, 1.0, 2.0, 3.0];
        softmax_rows(&mut data, 4);
        assert!(data[..4].iter().all(|p| p.is_nan()));
        assert!(data[4..].iter().all(|p| p.is_finite()));
    }
}
