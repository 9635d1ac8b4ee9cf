//! `dinoedge demo`: a simulated dock clip through the real pipeline to MQTT alarms, on a fresh
//! machine with no camera, no broker and no internet — twice, so a newcomer sees what the
//! rules do given right inputs and what the model makes of them.
//!
//! 1. The model: the recommended published depth model (Depth Anything V2 metric indoor, its
//!    own depth head) if `dinoedge model pull --depth` put it in the model cache, at any input
//!    size; else the official DINOv2 ViT-S/14 if `dinoedge model pull` did; else a full-size
//!    random-weight backbone (made once, cached), with a banner.
//! 2. Heads trained once on simulated frames (cached by the backbone's sha256): a depth head
//!    for a bare backbone, and a class head for every model.
//! 3. The scenario's clip, rendered once (cached), with its true calibration.
//! 4. `dinoedge run` on the demo's config ([`config`]: the clip replayed as a 10 fps
//!    recording, every frame processed however fast the CPU is; a forklift-only
//!    plane_distance rule on the dock face and a person-to-forklift object_distance rule),
//!    twice: on the simulator's exact depth and classes (`sim-truth`), then on the model.
//!    Each event is printed as it is queued and published when a broker answers at `--mqtt`
//!    (devices `demo-exact` and `demo-model`).
//! 5. Into the output folder: each run's annotated frames (the frame with the zones | the
//!    metric depth | the class map), its config and state; `distances.csv` and
//!    `distance.svg` ([`results`]: truth, exact-input and model measurement of each rule over
//!    time), and the error of each run printed.
//!
//! Each step is done by the same code as the CLI command of that step.

mod config;
mod plot;
mod results;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Parser;
use dinoedge_backbone::{InputSize, files, pull};
use dinoedge_config::{ObjectClass, Zone};
use dinoedge_sim::clip::{FrameTruth, Scenario};
use ndarray::Array2;

use self::config::{FPS, ModelFiles, Pass, RULES};
use self::results::PassRun;
use super::progress;
use crate::cli::Cli;
use crate::lock::lock;
use crate::mqtt::wire::{Change, Event};
use crate::pipeline::{Processed, snapshot};
use crate::runtime::{Hooks, run};
use crate::source::Frame;

const TRAIN_FRAMES: usize = 200;

/// The part of a clip's `truth.json` the demo compares with.
#[derive(serde::Deserialize)]
struct ClipTruth {
    fps: f64,
    frames: Vec<FrameTruth>,
}

pub fn demo(scenario: Scenario, mqtt: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let out = &out.canonicalize().with_context(|| format!("resolving {}", out.display()))?;
    let cache = pull::cache_dir();
    let demo_cache = cache.join("demo");
    std::fs::create_dir_all(&demo_cache).with_context(|| format!("creating {}", demo_cache.display()))?;

    let (model, random) = match published_model(&cache) {
        Some(model) => (ModelFiles { classes: class_head(&demo_cache, &model)?, backbone: model, head: None }, false),
        None => {
            let (backbone, random) = backbone(&cache, &demo_cache)?;
            let head = depth_head(&demo_cache, &backbone)?;
            (ModelFiles { classes: class_head(&demo_cache, &backbone)?, backbone, head: Some(head) }, random)
        }
    };
    let clip = clip(&demo_cache, scenario)?;
    let truth_file = clip.join("truth.json");
    let truth: ClipTruth = std::fs::read_to_string(&truth_file)
        .map_err(anyhow::Error::from)
        .and_then(|text| Ok(serde_json::from_str(&text)?))
        .with_context(|| format!("reading {}", truth_file.display()))?;

    let mut runs = Vec::new();
    for (i, pass) in Pass::BOTH.into_iter().enumerate() {
        eprintln!(
            "run {} of 2: {}",
            i + 1,
            match pass {
                Pass::Exact => "the simulator's exact depth and classes (what the rules do given right inputs)",
                Pass::Model if random => "the model (RANDOM-WEIGHT BACKBONE: its distances and classes mean nothing)",
                Pass::Model => "the model",
            }
        );
        let dir = fresh_folder(&out.join(pass.name()))?;
        let text = config::text(pass, &model, &clip, mqtt, &dir.join("state"));
        let path = dir.join("dinoedge.toml");
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        runs.push(run_pipeline(pass, &path, truth.frames.len(), &dir.join("frames"))?);
    }
    let summary = results::write(out, &truth.frames, truth.fps, &runs)?;

    println!("\n{} frames of {} through the pipeline, twice.", truth.frames.len(), scenario.name());
    for run in &runs {
        println!("{}: {} alarm events (see above)", run.pass.name(), run.events);
    }
    print!("{summary}");
    println!("\nresults: {}", out.display());
    println!("  distance.svg        each rule's distance over time: truth, exact inputs, model");
    println!("  distances.csv       the same numbers");
    println!("  exact/, model/      each run's config, state and frames/NNNNNN.png:");
    println!("                      the frame with the zones | metric depth (0.5–20 m, red = near) | classes");
    Ok(())
}

