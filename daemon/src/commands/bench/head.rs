//! `dinoedge bench head`: a depth head's cost (and a class head's, when given) next to its
//! backbone's, all timed on the same frames (each head includes upsampling to the frame).

use std::time::Instant;

use anyhow::Result;
use dinoedge_backbone::Backbone;
use dinoedge_heads::classes::file as class_file;
use dinoedge_heads::head::file;
use dinoedge_heads::head::upsample::bilinear;

use super::{Latency, cpu_model};
use crate::cli::BenchHeadArgs;

pub fn run(args: BenchHeadArgs) -> Result<()> {
    let BenchHeadArgs { backbone, head, classes, threads, runs, size } = args;
    let backbone = Backbone::load(&backbone, threads)?;
    let head = file::load(&head, Some(backbone.meta()))?.head;
    let classes = classes.map(|path| class_file::load(&path, Some(backbone.meta()))).transpose()?.map(|f| f.head);
    let (height, width) = (size.height as usize, size.width as usize);
    let frame = image::RgbImage::from_fn(size.width, size.height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let (mut backbone_times, mut head_times, mut class_times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let outputs = backbone.embed(&frame)?;
        backbone_times.push(start.elapsed());
        let start = Instant::now();
        let patches = head.patch_depth(&outputs)?;
        let depth = bilinear(patches.view(), height, width);
        head_times.push(start.elapsed());
        std::hint::black_box(depth);
        if let Some(classes) = &classes {
            let start = Instant::now();
            std::hint::black_box(classes.class_map(&outputs, height, width)?);
            class_times.push(start.elapsed());
        }
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
    if !class_times.is_empty() {
        let Latency { median: c50, p90: c90, .. } = Latency::of(class_times);
        println!(
            "classes   median {c50:.1} ms, p90 {c90:.1} ms ({} classes, to {}x{}): {:.0} % of the backbone",
            dinoedge_heads::classes::CLASSES,
            size.width,
            size.height,
            100.0 * c50 / b50
        );
    }
    Ok(())
}
