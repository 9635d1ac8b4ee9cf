//! `dinoedge bench precision`: what half precision changes, on the frames of a clip. The same
//! depth model is loaded in f32 and in f16 ([`Precision`]); on each frame both run, and the run
//! reports how far the f16 features and depth are from the f32 ones (the patch tokens' and the
//! class token's cosine, the depth's mean relative change, "AbsRel" against f32), with each
//! model's time per frame. Its accuracy figures hold on any CPU; its times mean something only
//! on one that computes in half precision (see BENCHMARKS.md).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dinoedge_backbone::{BackboneOutputs, Precision, Settings};
use dinoedge_heads::head::DepthModel;
use dinoedge_heads::metrics::MetricsAccumulator;
use ndarray::Array2;

use super::{Latency, cpu_model};
use crate::cli::BenchPrecisionArgs;

pub fn run(args: &BenchPrecisionArgs) -> Result<()> {
    let frames = frames(&args.clip, args.frames as usize)?;
    let load = |precision| {
        let settings = Settings { precision, ..Settings::threads(args.threads) };
        DepthModel::load(&args.backbone, args.head.as_deref(), settings)
    };
    let (full, half) = (load(Precision::F32)?, load(Precision::F16)?);
    println!(
        "cpu          {}, {} thread(s); half precision native: {}",
        cpu_model(),
        args.threads,
        Precision::native() == Precision::F16
    );
    println!("model        {} ({} frames of {})", args.backbone.display(), frames.len(), args.clip.display());
    println!("frame        patch cosine mean / min   cls cosine   depth AbsRel vs f32   f32 ms   f16 ms");
    let (mut worst_patch, mut worst_cls, mut changes) = (1.0f64, 1.0f64, Vec::new());
    let (mut full_times, mut half_times) = (Vec::new(), Vec::new());
    for file in &frames {
        let image = image::open(file).with_context(|| format!("reading {}", file.display()))?.into_rgb8();
        let (a, ta) = timed(|| full.depth_and(&image, |o| Ok(o.clone())))?;
        let (b, tb) = timed(|| half.depth_and(&image, |o| Ok(o.clone())))?;
        let (mean, min) = patch_cosines(&a.1, &b.1);
        let cls = cosine(a.1.cls.iter(), b.1.cls.iter());
        let rel = abs_rel(&b.0, &a.0);
        println!(
            "{:<12} {mean:>10.6} / {min:<10.6} {cls:>10.6}   {rel:>12.5}       {:>7.1}  {:>7.1}",
            file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            ta.as_secs_f64() * 1e3,
            tb.as_secs_f64() * 1e3,
        );
        worst_patch = worst_patch.min(min);
        worst_cls = worst_cls.min(cls);
        changes.push(rel);
        full_times.push(ta);
        half_times.push(tb);
    }
    let mean_rel = changes.iter().sum::<f64>() / changes.len() as f64;
    let worst_rel = changes.iter().copied().fold(0.0, f64::max);
    let (f, h) = (Latency::of(full_times), Latency::of(half_times));
    println!("worst        patch cosine {worst_patch:.6}, cls cosine {worst_cls:.6}");
    println!("depth        AbsRel of f16 against f32: mean {mean_rel:.5}, worst frame {worst_rel:.5}");
    println!(
        "time         median f32 {:.1} ms, f16 {:.1} ms per frame (backbone + head + upsampling)",
        f.median, h.median
    );
    Ok(())
}

/// `count` frames of the clip's `rgb/`, spread evenly over it.
fn frames(clip: &std::path::Path, count: usize) -> Result<Vec<PathBuf>> {
    let dir = clip.join("rgb");
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    all.sort();
    if all.is_empty() {
        bail!("{}: no PNG frames (make a clip with `dinoedge sim clip`)", dir.display());
    }
    let step = (all.len() as f64 / count as f64).max(1.0);
    Ok((0..count.min(all.len())).map(|i| all[(i as f64 * step) as usize].clone()).collect())
}

fn timed<T>(f: impl FnOnce() -> dinoedge_backbone::error::Result<T>) -> Result<(T, Duration)> {
    let start = Instant::now();
    Ok((f()?, start.elapsed()))
}

/// The mean and the lowest cosine between corresponding patch tokens.
fn patch_cosines(a: &BackboneOutputs, b: &BackboneOutputs) -> (f64, f64) {
    let d = a.patch_tokens.dim().2;
    let (a, b) = (a.patch_tokens.as_slice().unwrap_or(&[]), b.patch_tokens.as_slice().unwrap_or(&[]));
    let cosines: Vec<f64> = a.chunks(d).zip(b.chunks(d)).map(|(x, y)| cosine(x.iter(), y.iter())).collect();
    (cosines.iter().sum::<f64>() / cosines.len() as f64, cosines.iter().copied().fold(1.0, f64::min))
}

fn cosine<'a>(a: impl Iterator<Item = &'a f32>, b: impl Iterator<Item = &'a f32>) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        (ab, aa, bb) = (ab + x * y, aa + x * x, bb + y * y);
    }
    ab / (aa * bb).sqrt()
}

/// AbsRel of `depth` against `reference` (the depth metrics' own, over the pixels where the
/// reference is a valid depth); 0 when none is.
fn abs_rel(depth: &Array2<f32>, reference: &Array2<f32>) -> f64 {
    let mut metrics = MetricsAccumulator::default();
    metrics.add(depth.view(), reference.view());
    metrics.finish().map_or(0.0, |m| m.abs_rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_abs_rel_by_hand() {
        let (a, b) = ([1.0f32, 0.0], [1.0f32, 1.0]);
        assert!((cosine(a.iter(), b.iter()) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        let a = Array2::from_shape_vec((1, 3), vec![2.0f32, 4.0, 0.0]).unwrap();
        let b = Array2::from_shape_vec((1, 3), vec![2.2f32, 3.0, 9.0]).unwrap();
        // (0.1 + 0.25) / 2: the pixel with no reference depth does not count.
        assert!((abs_rel(&b, &a) - 0.175).abs() < 1e-6);
    }
}
