//! `dinoedge bench head`: a depth head's cost next to its backbone's, both timed on the same
//! frames (the head includes upsampling its patch depth to the frame).

use std::time::Instant;

use anyhow::Result;
use dinoedge_backbone::Backbone;
use dinoedge_heads::head::file;
use dinoedge_heads::head::upsample::bilinear;

use super::{Latency, cpu_model};
use crate::cli::BenchHeadArgs;

pub fn run(args: BenchHeadArgs) -> Result<()> {
    let BenchHeadArgs { backbone, head, threads, runs, size } = args;
    let backbone = Backbone::load(&backbone, threads)?;
    let head = file::load(&head, Some(backbone.meta()))?.head;
    let frame = image::RgbImage::from_fn(size.width, size.height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let (mut backbone_times, mut head_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let outputs = backbone.embed(&frame)?;
        backbone_times.push(start.elapsed());
        let start = Instant::now();
        let patches = head.patch_depth(&outputs)?;
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
        head.layers.count(),
        head.bins.count,
        size.width,
        size.height,
        100.0 * h50 / b50
    );
    Ok(())
}
