//! dinoedge's own tract operators (`dinoedge_backbone::ops`) compute what tract-onnx's own
//! form of the same ONNX nodes computes: on the full-size random ViT-S/14 every output within
//! 1e-5, and each operator on a small graph against a plain computation, including the forms
//! it leaves to tract.

use dinoedge_backbone::import::{ImportOptions, import};
use dinoedge_backbone::onnx::OPSET_20;
use dinoedge_backbone::onnx::graph::{Attr, GraphBuilder};
use dinoedge_backbone::onnx::meta::AttentionForm;
use dinoedge_backbone::ops::{self, Operators};
use dinoedge_backbone::vit::Arch;
use dinoedge_backbone::{Backbone, BackboneOutputs, InputSize, Precision, Settings, init};
use ndarray::{Array1, Array3, Array4, ArrayD, IxDyn};
use tract_onnx::prelude::*;

/// Both forms sum the same values in different orders: float rounding only.
const TOLERANCE: f32 = 1e-5;

fn max_abs_diff<'a>(a: impl IntoIterator<Item = &'a f32>, b: impl IntoIterator<Item = &'a f32>) -> f32 {
    a.into_iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn pixels(input: InputSize) -> Array4<f32> {
    Array4::from_shape_fn((1, 3, input.height, input.width), |(_, c, y, x)| {
        ((x * 7 + y * 3 + c * 11) % 29) as f32 / 14.5 - 1.0
    })
}

fn assert_same_outputs(ours: &BackboneOutputs, tracts: &BackboneOutputs, what: &str) {
    let mut pairs = vec![("cls", max_abs_diff(&ours.cls, &tracts.cls))];
    pairs.push(("patch tokens", max_abs_diff(&ours.patch_tokens, &tracts.patch_tokens)));
    assert_eq!(ours.blocks.len(), tracts.blocks.len());
    for (a, b) in ours.blocks.iter().zip(&tracts.blocks) {
        pairs.push(("a block's patch tokens", max_abs_diff(&a.patch_tokens, &b.patch_tokens)));
        pairs.push(("a block's cls", max_abs_diff(&a.cls, &b.cls)));
    }
    for (name, diff) in pairs {
        assert!(diff <= TOLERANCE, "{what}: {name} differ by {diff}");
    }
    assert!(ours.patch_tokens.iter().all(|v| v.is_finite()));
}

fn check_full_size(registers: usize, input: InputSize) {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("w.safetensors");
    init::write_random(Arch::Small, registers, 5, &weights).unwrap();
    let onnx = tmp.path().join("b.onnx");
    import(&weights, &onnx, &ImportOptions { input, blocks: None, attention: AttentionForm::Decomposed }).unwrap();
    let ours = Backbone::load_with(&onnx, Settings::threads(2)).unwrap().run(pixels(input)).unwrap();
    let tracts = Backbone::load_with(&onnx, Settings { operators: Operators::Tract, ..Settings::threads(2) })
        .unwrap()
        .run(pixels(input))
        .unwrap();
    assert_same_outputs(&ours, &tracts, &format!("ViT-S/14, {registers} registers, {input}"));
}

#[test]
#[cfg_attr(
    not(target_arch = "x86_64"),
    ignore = "a minute under qemu; on ARM the smaller full-size case below covers the same code"
)]
fn the_full_size_backbone_computes_the_same_with_dinoedges_operators_at_224() {
    check_full_size(0, InputSize::new(224, 224));
}

#[test]
fn the_full_size_backbone_computes_the_same_with_dinoedges_operators_with_registers_and_a_non_square_input() {
    check_full_size(4, InputSize::new(126, 182));
}

