//! `dinoedge demo`: a simulated dock clip through the real pipeline to MQTT alarms, on a fresh
//! machine with no camera, no broker and no internet.
//!
//! 1. The model: the recommended published depth model (Depth Anything V2 metric indoor, its
//!    own depth head) if `dinoedge model pull --depth` put it in the model cache, at any input
//!    size; else the official DINOv2 ViT-S/14 if `dinoedge model pull` did; else a full-size
//!    random-weight backbone (made once, cached), with a banner.
//! 2. For a bare backbone, a depth head trained once on simulated frames (cached by the
//!    backbone's sha256).
//! 3. The scenario's clip, rendered once (cached), with its true calibration.
//! 4. `dinoedge run` on a demo config (the clip replayed as a 10 fps recording, every frame
//!    processed however fast the CPU is; a plane_distance rule on the dock face and a
//!    min_distance rule on the walkway), printing each event as it is queued and publishing
//!    it when a broker answers at `--mqtt`.
//! 5. Into the output folder: annotated frames (the frame with the zones | the metric depth),
//!    `distances.csv` and `distance.svg` (measured vs true distance over time), the config.
//!
//! Each step is done by the same code as the CLI command of that step.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Parser;
use dinoedge_backbone::{InputSize, files, pull};
use dinoedge_config::Zone;
use dinoedge_sim::clip::Scenario;
use serde_json::Value;

use super::progress;
use crate::cli::Cli;
use crate::lock::lock;
use crate::pipeline::{Processed, snapshot};
use crate::runtime::{Hooks, run};
use crate::source::Frame;

const FPS: f64 = 10.0;
const TRAIN_FRAMES: usize = 200;
/// The demo's rules, as in its config: (name, zone).
const FORKS_ZONE: &[[f64; 2]] = &[[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]];
const WALKWAY_ZONE: &[[f64; 2]] = &[[0.0, 0.7], [0.25, 0.7], [0.25, 1.0], [0.0, 1.0]];

pub fn demo(scenario: Scenario, mqtt: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let out = &out.canonicalize().with_context(|| format!("resolving {}", out.display()))?;
    let cache = pull::cache_dir();
    let demo_cache = cache.join("demo");
    std::fs::create_dir_all(&demo_cache).with_context(|| format!("creating {}", demo_cache.display()))?;

    let (backbone, head) = match published_model(&cache) {
        Some(model) => (model, None),
        None => {
            let backbone = backbone(&cache, &demo_cache)?;
            let head = depth_head(&demo_cache, &backbone)?;
            (backbone, Some(head))
        }
    };
    let clip = clip(&demo_cache, scenario)?;
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(clip.join("truth.json"))?)?;
    let frames = truth["frames"].as_array().map_or(0, Vec::len);
    let config = write_config(out, &demo_config(&backbone, head.as_deref(), &clip, mqtt, &out.join("state")))?;
    let rows = run_pipeline(&config, frames, out)?;
    write_results(out, &truth, &rows)?;

    let events = count_events(&out.join("state/outbox/events.jsonl"));
    println!("\n{} frames of {} through the pipeline; {events} alarm events (see above).", rows.len(), scenario.name());
    println!("results: {}", out.display());
    println!("  frames/NNNNNN.png   the frame with the zones | metric depth (0.5–20 m, red = near)");
    println!("  distance.svg        measured vs true forklift-to-dock-face distance over time");
    println!("  distances.csv       the same numbers; dinoedge.toml, the config the demo ran");
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

