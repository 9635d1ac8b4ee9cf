//! `dinoedge bench backbone | render`: latency, measured, never asserted. The results go
//! to BENCHMARKS.md, the backbone's with an ONNX Runtime baseline (tools/bench/).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dinoedge_heads::head::DepthModel;
use dinoedge_heads::head::upsample::bilinear;
use dinoedge_heads::{Backbone, pull};
use ndarray::Array4;

use dinoedge_sim::clip::clip_camera;
use dinoedge_sim::dock::{DockLayout, build};
use dinoedge_sim::{RenderOptions, render};

use crate::cli::BenchCommand;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, 90th percentile and minimum of repeated timings, in milliseconds.
struct Latency {
    median: f64,
    p90: f64,
    min: f64,
}

impl Latency {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        Self {
            median: ms(times[times.len() / 2]),
            p90: ms(times[(times.len() * 9).div_ceil(10) - 1]),
            min: ms(times[0]),
        }
    }
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Pipeline { clip, backbone, head, cameras, fps, seconds, threads, mqtt } => {
            super::bench_pipeline::bench(&super::bench_pipeline::Options {
                clip: &clip,
                backbone: &backbone,
                head: &head,
                cameras,
                fps,
                seconds,
                threads,
                mqtt: mqtt.as_deref(),
            })
        }
        BenchCommand::Head { backbone, head, threads, runs, size } => {
            let model = DepthModel::load(&backbone, &head, threads)?;
            let frame = image::RgbImage::from_fn(size.width, size.height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
            });
            let (mut backbone_times, mut head_times) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let start = Instant::now();
                let outputs = model.backbone.embed(&frame)?;
                backbone_times.push(start.elapsed());
                let start = Instant::now();
                let patches = model.head.patch_depth(&outputs)?;
                let depth = bilinear(patches.view(), frame.height() as usize, frame.width() as usize);
                head_times.push(start.elapsed());
                std::hint::black_box(depth);
            }
            let (Latency { median: b50, p90: b90, .. }, Latency { median: h50, p90: h90, .. }) =
                (Latency::of(backbone_times), Latency::of(head_times));
            println!("cpu       {}, {threads} thread(s); frame {}x{}", cpu_model(), size.width, size.height);
            println!("backbone  median {b50:.1} ms, p90 {b90:.1} ms (resize, normalise, run)");
            println!(
                "head      median {h50:.1} ms, p90 {h90:.1} ms (lin.{}, {} bins, to {}x{}): {:.0} % of the backbone",
                model.head.layers.count(),
                model.head.bins.count,
                size.width,
                size.height,
                100.0 * h50 / b50
            );
            Ok(())
        }
        BenchCommand::Render { size, runs } => {
            let (width, height) = (size.width, size.height);
            let layout = DockLayout::example();
            let scene = build(&layout);
            let camera = clip_camera(width, height);
            let latency = Latency::of(
                (0..runs)
                    .map(|_| {
                        let start = Instant::now();
                        render(&scene, &camera, &RenderOptions::default());
                        start.elapsed()
                    })
                    .collect(),
            );
            println!("render    example dock scene ({} objects), {width}x{height}, one thread", scene.objects.len());
            println!("cpu       {}", cpu_model());
            println!(
                "latency   median {:.1} ms, p90 {:.1} ms, min {:.1} ms over {runs} renders",
                latency.median, latency.p90, latency.min
            );
            Ok(())
        }
        BenchCommand::Backbone { model, input, threads, runs, warmup, json, profile, by_shape } => {
            let path = match (model, input) {
                (Some(model), _) => model,
                (None, input) => {
                    pull::cached_backbone(&pull::cache_dir(), input.unwrap_or(dinoedge_heads::InputSize::new(224, 224)))
                }
            };
            let started = Instant::now();
            let backbone = Backbone::load(&path, threads).with_context(|| {
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
            let (rows, cols) = meta.input.grid(meta.spec.patch)?;
            let gflops = meta.spec.flops(rows * cols) / 1e9;
            let cpu = cpu_model();
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "runtime": "tract",
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
                        "gflops_per_s": gflops / (median / 1e3),
                        "cpu": cpu,
                    })
                );
            } else {
                println!("backbone  {} ({}), input {}", path.display(), meta.spec.name(), meta.input);
                println!("cpu       {cpu}, {threads} thread(s)");
                println!("load      {:.0} ms (parse, optimise, plan)", ms(load));
                println!("latency   median {median:.1} ms, p90 {p90:.1} ms, min {min:.1} ms over {runs} runs");
                println!("compute   {gflops:.2} GFLOP per frame, {:.1} GFLOP/s at the median", gflops / (median / 1e3));
            }
            if profile {
                let ops = dinoedge_heads::profile::profile(&backbone, &pixels, 5, by_shape)?;
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
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
