//! `dinoedge bench backbone`: the backbone's load time and latency over repeated runs on a
//! fixed input, its GFLOP/s and what fraction that is of this CPU's f32 FMA rate measured in
//! the same run (`dinoedge_backbone::peak`), and with `--profile` the costliest operators of
//! its plan. The
//! results go to BENCHMARKS.md beside ONNX Runtime's on the same file (tools/bench/).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dinoedge_backbone::{Backbone, Settings, peak, pull};
use ndarray::Array4;

use super::{Latency, cpu_model, ms};
use crate::cli::BenchBackboneArgs;

/// How long the CPU's FMA rate is measured, after the timed runs.
const PEAK_TIME: Duration = Duration::from_secs(1);

pub fn run(args: BenchBackboneArgs) -> Result<()> {
    let BenchBackboneArgs { model, input, threads, runs, warmup, json, profile, by_shape, operators, precision } = args;
    let path = match (model, input) {
        (Some(model), _) => model,
        (None, input) => {
            pull::cached_backbone(&pull::cache_dir(), input.unwrap_or(dinoedge_backbone::InputSize::new(224, 224)))
        }
    };
    let started = Instant::now();
    let backbone = Backbone::load_with(&path, Settings { threads, operators, precision }).with_context(|| {
        format!("loading {} (make one with `dinoedge model import` or `model pull`)", path.display())
    })?;
    let load = started.elapsed();
    let meta = backbone.meta().clone();
    if let Some(input) = input.filter(|i| *i != meta.input) {
        bail!(
            "{} was imported for input {}, not {input}; import the weights again with --input {input}",
            path.display(),
            meta.input
        );
    }
    let pixels = Array4::from_shape_fn((1, 3, meta.input.height, meta.input.width), |(_, c, y, x)| {
        ((x * 7 + y * 13 + c * 29) % 101) as f32 / 50.0 - 1.0
    });
    for _ in 0..warmup {
        backbone.run(pixels.clone())?;
    }
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let input = pixels.clone();
            let start = Instant::now();
            backbone.run(input).map(|_| start.elapsed())
        })
        .collect::<Result<_, _>>()?;
    let Latency { median, p90, min } = Latency::of(times);
    let gflops = peak::plan_flops(&backbone)? / 1e9;
    let rate = gflops / (median / 1e3);
    let limit = peak::measure(threads, PEAK_TIME);
    let cpu = cpu_model();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "runtime": "tract",
                "operators": operators.to_string(),
                "precision": precision.to_string(),
                "model": path.display().to_string(),
                "arch": meta.spec.name(),
                "input": meta.input.to_string(),
                "threads": threads,
                "runs": runs,
                "load_ms": ms(load),
                "median_ms": median,
                "p90_ms": p90,
                "min_ms": min,
                "gflop": gflops,
                "gflops_per_s": rate,
                "peak_gflops_per_s": limit.gflops,
                "peak_isa": limit.isa,
                "cpu": cpu,
            })
        );
    } else {
        println!("backbone  {} ({}), input {}", path.display(), meta.spec.name(), meta.input);
        println!("cpu       {cpu}, {threads} thread(s), {operators} operators, {precision}");
        println!("load      {:.0} ms (parse, optimise, plan)", ms(load));
        println!("latency   median {median:.1} ms, p90 {p90:.1} ms, min {min:.1} ms over {runs} runs");
        println!("compute   {gflops:.2} GFLOP per frame, {rate:.1} GFLOP/s at the median");
        println!(
            "limit     {:.1} GFLOP/s: f32 FMAs ({}) on {threads} thread(s), measured; the model uses {:.0} % of it",
            limit.gflops,
            limit.isa,
            100.0 * rate / limit.gflops
        );
    }
    if profile {
        let ops = dinoedge_backbone::profile::profile(&backbone, &pixels, 5, by_shape)?;
        let total: f64 = ops.iter().map(|o| ms(o.per_run)).sum();
        println!("profile   (per run, {total:.1} ms in operators)");
        for op in ops.iter().take(15) {
            println!(
                "  {:>7.2} ms {:>5.1}%  {:>4} × {}",
                ms(op.per_run),
                100.0 * ms(op.per_run) / total,
                op.nodes,
                op.op
            );
        }
    }
    Ok(())
}
