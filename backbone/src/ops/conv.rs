//! ONNX `Conv` in the form the DPT heads spend their time in (3×3 kernel, stride 1, padding 1,
//! dilation 1, one group, NCHW f32, constant weights) as one tract operator: a direct
//! convolution that keeps a block of 16 output channels for a run of output columns in
//! registers and adds into it, for every input channel and tap, one input value times the 16
//! channels' weights. The weights are laid out once, at load, in that order (16 channels'
//! weights of one input channel and tap side by side); the input is read where it lies, the
//! border's zeros taken from a small buffer; blocks of channels and bands of rows are split
//! across tract's thread pool.
//!
//! tract's own form of these convolutions (its direct spatial kernel, four output channels at
//! a time) ran at a third of ONNX Runtime's speed on the Depth Anything head's full-size maps
//! (BENCHMARKS.md). Any other `Conv` (other kernels, strides, padding, groups, a weight or
//! bias that is not a constant) is handed to tract-onnx's own converter, unchanged.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// Output channels computed together: one 512-bit vector of f32, two of 256, four of 128.
const BLOCK: usize = 16;
/// Taps of a 3×3 kernel.
const TAPS: usize = 9;
/// Output rows per unit of work given to a thread.
const BAND: usize = 2;

/// The converter registered for `Conv`: ours for the 3×3 same-size form, tract-onnx's for any
/// other.
pub fn convert(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ints = |name: &str| node.get_attr_opt_vec::<i64>(name);
    let ones = |v: Option<Vec<i64>>| v.is_none_or(|v| v.iter().all(|&x| x == 1));
    let ours = ints("kernel_shape")?.is_some_and(|k| k == [3, 3])
        && ints("pads")?.is_some_and(|p| p == [1, 1, 1, 1])
        && ones(ints("strides")?)
        && ones(ints("dilations")?)
        && node.get_attr_opt::<i64>("group")?.unwrap_or(1) == 1
        && node.get_attr_opt::<String>("auto_pad")?.is_none_or(|p| p == "NOTSET")
        && matches!(node.input.len(), 2 | 3)
        && node.input.iter().all(|i| !i.is_empty());
    if ours {
        Ok((expand(Conv3x3Inference { bias: node.input.len() == 3 }), vec![]))
    } else {
        super::tract_converter("Conv")?(ctx, node)
    }
}

/// The inference-time form: inputs X, the constant weights and (if `bias`) the constant
/// bias; wires one [`Conv3x3`] node.
#[derive(Debug, Clone)]
struct Conv3x3Inference {
    bias: bool,
}

impl Expansion for Conv3x3Inference {
    fn name(&self) -> StaticName {
        "Conv".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        super::f32_data_rules(s, inputs, outputs, 2 + self.bias as usize)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&inputs[1].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[1].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], &inputs[1].shape[0])?;
        s.equals(&inputs[0].shape[1], &inputs[1].shape[1])?;
        s.equals(&outputs[0].shape[2], &inputs[0].shape[2])?;
        s.equals(&outputs[0].shape[3], &inputs[0].shape[3])?;
        if self.bias {
            s.equals(&inputs[2].rank, 1)?;
            s.equals(&inputs[2].shape[0], &inputs[1].shape[0])?;
        }
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let weights = super::constant(model, inputs[1], prefix, "Conv weights")?;
        let shape = weights.shape();
        ensure!(shape[2..] == [3, 3], "{prefix}: a 3×3 Conv with weights of shape {shape:?}");
        let (co, ci) = (shape[0], shape[1]);
        let bias = match inputs.get(2) {
            Some(&bias) => super::constant(model, bias, prefix, "Conv bias")?,
            None => Arc::new(Tensor::zero::<f32>(&[co])?),
        };
        let op = Conv3x3::new(
            co,
            ci,
            weights.try_as_plain_ram()?.as_slice::<f32>()?,
            bias.try_as_plain_ram()?.as_slice::<f32>()?,
        )?;
        model.wire_node(prefix, op, &inputs[..1])
    }
}

/// A 3×3 convolution, stride 1, padding 1, of an NCHW f32 tensor with `ci` channels to one of
/// `co`, its weights laid out for the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conv3x3 {
    co: usize,
    ci: usize,
    /// Per block of [`BLOCK`] output channels, per input channel, per tap: the block's
    /// weights (zero for channels past `co`): [blocks, ci, 9, 16].
    weights: Arc<Tensor>,
    /// [blocks × 16], zero past `co`.
    bias: Arc<Tensor>,
}

