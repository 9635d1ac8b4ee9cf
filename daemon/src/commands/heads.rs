//! `dinoedge heads train | eval | train-classes`: one entry function each (`train`, `eval`,
//! `train_classes`), over the `heads` crate's training and evaluation.

use std::path::Path;

use anyhow::Context;
use dinoedge_backbone::error::ModelError;
use dinoedge_backbone::onnx::meta::DepthKind;
use dinoedge_backbone::{Backbone, pull};
use dinoedge_config::ObjectClass;
use dinoedge_heads::classes::{self, train::FitOptions};
use dinoedge_heads::data::RgbdFolder;
use dinoedge_heads::head::eval::MedianOf;
use dinoedge_heads::head::features::{FeatureCache, PatchFrame, extract};
use dinoedge_heads::head::file::{self, BackboneId};
use dinoedge_heads::head::train::TrainOptions;
use dinoedge_heads::head::{self, BinSpacing, Bins, DepthHead, DepthModel, HeadLayers};
use dinoedge_heads::metrics::DepthMetrics;
use indicatif::ProgressBar;
use ndarray::{Array2, Axis, concatenate};
use serde_json::json;

use super::progress;
use crate::cli::{
    HeadsCommand, HeadsCommon, HeadsEvalArgs, HeadsTrainArgs, HeadsTrainClassesArgs, LayersArg, SpacingArg,
};
use crate::exit::UsageError;

fn bar(len: usize, what: &str) -> ProgressBar {
    progress::bar(len, what, "{pos}/{len} {msg} eta {eta}")
}

fn features(
    backbone: &Backbone,
    folder: &RgbdFolder,
    layers: HeadLayers,
    common: &HeadsCommon,
) -> anyhow::Result<Vec<PatchFrame>> {
    let cache = FeatureCache { dir: common.cache_dir.clone().unwrap_or_else(|| pull::cache_dir().join("features")) };
    let progress = bar(folder.len(), "features");
    let frames = extract(backbone, folder, layers, Some(&cache), &|done, _| progress.set_position(done as u64))?;
    progress.finish_and_clear();
    Ok(frames)
}

pub fn run(cmd: HeadsCommand) -> anyhow::Result<()> {
    match cmd {
        HeadsCommand::Train(args) => train(args),
        HeadsCommand::Eval(args) => eval(args),
        HeadsCommand::TrainClasses(args) => train_classes(args),
    }
}

/// A labelled frame: its patch features, each patch's class shares, each pixel's label.
struct Labelled {
    frame: PatchFrame,
    shares: Array2<f32>,
    labels: Array2<Option<ObjectClass>>,
}

