//! `dinoedge bench render`: the simulator's render time, the example dock scene on one
//! thread, repeated.

use std::time::Instant;

use anyhow::Result;
use dinoedge_sim::clip::clip_camera;
use dinoedge_sim::dock::{DockLayout, build};
use dinoedge_sim::{RenderOptions, render};

use super::{Latency, cpu_model};
use crate::cli::BenchRenderArgs;

pub fn run(args: BenchRenderArgs) -> Result<()> {
    let BenchRenderArgs { size, runs } = args;
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