thread_local! {
    /// Set by a test of a form dinoedge's operators leave to tract.
    static LEFT_TO_TRACT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a one-node graph built by `build` on `x` with the chosen operators.
fn run_graph(operators: Operators, x: &ArrayD<f32>, build: impl Fn(&mut GraphBuilder, &str) -> String) -> ArrayD<f32> {
    run_graph_to(operators, x, x.shape(), build)
}

/// [`run_graph`] for a node whose output has shape `out`.
fn run_graph_to(
    operators: Operators,
    x: &ArrayD<f32>,
    out: &[usize],
    build: impl Fn(&mut GraphBuilder, &str) -> String,
) -> ArrayD<f32> {
    let mut g = GraphBuilder::default();
    let input = g.input("x", x.shape());
    let y = build(&mut g, &input);
    g.output(&y, "y", out);
    let bytes = g.finish("op", OPSET_20, &[]);
    let model = ops::onnx(operators, Precision::F32)
        .model_for_read(&mut bytes.as_slice())
        .and_then(|m| m.into_optimized())
        .unwrap();
    // The operator under test is the one that ran: dinoedge's names are not tract's.
    let names: Vec<String> = model.nodes().iter().map(|n| n.op().name().to_string()).collect();
    let ours = names.iter().any(|n| ["LayerNorm", "SoftmaxRows", "BilinearResize", "Conv3x3"].contains(&n.as_str()));
    let expect_ours = operators == Operators::Dinoedge && !LEFT_TO_TRACT.with(|l| l.get());
    assert_eq!(ours, expect_ours, "{operators} operators, plan {names:?}");
    let plan = model.into_runnable().unwrap();
    let outputs = plan.run(tvec!(Tensor::from(x.clone()).into())).unwrap();
    outputs[0].to_plain_array_view::<f32>().unwrap().to_owned()
}

/// LayerNorm by the definition, over the axes from `axis` on, in f64.
fn layer_norm_by_definition(
    x: &ArrayD<f32>,
    axis: usize,
    scale: &ArrayD<f32>,
    bias: &ArrayD<f32>,
    eps: f64,
) -> ArrayD<f32> {
    let outer: usize = x.shape()[..axis].iter().product();
    let inner: usize = x.shape()[axis..].iter().product();
    let flat = x.to_shape((outer, inner)).unwrap();
    let (scale, bias) = (scale.iter().collect::<Vec<_>>(), bias.iter().collect::<Vec<_>>());
    let mut out = Vec::with_capacity(x.len());
    for row in flat.rows() {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / inner as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / inner as f64;
        for (i, &v) in row.iter().enumerate() {
            out.push(((v as f64 - mean) / (var + eps).sqrt() * *scale[i] as f64 + *bias[i] as f64) as f32);
        }
    }
    ArrayD::from_shape_vec(x.raw_dim(), out).unwrap()
}

fn layer_norm_graph(axis: i64, scale: ArrayD<f32>, bias: ArrayD<f32>) -> impl Fn(&mut GraphBuilder, &str) -> String {
    move |g, x| {
        let s = g.constant("scale", scale.view());
        let b = g.constant("bias", bias.view());
        g.node("LayerNormalization", &[x, &s, &b], &[("axis", Attr::Int(axis)), ("epsilon", Attr::Float(1e-6))])
    }
}

#[test]
fn layer_norm_over_the_last_axis_is_the_definition_and_tracts_form() {
    // Rows of 37: no multiple of the kernel's eight lanes; values far from zero so a
    // one-pass variance would lose digits.
    let x = Array3::from_shape_fn((2, 5, 37), |(a, b, c)| 100.0 + ((a * 131 + b * 17 + c * 7) % 23) as f32 * 0.37)
        .into_dyn();
    let scale = Array1::from_shape_fn(37, |i| 0.5 + i as f32 * 0.05).into_dyn();
    let bias = Array1::from_shape_fn(37, |i| i as f32 * 0.1 - 1.0).into_dyn();
    let expected = layer_norm_by_definition(&x, 2, &scale, &bias, 1e-6);
    let ours = run_graph(Operators::Dinoedge, &x, layer_norm_graph(-1, scale.clone(), bias.clone()));
    let tracts = run_graph(Operators::Tract, &x, layer_norm_graph(-1, scale, bias));
    let (ours_error, tracts_error) = (max_abs_diff(&ours, &expected), max_abs_diff(&tracts, &expected));
    // Values near 100 with a spread near 1: summation order shows in the last digits, and
    // tract's form (seen: 1.4e-5 off the definition here) is the less exact of the two.
    assert!(ours_error <= 1e-5, "ours is {ours_error} off the definition");
    assert!(ours_error <= tracts_error, "ours is {ours_error} off the definition, tract's {tracts_error}");
}

#[test]
fn a_layer_norm_over_more_than_the_last_axis_is_left_to_tract_and_still_right() {
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| (i[0] * 12 + i[1] * 4 + i[2]) as f32 * 0.25 - 3.0);
    let scale = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| 1.0 + (i[0] * 4 + i[1]) as f32 * 0.1);
    let bias = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 4 + i[1]) as f32 * -0.05);
    let expected = layer_norm_by_definition(&x, 1, &scale, &bias, 1e-6);
    LEFT_TO_TRACT.with(|l| l.set(true));
    let ours = run_graph(Operators::Dinoedge, &x, layer_norm_graph(1, scale, bias));
    assert!(max_abs_diff(&ours, &expected) <= 1e-5, "ours vs definition {}", max_abs_diff(&ours, &expected));
}