impl Conv3x3 {
    /// From ONNX's weights [co, ci, 3, 3] and bias [co].
    pub fn new(co: usize, ci: usize, weights: &[f32], bias: &[f32]) -> TractResult<Self> {
        ensure!(weights.len() == co * ci * TAPS && bias.len() == co, "Conv3x3: weights or bias of the wrong size");
        let blocks = co.div_ceil(BLOCK);
        let mut packed = vec![0.0f32; blocks * ci * TAPS * BLOCK];
        for o in 0..co {
            for c in 0..ci {
                for t in 0..TAPS {
                    packed[(((o / BLOCK) * ci + c) * TAPS + t) * BLOCK + o % BLOCK] = weights[(o * ci + c) * TAPS + t];
                }
            }
        }
        let mut padded_bias = vec![0.0f32; blocks * BLOCK];
        padded_bias[..co].copy_from_slice(bias);
        Ok(Conv3x3 {
            co,
            ci,
            weights: Arc::new(tensor1(&packed).into_shape(&[blocks, ci, TAPS, BLOCK])?),
            bias: Arc::new(tensor1(&padded_bias)),
        })
    }
}

impl Op for Conv3x3 {
    fn name(&self) -> StaticName {
        "Conv3x3".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{} → {} channels", self.ci, self.co)])
    }

    op_as_typed_op!();
}

/// Where one unit of work reads and writes: the input, the output (as an address, shared by
/// the threads, each writing its own channels' rows), and the map's size.
#[derive(Clone, Copy)]
struct Planes<'a> {
    input: &'a [f32],
    output: usize,
    ci: usize,
    co: usize,
    height: usize,
    width: usize,
}

impl EvalOp for Conv3x3 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        ensure!(shape.len() == 4 && shape[1] == self.ci, "Conv3x3 of {} channels takes NCHW, not {shape:?}", self.ci);
        let (n, height, width) = (shape[0], shape[2], shape[3]);
        // SAFETY: every output value is written below (each unit its channels' rows, whole)
        // before the tensor is read.
        let mut output = unsafe { Tensor::uninitialized::<f32>(&[n, self.co, height, width])? };
        if output.len() == 0 {
            return Ok(tvec!(output.into_tvalue()));
        }
        let source = input.try_as_plain_ram()?;
        let weights = self.weights.try_as_plain_ram()?;
        let bias = self.bias.try_as_plain_ram()?;
        let (weights, bias) = (weights.as_slice::<f32>()?, bias.as_slice::<f32>()?);
        {
            let mut plain = output.try_as_plain_ram_mut()?;
            let data = plain.as_slice_mut::<f32>()?;
            let total = data.len();
            let planes = Planes {
                input: source.as_slice::<f32>()?,
                output: data.as_mut_ptr() as usize,
                ci: self.ci,
                co: self.co,
                height,
                width,
            };
            let (blocks, bands) = (self.co.div_ceil(BLOCK), height.div_ceil(BAND));
            // Units in the order (image, block, band): neighbours share weights and rows.
            let mut units = vec![(); n * blocks * bands];
            tract_linalg::multithread::par_chunks_mut(&mut units, 1, total, |first, chunk| {
                for unit in first..first + chunk.len() {
                    let (image, block, band) = (unit / (blocks * bands), unit / bands % blocks, unit % bands);
                    let weights = &weights[block * self.ci * TAPS * BLOCK..][..self.ci * TAPS * BLOCK];
                    let bias = &bias[block * BLOCK..][..BLOCK];
                    for y in band * BAND..((band + 1) * BAND).min(height) {
                        // SAFETY: each unit writes the rows `y` of its own block's channels of its
                        // own image, which no other unit writes, inside `output`.
                        unsafe { row(planes, image, block, y, weights, bias) };
                    }
                }
                Ok(())
            })?;
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

/// Output row `y` of block `block` of image `image`, with the widest kernel this CPU runs.
///
/// # Safety
/// `planes.output` is the address of the output [n, co, height, width], and no other thread
/// writes row `y` of these channels meanwhile.
unsafe fn row(planes: Planes, image: usize, block: usize, y: usize, weights: &[f32], bias: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features (checked); the caller's promise is passed on.
            return unsafe { row_avx512(planes, image, block, y, weights, bias) };
        }
        if super::avx2_fma() {
            // SAFETY: as above.
            return unsafe { row_avx2(planes, image, block, y, weights, bias) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: the caller's promise, passed on (NEON and its FMA are aarch64's baseline).
        return unsafe { row_with::<6, true>(planes, image, block, y, weights, bias) };
    }
    #[allow(unreachable_code)]
    // SAFETY: as above; a CPU without FMA instructions multiplies and adds.
    unsafe {
        row_with::<4, false>(planes, image, block, y, weights, bias)
    }
}

