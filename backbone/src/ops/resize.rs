//! ONNX `Resize` in the form the published depth heads use (bilinear, NCHW, only the last
//! two axes resized to constant sizes, `half_pixel` or `align_corners` coordinates) as one
//! tract operator: for each output row its two source rows and weight, for each output
//! column its two source columns and weight, computed once; then per plane and output row
//! two horizontal interpolations and one vertical blend, rows split across tract's thread
//! pool.
//!
//! tract's own Resize computes the coordinates and taps for every output value through a
//! general N-dimensional interpolation. On the Depth Anything head's full-size maps
//! (32 × 224 × 392) it took as long as a 3×3 convolution on them (BENCHMARKS.md).
//!
//! Any other Resize (other modes, antialiasing, scales instead of sizes, a batch or channel
//! axis resized) is handed to tract-onnx's own converter, unchanged.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// How an output coordinate maps to an input one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coordinates {
    /// `(dst + 0.5) · in/out − 0.5`, clamped to the border (torch's `align_corners=False`).
    HalfPixel,
    /// `dst · (in − 1)/(out − 1)`: the corner pixels coincide.
    AlignCorners,
}

/// The converter registered for `Resize`: ours for the bilinear NCHW form, tract-onnx's for
/// any other.
pub fn convert(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let mode: String = node.get_attr_opt("mode")?.unwrap_or_else(|| "nearest".into());
    let coordinates: String =
        node.get_attr_opt("coordinate_transformation_mode")?.unwrap_or_else(|| "half_pixel".into());
    let coordinates = match coordinates.as_str() {
        "half_pixel" => Some(Coordinates::HalfPixel),
        "align_corners" => Some(Coordinates::AlignCorners),
        _ => None,
    };
    let plain = node.get_attr_opt::<i64>("antialias")?.unwrap_or(0) == 0
        && node.get_attr_opt::<String>("keep_aspect_ratio_policy")?.is_none_or(|p| p == "stretch")
        && node.get_attr_opt_vec::<i64>("axes")?.is_none();
    // X, then roi and scales absent, then sizes.
    let inputs: Vec<&str> = node.input.iter().map(String::as_str).collect();
    let sizes_only = matches!(inputs.as_slice(), [x, "", "", sizes] if !x.is_empty() && !sizes.is_empty());
    match coordinates {
        Some(coordinates) if ctx.onnx_operator_set_version >= 13 && mode == "linear" && plain && sizes_only => {
            Ok((expand(BilinearSizes { coordinates }), vec![]))
        }
        _ => super::tract_converter("Resize")?(ctx, node),
    }
}

/// The inference-time form: inputs X and the constant sizes; wires one [`Bilinear`] node.
#[derive(Debug, Clone)]
struct BilinearSizes {
    coordinates: Coordinates,
}

impl Expansion for BilinearSizes {
    fn name(&self) -> StaticName {
        "Resize".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        super::f32_data_rules(s, inputs, outputs, 2)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[1].rank, 1)?;
        s.equals(&inputs[1].shape[0], 4.to_dim())?;
        s.given(&inputs[1].value, move |s, sizes| {
            let sizes = sizes.cast_to::<i64>()?;
            for (axis, &size) in sizes.try_as_plain_ram()?.as_slice::<i64>()?.iter().enumerate() {
                s.equals(&outputs[0].shape[axis], size.to_dim())?;
            }
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let sizes = super::constant(model, inputs[1], prefix, "Resize sizes")?;
        let sizes = sizes.cast_to::<i64>()?;
        let sizes = sizes.try_as_plain_ram()?;
        let sizes = sizes.as_slice::<i64>()?;
        let input = model.outlet_fact(inputs[0])?.shape.clone();
        let same = |axis: usize| input[axis] == sizes[axis].to_dim();
        ensure!(
            same(0) && same(1) && sizes.iter().all(|&s| s >= 1),
            "{prefix}: a bilinear Resize from {input:?} to {sizes:?} changes the batch or channel size or empties the map"
        );
        let op = Bilinear { height: sizes[2] as usize, width: sizes[3] as usize, coordinates: self.coordinates };
        model.wire_node(prefix, op, &inputs[..1])
    }
}

/// Bilinear resampling of the last two axes of an NCHW f32 tensor to `height` × `width`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bilinear {
    pub height: usize,
    pub width: usize,
    pub coordinates: Coordinates,
}