/// Step 1, first choice: the recommended published depth model, imported by `model pull
/// --depth` into the cache at some input size (the smallest, when several).
fn published_model(cache: &Path) -> Option<PathBuf> {
    let name = dinoedge_heads::published::catalog::RECOMMENDED;
    let prefix = format!("{name}_");
    let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|path| {
            let stem = path.file_name()?.to_str()?.strip_prefix(&prefix)?.strip_suffix(".onnx")?.to_string();
            let size: InputSize = stem.parse().ok()?;
            Some((size.height * size.width, path))
        })
        .collect();
    found.sort();
    let (_, model) = found.into_iter().next()?;
    eprintln!("depth model: {name} from the model cache ({})", model.display());
    Some(model)
}

/// Step 1, else: the official backbone from the model cache, else a random-weight one (made
/// once); and whether it is the random one.
fn backbone(cache: &Path, demo_cache: &Path) -> Result<(PathBuf, bool)> {
    let input: InputSize = "224x224".parse().map_err(anyhow::Error::msg)?;
    let official = pull::cached_backbone(cache, input);
    if official.is_file() {
        eprintln!("backbone: the official DINOv2 ViT-S/14 from the model cache ({})", official.display());
        return Ok((official, false));
    }
    random_backbone_banner();
    let weights = demo_cache.join("vits14-random-seed7.safetensors");
    let onnx = demo_cache.join("vits14-random-224.onnx");
    // Made again when missing, or made by a dinoedge whose backbone files this one refuses.
    if dinoedge_backbone::runtime::read_meta(&onnx).is_err() {
        step(&["model", "init", "--random", "--seed", "7", "--out", s(&weights)])?;
        step(&["model", "import", "--weights", s(&weights), "--out", s(&onnx), "--input", "224x224"])?;
    }
    Ok((onnx, true))
}

/// Step 2: a lin.1 depth head for `backbone`, trained once on simulated frames (cached by
/// the backbone's sha256).
fn depth_head(demo_cache: &Path, backbone: &Path) -> Result<PathBuf> {
    let head = demo_cache.join(format!("head-lin1-{}.safetensors", short_sha(backbone)?));
    if head.is_file() {
        eprintln!("depth head: cached ({})", head.display());
        return Ok(head);
    }
    let train = training_frames(demo_cache)?;
    eprintln!("training a lin.1 depth head for this backbone");
    let features = demo_cache.join("features");
    step(&[
        "heads",
        "train",
        "--data",
        s(&train),
        "--backbone",
        s(backbone),
        "--out",
        s(&head),
        "--cache-dir",
        s(&features),
        "--epochs",
        "30",
    ])?;
    Ok(head)
}

/// Step 2, for every model: a class head for `backbone`'s features, trained once on the
/// simulated frames' class labels (cached by the backbone's sha256).
fn class_head(demo_cache: &Path, backbone: &Path) -> Result<PathBuf> {
    let head = demo_cache.join(format!("classes-lin1-{}.safetensors", short_sha(backbone)?));
    if head.is_file() {
        eprintln!("class head: cached ({})", head.display());
        return Ok(head);
    }
    let train = training_frames(demo_cache)?;
    eprintln!("training a class head for this backbone");
    let features = demo_cache.join("features");
    let args = ["--data", s(&train), "--backbone", s(backbone), "--out", s(&head), "--cache-dir", s(&features)];
    step(&[&["heads", "train-classes"][..], &args].concat())?;
    Ok(head)
}

fn short_sha(file: &Path) -> Result<String> {
    Ok(files::sha256_file(file)?[..12].to_string())
}

/// The simulated training frames, with depth and class labels, rendered once.
fn training_frames(demo_cache: &Path) -> Result<PathBuf> {
    let train = demo_cache.join("train");
    if !train.join("labels").is_dir() {
        eprintln!("rendering {TRAIN_FRAMES} simulated training frames");
        let n = TRAIN_FRAMES.to_string();
        step(&["sim", "dataset", "--n", &n, "--seed", "1", "--out", s(&train), "--width", "320", "--height", "240"])?;
    }
    Ok(train)
}

/// Step 3: the scenario's clip with its true calibration, rendered once.
fn clip(demo_cache: &Path, scenario: Scenario) -> Result<PathBuf> {
    let clip = demo_cache.join(format!("clip-{}", scenario.name()));
    if !clip.join("truth.json").is_file() {
        eprintln!("rendering the {} clip", scenario.name());
        step(&["sim", "clip", "--scenario", scenario.name(), "--fps", &FPS.to_string(), "--out", s(&clip)])?;
    }
    Ok(clip)
}