/// Twelve runs of 16 channels: 12 of the 32 vector registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn row_avx512(planes: Planes, image: usize, block: usize, y: usize, weights: &[f32], bias: &[f32]) {
    // SAFETY: the caller's promise, passed on.
    unsafe { row_with::<12, true>(planes, image, block, y, weights, bias) }
}

/// Six runs of 16 channels: 12 of the 16 vector registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(planes: Planes, image: usize, block: usize, y: usize, weights: &[f32], bias: &[f32]) {
    // SAFETY: the caller's promise, passed on.
    unsafe { row_with::<6, true>(planes, image, block, y, weights, bias) }
}

/// Output row `y` of `block` in runs of `RUN` columns, each kept in registers while every
/// input channel and tap is added ([`run`]); `FUSED`: with fused multiply-adds. A run whose
/// 3 × (RUN + 2) input window lies inside the map reads it in place; one at the map's border
/// reads a copy of its window with zeros outside.
///
/// # Safety
/// As [`row`].
#[inline(always)]
unsafe fn row_with<const RUN: usize, const FUSED: bool>(
    planes: Planes,
    image: usize,
    block: usize,
    y: usize,
    weights: &[f32],
    bias: &[f32],
) {
    let Planes { input, output, ci, co, height, width } = planes;
    let plane = height * width;
    let input = &input[image * ci * plane..][..ci * plane];
    let bias: &[f32; BLOCK] = bias.try_into().expect("a block's bias");
    assert_eq!(weights.len(), ci * TAPS * BLOCK, "a block's weights");
    let channels = BLOCK.min(co - block * BLOCK);
    let (span, rows_inside) = (RUN + 2, y >= 1 && y + 1 < height);
    let mut window = vec![0.0f32; ci * 3 * span];
    let mut x0 = 0;
    while x0 < width {
        let acc = if rows_inside && x0 >= 1 && x0 + RUN < width {
            // SAFETY: rows y - 1 ..= y + 1 and columns x0 - 1 ..= x0 + RUN of every channel
            // are inside `input` (checked just above); `weights` holds ci × 9 × 16 (asserted).
            unsafe { run::<RUN, FUSED>(input[(y - 1) * width + x0 - 1..].as_ptr(), plane, width, ci, weights, bias) }
        } else {
            for c in 0..ci {
                for ky in 0..3 {
                    let source = (y + ky)
                        .checked_sub(1)
                        .filter(|&r| r < height)
                        .map(|r| &input[c * plane + r * width..][..width]);
                    for (i, v) in window[(c * 3 + ky) * span..][..span].iter_mut().enumerate() {
                        let column = (x0 + i).checked_sub(1).filter(|&x| x < width);
                        *v = source.zip(column).map_or(0.0, |(row, x)| row[x]);
                    }
                }
            }
            // SAFETY: `window` holds ci × 3 rows of RUN + 2; `weights` as above.
            unsafe { run::<RUN, FUSED>(window.as_ptr(), 3 * span, span, ci, weights, bias) }
        };
        let out = output as *mut f32;
        for l in 0..channels {
            let o = (image * co + block * BLOCK + l) * plane + y * width + x0;
            for (t, acc) in acc.iter().take(RUN.min(width - x0)).enumerate() {
                // SAFETY: channel block·16 + l < co, row y < height, column x0 + t < width:
                // inside the output, in rows only this unit writes (the caller's promise).
                unsafe { *out.add(o + t) = acc[l] };
            }
        }
        x0 += RUN;
    }
}