#[test]
fn softmax_over_the_last_axis_is_the_definition_and_tracts_form() {
    // Rows of 257, as an attention row at 224×224; some scores large, as attention's are.
    let x = Array3::from_shape_fn((3, 4, 257), |(a, b, c)| ((a * 131 + b * 17 + c * 7) % 41) as f32 * 0.9 - 12.0)
        .into_dyn();
    let softmax = |g: &mut GraphBuilder, x: &str| g.node("Softmax", &[x], &[("axis", Attr::Int(-1))]);
    let ours = run_graph(Operators::Dinoedge, &x, softmax);
    let tracts = run_graph(Operators::Tract, &x, softmax);
    let flat = x.to_shape((12, 257)).unwrap();
    let mut worst = 0.0f64;
    for (row, got) in flat.rows().into_iter().zip(ours.to_shape((12, 257)).unwrap().rows()) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        for (&v, &p) in row.iter().zip(got) {
            worst = worst.max(((v as f64 - max).exp() / sum - p as f64).abs());
        }
    }
    assert!(worst <= 1e-7, "ours is {worst} off the definition");
    assert!(max_abs_diff(&ours, &tracts) <= 1e-6, "ours vs tract {}", max_abs_diff(&ours, &tracts));
}

#[test]
fn a_softmax_over_another_axis_is_left_to_tract_and_still_right() {
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 5, 3]), |i| (i[0] * 15 + i[1] * 3 + i[2]) as f32 * 0.3 - 4.0);
    LEFT_TO_TRACT.with(|l| l.set(true));
    let ours = run_graph(Operators::Dinoedge, &x, |g, x| g.node("Softmax", &[x], &[("axis", Attr::Int(1))]));
    for a in 0..2 {
        for c in 0..3 {
            let column: Vec<f64> = (0..5).map(|b| x[[a, b, c]] as f64).collect();
            let max = column.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = column.iter().map(|v| (v - max).exp()).sum();
            for (b, v) in column.iter().enumerate() {
                let expected = (v - max).exp() / sum;
                assert!((ours[[a, b, c]] as f64 - expected).abs() <= 1e-6, "[{a}, {b}, {c}]");
            }
        }
    }
}

/// Bilinear resampling by its definition, in f64: torch's `F.interpolate(mode="bilinear")`.
fn bilinear_by_definition(x: &ArrayD<f32>, out_h: usize, out_w: usize, align_corners: bool) -> ArrayD<f32> {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let source = |dst: usize, input: usize, output: usize| -> f64 {
        if align_corners {
            if output > 1 { dst as f64 * (input - 1) as f64 / (output - 1) as f64 } else { 0.0 }
        } else {
            ((dst as f64 + 0.5) * input as f64 / output as f64 - 0.5).max(0.0)
        }
    };
    let taps = |src: f64, input: usize| {
        let low = (src.floor() as usize).min(input - 1);
        (low, (low + 1).min(input - 1), src - low as f64)
    };
    ArrayD::from_shape_fn(IxDyn(&[n, c, out_h, out_w]), |i| {
        let (y0, y1, wy) = taps(source(i[2], h, out_h), h);
        let (x0, x1, wx) = taps(source(i[3], w, out_w), w);
        let at = |y: usize, xx: usize| x[[i[0], i[1], y, xx]] as f64;
        let top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx;
        let bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx;
        (top * (1.0 - wy) + bottom * wy) as f32
    })
}