/// `dir`, emptied of an earlier run's frames and state (whose outbox would otherwise publish
/// its stale events), with an empty `frames/`.
fn fresh_folder(dir: &Path) -> Result<PathBuf> {
    for sub in ["frames", "state"] {
        let old = dir.join(sub);
        if old.exists() {
            std::fs::remove_dir_all(&old).with_context(|| format!("clearing {}", old.display()))?;
        }
    }
    std::fs::create_dir_all(dir.join("frames")).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// Step 4: the daemon on one run's config, printing each event as it is queued; every
/// processed frame goes to the annotated-frame writer.
fn run_pipeline(pass: Pass, config: &Path, frames: usize, frames_dir: &Path) -> Result<PassRun> {
    let progress = progress::bar(frames, pass.name(), "{pos}/{len} frames {msg}");
    let (rows_tx, rows_rx) = mpsc::channel::<Row>();
    let writer = annotated_writer(frames_dir.to_path_buf(), rows_rx);
    let starts = Arc::new(Mutex::new(vec![Vec::new(); RULES.len()]));
    let events = Arc::new(Mutex::new(0usize));
    let (echo_bar, echo_starts, echo_events) = (progress.clone(), starts.clone(), events.clone());
    let tx = Mutex::new(rows_tx);
    let bar = progress.clone();
    let hooks = Hooks {
        echo: Some(Box::new(move |topic, payload| {
            echo_bar.suspend(|| println!("{topic} {payload}"));
            let Ok(event) = serde_json::from_value::<Event>(payload.clone()) else { return };
            *lock(&echo_events) += 1;
            if let (Change::Start { .. }, Some(frame)) = (event.change, event.frame)
                && let Some(rule) = RULES.iter().position(|r| r.name == event.rule.as_str())
            {
                lock(&echo_starts)[rule].push(frame);
            }
        })),
        stop_after: None,
        recorder: Some(Arc::new(move |p: &Processed| {
            bar.inc(1);
            let row = Row {
                frame: p.frame.clone(),
                depth: p.depth.clone(),
                classes: p.classes.cloned(),
                distances: p.distances.iter().map(|(_, d)| *d).collect(),
            };
            let _ = lock(&tx).send(row);
        })),
    };
    run(config, hooks)?;
    progress.finish_and_clear();
    let distances = writer.join().map_err(|_| anyhow::anyhow!("the frame writer panicked"))??;
    let starts = std::mem::take(&mut *lock(&starts));
    let events = *lock(&events);
    Ok(PassRun { pass, distances, starts, events })
}

/// One processed frame, for the annotated output.
struct Row {
    frame: Frame,
    depth: Array2<f32>,
    classes: Option<Array2<ObjectClass>>,
    /// In the order of [`RULES`].
    distances: Vec<Option<f64>>,
}

/// The frame with the zones drawn | its metric depth | its class map; written off the
/// inference thread. Returns each frame's distances.
fn annotated_writer(
    dir: PathBuf,
    rows: mpsc::Receiver<Row>,
) -> std::thread::JoinHandle<Result<BTreeMap<u64, Vec<Option<f64>>>>> {
    std::thread::spawn(move || {
        let zones: Vec<Zone> =
            RULES.iter().map(|r| Zone::try_from(r.zone.to_vec()).expect("valid demo zones")).collect();
        let mut kept = BTreeMap::new();
        for row in rows {
            let mut left = row.frame.image.clone();
            for zone in &zones {
                snapshot::draw_zone(&mut left, zone, snapshot::ZONE_COLOUR);
            }
            let depth = snapshot::depth_colours(&row.depth);
            let classes = row.classes.as_ref().map(|c| snapshot::class_overlay(&row.frame.image, c));
            let panels: Vec<&image::RgbImage> =
                [Some(&left), Some(&depth), classes.as_ref()].into_iter().flatten().collect();
            let file = dir.join(format!("{:06}.png", row.frame.seq));
            snapshot::side_by_side(&panels).save(&file).with_context(|| format!("writing {}", file.display()))?;
            kept.insert(row.frame.seq, row.distances);
        }
        Ok(kept)
    })
}

/// Runs one dinoedge subcommand, as if typed.
fn step(args: &[&str]) -> Result<()> {
    let cli = Cli::try_parse_from(std::iter::once("dinoedge").chain(args.iter().copied()))
        .context("the demo built a bad command line")?;
    super::run(cli)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("demo paths are UTF-8")
}

fn random_backbone_banner() {
    let line = "=".repeat(88);
    eprintln!("{line}");
    eprintln!("  NO OFFICIAL DINOv2 WEIGHTS IN THE MODEL CACHE: THIS DEMO USES A RANDOM-WEIGHT BACKBONE.");
    eprintln!("  Its distances mean nothing outside these simulated scenes; alarms below are not");
    eprintln!("  a measure of dinoedge's accuracy. Get the real model: `dinoedge model pull`.");
    eprintln!("{line}");
}