/// `heads train-classes`: features and labels of the frames, the class head and a pixel
/// baseline fitted on the training patches, both scored on the held-out frames' pixels (their
/// class maps against the labels) and patches, the head written.
fn train_classes(args: HeadsTrainClassesArgs) -> anyhow::Result<()> {
    let HeadsTrainClassesArgs { data, val, backbone, out, steps, lr, weight_decay, json, common } = args;
    let model = Backbone::load(&backbone, common.threads)?;
    let (rows, cols) = model.meta().input.grid(model.meta().spec.patch)?;
    let labelled = |dir: &Path| -> anyhow::Result<Vec<Labelled>> {
        let folder = RgbdFolder::open_labelled(dir, common.depth_scale)?;
        let frames = features(&model, &folder, HeadLayers::One, &common)?;
        frames
            .into_iter()
            .enumerate()
            .map(|(i, frame)| {
                let rgb = &folder.samples[i].rgb;
                let size = image::image_dimensions(rgb).with_context(|| format!("reading {}", rgb.display()))?;
                let labels = folder.labels(i, size)?.ok_or_else(|| ModelError::Data {
                    path: dir.join("labels").join(format!("{}.png", frame.name)),
                    reason: format!("missing: frame {} has no labels", rgb.display()),
                })?;
                Ok(Labelled { shares: classes::targets::patch_shares(&labels, rows, cols), frame, labels })
            })
            .collect()
    };
    let mut all = Vec::new();
    for dir in &data {
        all.extend(labelled(dir)?);
    }
    let data_names: Vec<String> = data.iter().map(|d| d.display().to_string()).collect();
    let (train, held) = match &val {
        Some(dir) => (all, labelled(dir)?),
        None => hold_out(all).with_context(|| {
            format!("{}: 1 frame; give --val or at least 2 frames to hold one out", data_names.join(", "))
        })?,
    };
    let stack = |frames: &[Labelled], of: &dyn Fn(&PatchFrame) -> &Array2<f32>| {
        let views: Vec<_> = frames.iter().map(|l| of(&l.frame).view()).collect();
        let shares: Vec<_> = frames.iter().map(|l| l.shares.view()).collect();
        (concatenate(Axis(0), &views).expect("same width"), concatenate(Axis(0), &shares).expect("same width"))
    };
    let options = FitOptions { steps, learning_rate: lr, weight_decay };
    // Fitted on the training patches; scored on the held-out patches (their majority class)
    // and pixels (the class map upsampled as the daemon does, against every labelled pixel).
    let score = |of: &dyn Fn(&PatchFrame) -> &Array2<f32>| {
        let (x, shares) = stack(&train, of);
        let (linear, report) = classes::train::fit(x.view(), shares.view(), options);
        let (x_val, shares_val) = stack(&held, of);
        let patches = classes::train::scores(&linear.predict(x_val.view()), &classes::targets::majority(&shares_val));
        let (mut predicted, mut truth) = (Vec::new(), Vec::new());
        for l in &held {
            let (h, w) = l.labels.dim();
            predicted.extend(classes::class_map(linear.logits(of(&l.frame).view()).view(), rows, cols, h, w));
            truth.extend(l.labels.iter().copied());
        }
        let pixels = classes::train::scores(&predicted, &truth);
        (linear, report, pixels, patches)
    };
    let (linear, report, head_scores, head_patches) = score(&|f: &PatchFrame| &f.features);
    let (_, _, pixel_scores, pixel_patches) = score(&|f: &PatchFrame| &f.pixels);
    let info = json!({
        "loss": "cross-entropy against each patch's class shares",
        "train": { "data": data_names, "frames": train.len(), "patches": report.patches },
        "val": { "data": val.as_ref().map(|v| v.display().to_string()), "frames": held.len() },
        "options": { "steps": steps, "lr": lr, "weight_decay": weight_decay },
        "fit": report,
        "val_scores": head_scores,
        "val_scores_pixel_baseline": pixel_scores,
        "val_patch_scores": { "head": head_patches, "pixel_baseline": pixel_patches },
    });
    classes::file::save(&out, &linear.head(HeadLayers::One), &BackboneId::of(model.meta()), &info)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!(
        "wrote {} (lin.1): loss {:.4} → {:.4} on {} patches",
        out.display(),
        report.initial_loss,
        report.final_loss,
        report.patches
    );
    println!("held-out pixels ({} frames), class head | pixel baseline:", held.len());
    println!("{:<10} {:>15} {:>15} {:>15} {:>9}", "class", "IoU", "precision", "recall", "pixels");
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}", 100.0 * v));
    for (h, p) in head_scores.iter().zip(&pixel_scores) {
        let pair = |a: Option<f64>, b: Option<f64>| format!("{} | {}", pct(a), pct(b));
        println!(
            "{:<10} {:>15} {:>15} {:>15} {:>9}",
            h.class.as_str(),
            pair(h.iou, p.iou),
            pair(h.precision, p.precision),
            pair(h.recall, p.recall),
            h.support
        );
    }
    Ok(())
}

/// `heads train`: features of the training and validation frames, the head fitted on them,
/// the head file written with what it was trained on.
fn train(args: HeadsTrainArgs) -> anyhow::Result<()> {
    let HeadsTrainArgs {
        data,
        val,
        backbone,
        layers,
        out,
        bins,
        min_depth,
        max_depth,
        spacing,
        epochs,
        batch,
        lr,
        weight_decay,
        seed,
        common,
    } = args;
    let spacing = match spacing {
        SpacingArg::Uniform => BinSpacing::Uniform,
        SpacingArg::Log => BinSpacing::Log,
    };
    let bins = Bins::new(min_depth, max_depth, bins, spacing)
        .map_err(anyhow::Error::msg)
        .context("--bins/--min-depth/--max-depth")?;
    let layers = match layers {
        LayersArg::One => HeadLayers::One,
        LayersArg::Four => HeadLayers::Four,
    };
    let model = Backbone::load(&backbone, common.threads)?;
    let train_folder = RgbdFolder::open(&data, common.depth_scale)?;
    let train_frames = features(&model, &train_folder, layers, &common)?;
    let (train_frames, val_frames) = match &val {
        Some(dir) => (train_frames, features(&model, &RgbdFolder::open(dir, common.depth_scale)?, layers, &common)?),
        None => hold_out(train_frames)
            .with_context(|| format!("{}: 1 frame; give --val or at least 2 frames to hold one out", data.display()))?,
    };
    let options = TrainOptions {
        layers,
        bins,
        max_epochs: epochs,
        batch,
        learning_rate: lr,
        weight_decay,
        patience: 4,
        seed,
        ridge: 1e-3,
    };
    let progress = bar(epochs, "epochs");
    let result = head::train::train(&train_frames, &val_frames, &options, &mut |e| {
        progress.set_position(e.epoch as u64);
        progress.set_message(format!("train {:.4} val {:.4}", e.train_loss, e.val_loss));
    })
    .with_context(|| format!("{}: no patch with valid depth to train on", data.display()))?;
    progress.finish_and_clear();
    let info = json!({
        "loss": "mean squared log depth, ln(d̂) − ln(d)",
        "train": { "data": data.display().to_string(), "frames": train_frames.len(), "patches": result.train_patches },
        "val": { "data": val.as_ref().map(|v| v.display().to_string()), "frames": val_frames.len(), "patches": result.val_patches },
        "options": { "epochs": epochs, "batch": batch, "lr": lr, "weight_decay": weight_decay, "seed": seed, "depth_scale": common.depth_scale },
        "init_val_loss": result.init_val_loss,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "train_median_m": result.train_median_m,
    });
    file::save(&out, &result.head, Some(&result.pixel_baseline), &BackboneId::of(model.meta()), &info)?;
    let best = result.epochs.iter().find(|e| e.epoch == result.best_epoch).map_or(result.init_val_loss, |e| e.val_loss);
    println!(
        "wrote {} (lin.{}, {} bins): validation log-MSE {:.4} after the ridge start, {:.4} at epoch {} of {}",
        out.display(),
        layers.count(),
        bins.count,
        result.init_val_loss,
        best,
        result.best_epoch,
        result.epochs.len()
    );
    Ok(())
}