#[test]
fn bilinear_resize_is_the_definition_and_tracts_form_up_and_down_with_both_coordinate_modes() {
    let x =
        ArrayD::from_shape_fn(IxDyn(&[1, 3, 7, 9]), |i| ((i[1] * 31 + i[2] * 7 + i[3] * 13) % 17) as f32 * 0.4 - 3.0);
    for (out_h, out_w) in [(16, 23), (4, 5), (14, 18), (1, 1)] {
        for align_corners in [false, true] {
            let resize = move |g: &mut GraphBuilder, x: &str| g.resize_bilinear(x, [1, 3, out_h, out_w], align_corners);
            let ours = run_graph_to(Operators::Dinoedge, &x, &[1, 3, out_h, out_w], resize);
            let tracts = run_graph_to(Operators::Tract, &x, &[1, 3, out_h, out_w], resize);
            let expected = bilinear_by_definition(&x, out_h, out_w, align_corners);
            let what = format!("to {out_h}×{out_w}, align_corners {align_corners}");
            assert!(max_abs_diff(&ours, &expected) <= 1e-5, "{what}: ours is {} off", max_abs_diff(&ours, &expected));
            assert!(max_abs_diff(&ours, &tracts) <= 1e-5, "{what}: ours vs tract {}", max_abs_diff(&ours, &tracts));
        }
    }
}

/// A convolution of `x` [n, ci, h, w] by `weights` [co, ci, k, k] (and `bias`) with `stride`
/// and `pad`, by the definition, in f64.
fn conv_by_definition(
    x: &ArrayD<f32>,
    weights: &Array4<f32>,
    bias: Option<&Array1<f32>>,
    stride: usize,
    pad: usize,
) -> ArrayD<f32> {
    let (n, ci, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (co, k) = (weights.dim().0, weights.dim().2);
    let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
    ArrayD::from_shape_fn(IxDyn(&[n, co, oh, ow]), |i| {
        let (b, o, y, x0) = (i[0], i[1], i[2], i[3]);
        let mut sum = bias.map_or(0.0, |bias| bias[o] as f64);
        for c in 0..ci {
            for ky in 0..k {
                for kx in 0..k {
                    let (iy, ix) =
                        ((y * stride + ky) as isize - pad as isize, (x0 * stride + kx) as isize - pad as isize);
                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                        sum += x[[b, c, iy as usize, ix as usize]] as f64 * weights[[o, c, ky, kx]] as f64;
                    }
                }
            }
        }
        sum as f32
    })
}

/// A graph of one `Conv` node (kernel from `weights`, `stride`, `pad`).
fn conv_graph(
    weights: Array4<f32>,
    bias: Option<Array1<f32>>,
    stride: usize,
    pad: usize,
) -> impl Fn(&mut GraphBuilder, &str) -> String {
    move |g: &mut GraphBuilder, x: &str| {
        let k = weights.dim().2 as i64;
        let w = g.constant("w", weights.view());
        let b = bias.as_ref().map(|b| g.constant("b", b.view()));
        let mut inputs = vec![x, w.as_str()];
        if let Some(b) = &b {
            inputs.push(b);
        }
        let (s, p) = (stride as i64, pad as i64);
        let attrs = [
            ("kernel_shape", Attr::Ints(vec![k, k])),
            ("strides", Attr::Ints(vec![s, s])),
            ("pads", Attr::Ints(vec![p, p, p, p])),
        ];
        g.node("Conv", &inputs, &attrs)
    }
}