/// One run of `RUN` output columns of 16 channels: the bias plus, for each of the `ci`
/// channels and the 3 × 3 taps, the input value times the 16 channels' weights. The input
/// window of channel c, kernel row ky, column i (0 ..= RUN + 1) is at
/// `window + c·channel + ky·row + i`. One loop over the channels, everything in it unrolled, so
/// that the accumulators stay in registers.
///
/// # Safety
/// Every such address is readable for c < ci; `weights` holds ci × 9 × 16 values.
#[inline(always)]
unsafe fn run<const RUN: usize, const FUSED: bool>(
    window: *const f32,
    channel: usize,
    row: usize,
    ci: usize,
    weights: &[f32],
    bias: &[f32; BLOCK],
) -> [[f32; BLOCK]; RUN] {
    let mut acc = [*bias; RUN];
    let weights = weights.as_ptr();
    for c in 0..ci {
        for ky in 0..3 {
            for kx in 0..3 {
                // SAFETY: the caller's promise.
                let (w, source) = unsafe {
                    (
                        &*(weights.add((c * TAPS + ky * 3 + kx) * BLOCK) as *const [f32; BLOCK]),
                        window.add(c * channel + ky * row + kx),
                    )
                };
                for (t, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: the caller's promise (t + kx ≤ RUN + 1).
                    let v = unsafe { *source.add(t) };
                    for (a, w) in acc.iter_mut().zip(w) {
                        *a = if FUSED { v.mul_add(*w, *a) } else { *a + v * *w };
                    }
                }
            }
        }
    }
    acc
}

impl TypedOp for Conv3x3 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        ensure!(input.datum_type == f32::datum_type(), "Conv3x3 takes f32, not {:?}", input.datum_type);
        ensure!(input.rank() == 4, "Conv3x3 takes NCHW, not {:?}", input.shape);
        let shape = [input.shape[0].clone(), self.co.to_dim(), input.shape[2].clone(), input.shape[3].clone()];
        Ok(tvec!(f32::fact(shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let shape = &inputs[0].shape;
        let points = shape[0].clone() * &shape[2] * &shape[3];
        Ok(tvec!((Cost::FMA(f32::datum_type()), points * (self.co * self.ci * TAPS))))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel width computes the same convolution (the x86-64 machines that run the tests
    /// use the widest; the others are what AVX2, NEON and 32-bit ARM run): runs of 4 without
    /// fused multiply-adds, 6 and 12 with, against each other on a map whose width is no
    /// multiple of any, with a partial block of channels.
    #[test]
    fn every_kernel_width_computes_the_same() {
        let (ci, co, height, width) = (5, 19, 4, 17);
        let weights: Vec<f32> = (0..co * ci * TAPS).map(|i| ((i * 7) % 13) as f32 * 0.05 - 0.3).collect();
        let bias: Vec<f32> = (0..co).map(|o| o as f32 * 0.1).collect();
        let input: Vec<f32> = (0..ci * height * width).map(|i| ((i * 11) % 17) as f32 * 0.25 - 2.0).collect();
        let op = Conv3x3::new(co, ci, &weights, &bias).unwrap();
        let packed = op.weights.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
        let padded = op.bias.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
        let convolve = |kernel: unsafe fn(Planes, usize, usize, usize, &[f32], &[f32])| {
            let mut out = vec![f32::NAN; co * height * width];
            let planes = Planes { input: &input, output: out.as_mut_ptr() as usize, ci, co, height, width };
            for block in 0..co.div_ceil(BLOCK) {
                for y in 0..height {
                    let w = &packed[block * ci * TAPS * BLOCK..][..ci * TAPS * BLOCK];
                    // SAFETY: one thread writes every row of `out`, [1, co, height, width].
                    unsafe { kernel(planes, 0, block, y, w, &padded[block * BLOCK..][..BLOCK]) };
                }
            }
            out
        };
        let narrow = convolve(row_with::<4, false>);
        for (name, other) in [("6 fused", convolve(row_with::<6, true>)), ("12 fused", convolve(row_with::<12, true>))]
        {
            let diff = narrow.iter().zip(&other).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(diff <= 1e-5, "runs of {name} differ from runs of 4 by {diff}");
        }
        // And the definition, at one point inside and one on the corner.
        let at = |o: usize, y: usize, x: usize| {
            let mut sum = bias[o];
            for c in 0..ci {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (iy, ix) = ((y + ky).wrapping_sub(1), (x + kx).wrapping_sub(1));
                        if iy < height && ix < width {
                            sum += input[(c * height + iy) * width + ix] * weights[((o * ci + c) * 3 + ky) * 3 + kx];
                        }
                    }
                }
            }
            sum
        };
        for (o, y, x) in [(18, 2, 9), (0, 0, 0), (17, 3, 16)] {
            let got = narrow[(o * height + y) * width + x];
            assert!((got - at(o, y, x)).abs() <= 1e-5, "[{o}, {y}, {x}]: {got} vs {}", at(o, y, x));
        }
    }
}