/// One output coordinate's two source indices and the second one's weight.
#[derive(Debug, Clone, Copy)]
struct Tap {
    low: usize,
    high: usize,
    weight: f32,
}

impl Bilinear {
    /// The taps of each of `output` positions over `input` positions.
    fn taps(&self, input: usize, output: usize) -> Vec<Tap> {
        (0..output)
            .map(|dst| {
                let src = match self.coordinates {
                    Coordinates::AlignCorners if output > 1 => dst as f32 * (input - 1) as f32 / (output - 1) as f32,
                    Coordinates::AlignCorners => 0.0,
                    Coordinates::HalfPixel => ((dst as f32 + 0.5) * input as f32 / output as f32 - 0.5).max(0.0),
                };
                let low = (src.floor() as usize).min(input - 1);
                let high = (low + 1).min(input - 1);
                Tap { low, high, weight: src - low as f32 }
            })
            .collect()
    }
}

impl Op for Bilinear {
    fn name(&self) -> StaticName {
        "BilinearResize".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("to {}×{}, {:?}", self.height, self.width, self.coordinates)])
    }

    op_as_typed_op!();
}

impl EvalOp for Bilinear {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        ensure!(input.rank() == 4, "BilinearResize takes NCHW, not {:?}", input.shape());
        let (n, c, h, w) = (input.shape()[0], input.shape()[1], input.shape()[2], input.shape()[3]);
        let (out_h, out_w) = (self.height, self.width);
        // SAFETY: every output row is written below before the tensor is read.
        let mut output = unsafe { Tensor::uninitialized::<f32>(&[n, c, out_h, out_w])? };
        if output.len() == 0 {
            return Ok(tvec!(output.into_tvalue()));
        }
        ensure!(h > 0 && w > 0, "BilinearResize of an empty map {:?}", input.shape());
        let (rows, cols) = (self.taps(h, out_h), self.taps(w, out_w));
        let source = input.try_as_plain_ram()?;
        let source = source.as_slice::<f32>()?;
        {
            let mut plain = output.try_as_plain_ram_mut()?;
            let data = plain.as_slice_mut::<f32>()?;
            let total = data.len();
            // Rows of the output, whole planes' rows one after another: row i is plane
            // i / out_h, output row i % out_h.
            tract_linalg::multithread::par_chunks_mut(data, out_w, total, |first, chunk| {
                for (i, out) in chunk.chunks_exact_mut(out_w).enumerate() {
                    let (plane, y) = ((first + i) / out_h, (first + i) % out_h);
                    let plane = &source[plane * h * w..(plane + 1) * h * w];
                    let tap = rows[y];
                    let (low, high) = (&plane[tap.low * w..][..w], &plane[tap.high * w..][..w]);
                    for (o, col) in out.iter_mut().zip(&cols) {
                        let top = low[col.low] + (low[col.high] - low[col.low]) * col.weight;
                        let bottom = high[col.low] + (high[col.high] - high[col.low]) * col.weight;
                        *o = top + (bottom - top) * tap.weight;
                    }
                }
                Ok(())
            })?;
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for Bilinear {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        ensure!(input.datum_type == f32::datum_type(), "BilinearResize takes f32, not {:?}", input.datum_type);
        ensure!(input.rank() == 4, "BilinearResize takes NCHW, not {:?}", input.shape);
        let shape = [input.shape[0].clone(), input.shape[1].clone(), self.height.to_dim(), self.width.to_dim()];
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}