/// The 3×3 same-size convolution: by the definition and as tract computes it, on maps
/// narrower and wider than a run of columns, one row high, with channel counts that do and do
/// not fill a block of 16, with and without bias, and a batch of two.
#[test]
fn a_3x3_convolution_is_the_definition_and_tracts_form() {
    for (n, ci, co, h, w, bias) in [
        (1, 3, 5, 1, 1, true),
        (1, 7, 17, 2, 3, false),
        (2, 32, 32, 13, 29, true),
        (1, 64, 33, 9, 40, true),
        (1, 5, 16, 6, 12, false),
    ] {
        let x = ArrayD::from_shape_fn(IxDyn(&[n, ci, h, w]), |i| {
            ((i[0] * 7 + i[1] * 31 + i[2] * 7 + i[3] * 13) % 17) as f32 * 0.4 - 3.0
        });
        let weights = Array4::from_shape_fn((co, ci, 3, 3), |(o, c, y, x)| {
            ((o * 13 + c * 7 + y * 3 + x * 5) % 11) as f32 * 0.02 - 0.1
        });
        let bias = bias.then(|| Array1::from_shape_fn(co, |o| o as f32 * 0.1 - 1.0));
        let expected = conv_by_definition(&x, &weights, bias.as_ref(), 1, 1);
        let shape = expected.shape().to_vec();
        let ours = run_graph_to(Operators::Dinoedge, &x, &shape, conv_graph(weights.clone(), bias.clone(), 1, 1));
        let tracts = run_graph_to(Operators::Tract, &x, &shape, conv_graph(weights, bias, 1, 1));
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let what = format!("{n}×{ci}×{h}×{w} to {co} channels");
        assert!(
            max_abs_diff(&ours, &expected) <= TOLERANCE * scale,
            "{what}: ours is {} off",
            max_abs_diff(&ours, &expected)
        );
        assert!(
            max_abs_diff(&ours, &tracts) <= TOLERANCE * scale,
            "{what}: ours vs tract {}",
            max_abs_diff(&ours, &tracts)
        );
    }
}

/// Other convolutions (a stride, a 1×1 kernel, no padding) are tract's, and still right.
#[test]
fn other_convolutions_are_left_to_tract_and_still_right() {
    let x =
        ArrayD::from_shape_fn(IxDyn(&[1, 4, 7, 9]), |i| ((i[1] * 31 + i[2] * 7 + i[3] * 13) % 17) as f32 * 0.4 - 3.0);
    LEFT_TO_TRACT.with(|l| l.set(true));
    for (k, stride, pad) in [(3, 2, 1), (1, 1, 0), (3, 1, 0)] {
        let weights = Array4::from_shape_fn((6, 4, k, k), |(o, c, y, x)| {
            ((o * 13 + c * 7 + y * 3 + x * 5) % 11) as f32 * 0.02 - 0.1
        });
        let expected = conv_by_definition(&x, &weights, None, stride, pad);
        let shape = expected.shape().to_vec();
        let ours = run_graph_to(Operators::Dinoedge, &x, &shape, conv_graph(weights, None, stride, pad));
        assert!(
            max_abs_diff(&ours, &expected) <= 1e-5,
            "k {k}, stride {stride}, pad {pad}: {}",
            max_abs_diff(&ours, &expected)
        );
    }
}

/// A plan in half precision keeps tract's convolutions (which it runs in f16; dinoedge's is
/// f32 only), so that ARM's f16 path loads a depth model as it did.
#[test]
fn a_half_precision_plan_keeps_tracts_convolutions() {
    let weights = Array4::from_shape_fn((4, 3, 3, 3), |(o, c, y, x)| (o + c + y + x) as f32 * 0.1);
    let mut g = GraphBuilder::default();
    let input = g.input("x", &[1, 3, 8, 8]);
    let y = conv_graph(weights, None, 1, 1)(&mut g, &input);
    g.output(&y, "y", &[1, 4, 8, 8]);
    let bytes = g.finish("op", OPSET_20, &[]);
    for (precision, expected) in [(Precision::F32, true), (Precision::F16, false)] {
        let onnx = ops::onnx(Operators::Dinoedge, precision);
        let model = onnx.model_for_read(&mut bytes.as_slice()).and_then(|m| m.into_optimized()).unwrap();
        let ours = model.nodes().iter().any(|n| n.op().name() == "Conv3x3");
        assert_eq!(ours, expected, "{precision:?}");
    }
}