/// Every 10th frame (the first among them) held out for validation; `None` with fewer than 2.
fn hold_out<T>(frames: Vec<T>) -> Option<(Vec<T>, Vec<T>)> {
    if frames.len() < 2 {
        return None;
    }
    let (held, kept): (Vec<_>, Vec<_>) = frames.into_iter().enumerate().partition(|(i, _)| i % 10 == 0);
    let strip = |v: Vec<(usize, T)>| v.into_iter().map(|(_, f)| f).collect();
    Some((strip(kept), strip(held)))
}

/// `heads eval`: the head's metrics on a folder, beside the median and pixel baselines.
fn eval(args: HeadsEvalArgs) -> anyhow::Result<()> {
    let HeadsEvalArgs { data, backbone, head, json, common } = args;
    let backbone = Backbone::load(&backbone, common.threads)?;
    let (model, median, pixel_baseline, label) = match head {
        // The head file is read once: the head (refused on another backbone), its info and baseline.
        Some(head) => {
            let stored = file::load(&head, Some(backbone.meta()))?;
            let median = stored.info["train_median_m"].as_f64().context("the head file has no train_median_m")?;
            let model = DepthModel { backbone, head: DepthHead::Trained(stored.head) };
            (model, Some(median as f32), stored.pixel_baseline, "head".to_string())
        }
        None => {
            let depth = backbone.meta().depth.clone().ok_or_else(|| {
                UsageError(
                    "--backbone is a bare backbone: give --head, or a published depth model (`dinoedge model \
                     import|pull --depth`)"
                        .into(),
                )
            })?;
            (DepthModel { backbone, head: DepthHead::Imported(depth.kind) }, None, None, depth.model)
        }
    };
    let folder = RgbdFolder::open(&data, common.depth_scale)?;
    let progress = bar(folder.len(), "frames");
    let report = head::eval::evaluate(&model, &folder, median, pixel_baseline.as_ref(), &|done, _| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&data, &report, &label);
    }
    Ok(())
}

/// The report as a Markdown table; `label` names the scored model's row.
fn print_table(data: &Path, report: &head::eval::EvalReport, label: &str) {
    println!("{} frames of {}, {} valid pixels", report.frames, data.display(), report.head.pixels);
    if report.output == DepthKind::Relative {
        println!("relative output: 1/depth = a·output + b fitted per frame on the valid pixels, then scored");
    }
    println!("| model | AbsRel | SqRel | RMSE | RMSE log | log10 | δ<1.25 | δ<1.25² | δ<1.25³ |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, m: &DepthMetrics| {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.abs_rel, m.sq_rel, m.rmse, m.rmse_log, m.log10, m.delta1, m.delta2, m.delta3
        )
    };
    row(label, &report.head);
    let of = match report.median_of {
        MedianOf::TrainingSet => "the training set's",
        MedianOf::Folder => "this folder's",
    };
    row(&format!("median baseline ({of}, {:.2} m)", report.median_m), &report.median_baseline);
    if let Some(pixel) = &report.pixel_baseline {
        row("pixel baseline", pixel);
    }
}