/// Step 1, else: the official backbone from the model cache, else a random-weight one (made once).
fn backbone(cache: &Path, demo_cache: &Path) -> Result<PathBuf> {
    let input: InputSize = "224x224".parse().map_err(anyhow::Error::msg)?;
    let official = pull::cached_backbone(cache, input);
    if official.is_file() {
        eprintln!("backbone: the official DINOv2 ViT-S/14 from the model cache ({})", official.display());
        return Ok(official);
    }
    random_backbone_banner();
    let weights = demo_cache.join("vits14-random-seed7.safetensors");
    let onnx = demo_cache.join("vits14-random-224.onnx");
    if !onnx.is_file() {
        step(&["model", "init", "--random", "--seed", "7", "--out", s(&weights)])?;
        step(&["model", "import", "--weights", s(&weights), "--out", s(&onnx), "--input", "224x224"])?;
    }
    Ok(onnx)
}

/// Step 2: a lin.1 depth head for `backbone`, trained once on simulated frames (cached by
/// the backbone's sha256).
fn depth_head(demo_cache: &Path, backbone: &Path) -> Result<PathBuf> {
    let sha = files::sha256_file(backbone)?;
    let head = demo_cache.join(format!("head-lin1-{}.safetensors", &sha[..12]));
    if head.is_file() {
        eprintln!("depth head: cached ({})", head.display());
        return Ok(head);
    }
    let train = demo_cache.join("train");
    if !train.join("rgb").is_dir() {
        eprintln!("rendering {TRAIN_FRAMES} simulated training frames");
        let n = TRAIN_FRAMES.to_string();
        step(&["sim", "dataset", "--n", &n, "--seed", "1", "--out", s(&train), "--width", "320", "--height", "240"])?;
    }
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

/// Step 3: the scenario's clip with its true calibration, rendered once.
fn clip(demo_cache: &Path, scenario: Scenario) -> Result<PathBuf> {
    let clip = demo_cache.join(format!("clip-{}", scenario.name()));
    if !clip.join("truth.json").is_file() {
        eprintln!("rendering the {} clip", scenario.name());
        step(&["sim", "clip", "--scenario", scenario.name(), "--fps", &FPS.to_string(), "--out", s(&clip)])?;
    }
    Ok(clip)
}

/// The output folder made ready (the last run's frames and state gone) and the config in it.
fn write_config(out: &Path, text: &str) -> Result<PathBuf> {
    for sub in ["frames", "state"] {
        let dir = out.join(sub);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(out.join("frames")).with_context(|| format!("creating {}", out.display()))?;
    let config = out.join("dinoedge.toml");
    std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
    Ok(config)
}

/// Step 4: the daemon on the demo config, printing each event as it is queued; every
/// processed frame goes to the annotated-frame writer. Returns each frame's distances.
fn run_pipeline(config: &Path, frames: usize, out: &Path) -> Result<Vec<Distances>> {
    let progress = progress::bar(frames, "pipeline", "{pos}/{len} frames {msg}");
    let (rows_tx, rows_rx) = mpsc::channel::<Row>();
    let writer = annotated_writer(out.join("frames"), rows_rx);
    let echo_bar = progress.clone();
    let tx = Mutex::new(rows_tx);
    let bar = progress.clone();
    let hooks = Hooks {
        echo: Some(Box::new(move |topic, payload| echo_bar.suspend(|| println!("{topic} {payload}")))),
        stop_after: None,
        recorder: Some(Arc::new(move |p: &Processed| {
            bar.inc(1);
            let row = Row {
                frame: p.frame.clone(),
                depth: p.depth.clone(),
                distances: p.distances.iter().map(|(_, d)| *d).collect(),
            };
            let _ = lock(&tx).send(row);
        })),
    };
    run(config, hooks)?;
    progress.finish_and_clear();
    writer.join().map_err(|_| anyhow::anyhow!("the frame writer panicked"))?
}

fn s(p: &Path) -> &str {
    p.to_str().expect("demo paths are UTF-8")
}

/// Runs one dinoedge subcommand, as if typed.
fn step(args: &[&str]) -> Result<()> {
    let cli = Cli::try_parse_from(std::iter::once("dinoedge").chain(args.iter().copied()))
        .context("the demo built a bad command line")?;
    super::run(cli)
}

fn random_backbone_banner() {
    let line = "=".repeat(88);
    eprintln!("{line}");
    eprintln!("  NO OFFICIAL DINOv2 WEIGHTS IN THE MODEL CACHE: THIS DEMO USES A RANDOM-WEIGHT BACKBONE.");
    eprintln!("  Its distances mean nothing outside these simulated scenes; alarms below are not");
    eprintln!("  a measure of dinoedge's accuracy. Get the real model: `dinoedge model pull`.");
    eprintln!("{line}");
}

fn demo_config(backbone: &Path, head: Option<&Path>, clip: &Path, mqtt: &str, state: &Path) -> String {
    let zone = |z: &[[f64; 2]]| format!("{z:?}");
    format!(
        r#"# Written by `dinoedge demo`: the simulated dock camera through the real pipeline.
device_id = "demo"
state_dir = "{state}"

[model]
kind = "dinov2"
backbone = "{backbone}"
{head}

[pipeline]
stats_interval = 5

[mqtt]
url = "{mqtt}"

[[camera]]
name = "dock1"
calibration = "{clip}/calibration.toml"

[camera.source]
kind = "images"
path = "{clip}/rgb"
fps = {FPS}
realtime = false

[[rule]]
name = "forks-near-dock"
camera = "dock1"
kind = "plane_distance"
plane = "dock_face"
zone = {forks}
percentile = 1
margin_m = 0.3
alarm_below = 1.5
clear_above = 1.8
for_frames = 3
severity = "critical"

[[rule]]
name = "walkway-close"
camera = "dock1"
kind = "min_distance"
zone = {walkway}
alarm_below = 2.0
clear_above = 2.4
for_frames = 3
"#,
        state = state.display(),
        backbone = backbone.display(),
        head = head.map_or(String::new(), |h| format!("head = \"{}\"", h.display())),
        clip = clip.display(),
        forks = zone(FORKS_ZONE),
        walkway = zone(WALKWAY_ZONE),
    )
}

/// A frame's number and its rules' distances (forks-near-dock, walkway-close).
type Distances = (u64, Vec<Option<f64>>);

/// One processed frame, for the annotated output.
struct Row {
    frame: Frame,
    depth: ndarray::Array2<f32>,
    /// forks-near-dock, walkway-close
    distances: Vec<Option<f64>>,
}

/// The frame with the zones drawn, beside its metric depth; written off the inference thread.
fn annotated_writer(dir: PathBuf, rows: mpsc::Receiver<Row>) -> std::thread::JoinHandle<Result<Vec<Distances>>> {
    std::thread::spawn(move || {
        let zones: Vec<Zone> =
            [FORKS_ZONE, WALKWAY_ZONE].iter().map(|z| Zone::try_from(z.to_vec()).expect("valid demo zones")).collect();
        let mut kept = Vec::new();
        for row in rows {
            let mut left = row.frame.image.clone();
            for zone in &zones {
                snapshot::draw_zone(&mut left, zone, snapshot::ZONE_COLOUR);
            }
            let both = snapshot::beside_depth(&left, &row.depth);
            let file = dir.join(format!("{:06}.png", row.frame.seq));
            both.save(&file).with_context(|| format!("writing {}", file.display()))?;
            kept.push((row.frame.seq, row.distances));
        }
        Ok(kept)
    })
}

fn write_results(out: &Path, truth: &Value, rows: &[Distances]) -> Result<()> {
    let fps = truth["fps"].as_f64().unwrap_or(FPS);
    let true_distance = |seq: u64| truth["frames"][seq as usize]["forklift_to_dock_face_m"].as_f64();
    let mut csv = String::from("frame,t_s,true_forklift_to_dock_face_m,forks_near_dock_m,walkway_close_m\n");
    let cell = |d: Option<f64>| d.map_or_else(String::new, |d| format!("{d:.3}"));
    for (seq, distances) in rows {
        csv += &format!(
            "{seq},{:.2},{},{},{}\n",
            *seq as f64 / fps,
            cell(true_distance(*seq)),
            cell(distances[0]),
            cell(distances.get(1).copied().flatten())
        );
    }
    std::fs::write(out.join("distances.csv"), csv)?;
    let measured: Vec<(f64, f64)> = rows.iter().filter_map(|(seq, d)| d[0].map(|d| (*seq as f64 / fps, d))).collect();
    let truth_line: Vec<(f64, f64)> =
        rows.iter().filter_map(|(seq, _)| true_distance(*seq).map(|d| (*seq as f64 / fps, d))).collect();
    let mut svg = std::fs::File::create(out.join("distance.svg"))?;
    svg.write_all(plot(&truth_line, &measured, rows.len() as f64 / fps).as_bytes())?;
    Ok(())
}

/// An SVG line plot of distance (m) against time (s): truth, measurement, the thresholds.
fn plot(truth: &[(f64, f64)], measured: &[(f64, f64)], seconds: f64) -> String {
    let (w, h, left, bottom, top, right) = (800.0, 420.0, 60.0, 50.0, 40.0, 20.0);
    let y_max = truth.iter().chain(measured).map(|p| p.1).fold(4.0f64, f64::max).min(20.0).ceil();
    let x = |t: f64| left + t / seconds.max(1e-9) * (w - left - right);
    let y = |d: f64| h - bottom - d.min(y_max) / y_max * (h - bottom - top);
    let line = |pts: &[(f64, f64)], colour: &str, dash: &str| {
        let points: Vec<String> = pts.iter().map(|(t, d)| format!("{:.1},{:.1}", x(*t), y(*d))).collect();
        format!(r#"<polyline fill="none" stroke="{colour}" stroke-width="2" {dash} points="{}"/>"#, points.join(" "))
    };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    svg += &format!(r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    svg += r#"<text x="60" y="24" font-size="15">Forklift to dock face: true vs measured (plane_distance rule)</text>"#;
    for i in 0..=(y_max as usize) {
        let d = i as f64;
        let (x2, yd, xt) = (w - right, y(d), left - 6.0);
        svg += &format!(
            r##"<line x1="{left}" x2="{x2}" y1="{yd:.1}" y2="{yd:.1}" stroke="#ddd"/><text x="{xt}" y="{:.1}" text-anchor="end">{d} m</text>"##,
            yd + 4.0
        );
    }
    let step = if seconds > 20.0 { 5.0 } else { 1.0 };
    let mut t = 0.0;
    while t <= seconds + 1e-9 {
        svg += &format!(r#"<text x="{:.1}" y="{}" text-anchor="middle">{t} s</text>"#, x(t), h - bottom + 18.0);
        t += step;
    }
    for (d, label) in [(1.5, "alarm below 1.5 m"), (1.8, "clear above 1.8 m")] {
        let (x2, yd) = (w - right, y(d));
        svg += &format!(
            r##"<line x1="{left}" x2="{x2}" y1="{yd:.1}" y2="{yd:.1}" stroke="#c00" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" fill="#c00" text-anchor="end">{label}</text>"##,
            x2 - 4.0,
            yd - 4.0
        );
    }
    svg += &line(truth, "#222", "");
    svg += &line(measured, "#1f77b4", r#"stroke-dasharray="6 3""#);
    svg += &format!(
        r##"<text x="{left}" y="{}" fill="#222">— true (simulator)</text><text x="{}" y="{}" fill="#1f77b4">- - measured (depth model)</text>"##,
        h - 12.0,
        left + 160.0,
        h - 12.0
    );
    svg + "</svg>\n"
}

fn count_events(outbox: &Path) -> usize {
    std::fs::read_to_string(outbox).map_or(0, |log| log.lines().filter(|l| l.starts_with(r#"{"add""#)).count())
}
