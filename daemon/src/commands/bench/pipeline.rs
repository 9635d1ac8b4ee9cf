//! `dinoedge bench pipeline`: the daemon itself (`run` with a generated config) on a simulated
//! clip, with one or more cameras, for a fixed time. It reports frames per second, the
//! capture-to-decision latency and its stages (percentiles over every processed frame), the
//! resident memory after the first minute and at the end, and — timed first, in the same
//! process — the bare model (backbone alone, and backbone + heads) on a frame of the clip.
//! With `--classes` the class head runs beside the depth head and the rules count classes.
//! With `--mqtt URL` (a broker that answers) each rule's state goes out on every frame, and
//! a subscriber in this process measures frame-to-MQTT: capture to the state's arrival.
//! `--gate false` turns the cameras' change gate off; either way the run reports the frames the
//! model ran on and skipped, and the CPU time the process used per minute of the run.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use dinoedge_backbone::{Precision, Settings};
use dinoedge_heads::classes::file as class_file;
use dinoedge_heads::head::DepthModel;

use super::cpu_model;
use crate::cli::BenchPipelineArgs;
use crate::lock::lock;
use crate::pipeline::Processed;
use crate::pipeline::timings::percentiles;
use crate::runtime::{self, Hooks};

/// Per-frame samples, all cameras together.
#[derive(Default)]
struct Samples {
    latency: Vec<Duration>,
    /// Of the frames the model ran on.
    depth: Vec<Duration>,
    rules: Vec<Duration>,
    skipped: usize,
}

pub fn run(o: &BenchPipelineArgs) -> Result<()> {
    let frame_file = o.clip.join("rgb/000000.png");
    let frame = image::open(&frame_file).with_context(|| format!("reading {}", frame_file.display()))?.into_rgb8();
    // The precision the daemon's `auto` picks on this CPU, as the run below uses.
    let settings = Settings { precision: Precision::native(), ..Settings::threads(o.threads) };
    let model = DepthModel::load(&o.backbone, o.head.as_deref(), settings)?;
    let classes =
        o.classes.as_ref().map(|c| class_file::load(c, Some(model.backbone.meta()))).transpose()?.map(|f| f.head);
    let (height, width) = (frame.height() as usize, frame.width() as usize);
    let (mut bare_backbone, mut bare_model) = (Vec::new(), Vec::new());
    for i in 0..23 {
        let start = Instant::now();
        std::hint::black_box(model.backbone.embed(&frame)?);
        let backbone = start.elapsed();
        let start = Instant::now();
        match &classes {
            Some(classes) => {
                std::hint::black_box(model.depth_and(&frame, |outputs| classes.class_map(outputs, height, width))?);
            }
            None => {
                std::hint::black_box(model.depth(&frame)?);
            }
        }
        if i >= 3 {
            bare_backbone.push(backbone);
            bare_model.push(start.elapsed());
        }
    }
    drop(model);

    let dir = tempfile::tempdir().context("a temporary folder")?;
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, config_text(o, dir.path())).context("writing the bench config")?;
    let samples = Arc::new(Mutex::new(Samples::default()));
    let rss_first_minute = Arc::new(Mutex::new(None));
    let (seen, minute, started) = (samples.clone(), rss_first_minute.clone(), Instant::now());
    let arrivals = o.mqtt.as_deref().map(subscribe).transpose()?;
    let hooks = Hooks {
        echo: None,
        recorder: Some(Arc::new(move |p: &Processed| {
            let mut s = lock(&seen);
            s.latency.push(p.frame.captured.elapsed());
            match p.depth_time {
                Some(depth) => s.depth.push(depth),
                None => s.skipped += 1,
            }
            s.rules.push(p.rules_time);
            let mut minute = lock(&minute);
            if minute.is_none() && started.elapsed() >= Duration::from_secs(60) {
                *minute = rss_kib();
            }
        })),
        stop_after: Some(Duration::from_secs(o.seconds)),
    };
    let cpu_before = cpu_seconds();
    runtime::run(&config, hooks)?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(after, before)| after - before);
    let rss_end = rss_kib();

    let s = lock(&samples);
    let pct = |v: &[Duration]| {
        let p = percentiles(v.iter().copied()).context("no frame was processed")?;
        anyhow::Ok((p.p50_ms, p.p95_ms))
    };
    let (l50, l95) = pct(&s.latency)?;
    let (d50, d95) = pct(&s.depth)?;
    let (r50, r95) = pct(&s.rules)?;
    let (b50, _) = pct(&bare_backbone)?;
    let (m50, _) = pct(&bare_model)?;
    println!("cpu          {}, {} matmul threads", cpu_model(), o.threads);
    println!(
        "run          {} camera(s) at {} fps each, {:.0} s, {} frames processed",
        o.cameras,
        o.fps,
        elapsed,
        s.latency.len()
    );
    println!("throughput   {:.2} frames/s in all", s.latency.len() as f64 / elapsed);
    println!(
        "model        ran on {} frames, skipped {} (change gate {})",
        s.depth.len(),
        s.skipped,
        if o.gate { "on" } else { "off" }
    );
    match cpu {
        Some(cpu) => {
            println!("cpu          {:.1} CPU-seconds per minute of the run (user + system)", cpu * 60.0 / elapsed)
        }
        None => println!("cpu          n/a (no /proc/self/stat)"),
    }
    println!("latency      capture to decision: p50 {l50:.1} ms, p95 {l95:.1} ms");
    println!("  depth      p50 {d50:.1} ms, p95 {d95:.1} ms (resize, backbone, head, upsampling, alignment)");
    println!("  rules      p50 {r50:.2} ms, p95 {r95:.2} ms (measuring, alarm logic, queueing)");
    println!(
        "bare model   backbone alone p50 {b50:.1} ms; backbone + {} p50 {m50:.1} ms (same frame, same process, before the run)",
        if classes.is_some() { "depth and class heads" } else { "head" }
    );
    if let Some(arrivals) = arrivals {
        let lags = lock(&arrivals).clone();
        if lags.is_empty() {
            println!(
                "frame→MQTT   no state message arrived (is the broker at {} up?)",
                o.mqtt.as_deref().unwrap_or_default()
            );
        } else {
            let (m50, m95) = pct(&lags)?;
            println!(
                "frame→MQTT   capture to the state message at a subscriber: p50 {m50:.1} ms, p95 {m95:.1} ms ({} messages)",
                lags.len()
            );
        }
    }
    println!(
        "overhead     latency p50 / depth-stage p50 (same run) = {:.3}; latency p50 / bare backbone p50 = {:.2}",
        l50 / d50,
        l50 / b50
    );
    let kib = |v: Option<u64>| v.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!("memory       resident after 1 min {}, at the end {}", kib(*lock(&rss_first_minute)), kib(rss_end));
    Ok(())
}

/// The config of the run, in a temporary folder: every path given is made absolute, since
/// the config's relative paths are read from its own folder.
fn config_text(o: &BenchPipelineArgs, state: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let o = &BenchPipelineArgs {
        clip: absolute(&o.clip),
        backbone: absolute(&o.backbone),
        head: o.head.as_deref().map(absolute),
        classes: o.classes.as_deref().map(absolute),
        mqtt: o.mqtt.clone(),
        ..*o
    };
    // Without a broker, a closed port: events wait in the outbox. With one, a state per frame.
    let mqtt = o
        .mqtt
        .as_deref()
        .map_or("url = \"mqtt://127.0.0.1:9\"".to_string(), |url| format!("url = \"{url}\"\nupdate_interval = 0.001"));
    let head = o.head.as_ref().map_or(String::new(), |h| format!("head = \"{}\"\n", h.display()));
    let classes = o.classes.as_ref().map_or(String::new(), |c| format!("classes = \"{}\"\n", c.display()));
    // With a class head, the demo's rules: the dock rule counts forklift pixels, and the
    // second measures a person's distance to the forklift.
    let (dock, near) = if o.classes.is_some() {
        (
            "objects = [\"forklift\"]\n",
            "kind = \"object_distance\"\nfrom = \"person\"\nto = \"forklift\"\nzone = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n",
        )
    } else {
        ("", "kind = \"min_distance\"\nzone = [[0.0, 0.7], [0.25, 0.7], [0.25, 1.0], [0.0, 1.0]]\n")
    };
    let mut text = format!(
        "device_id = \"bench\"\nstate_dir = \"{}\"\n\n[model]\nkind = \"dinov2\"\nbackbone = \"{}\"\n{head}{classes}\n\
         [pipeline]\nthreads = {}\n\n[mqtt]\n{mqtt}\n",
        state.display(),
        o.backbone.display(),
        o.threads
    );
    for i in 0..o.cameras {
        text += &format!(
            "\n[[camera]]\nname = \"cam{i}\"\ncalibration = \"{clip}/calibration.toml\"\n\n[camera.source]\nkind = \"images\"\n\
             path = \"{clip}/rgb\"\nfps = {fps}\nloop = true\n\n[camera.gate]\nenabled = {gate}\n\n\
             [[rule]]\nname = \"dock\"\ncamera = \"cam{i}\"\nkind = \"plane_distance\"\nplane = \"dock_face\"\n\
             zone = [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]\n{dock}alarm_below = 1.5\nclear_above = 1.8\n\n\
             [[rule]]\nname = \"near\"\ncamera = \"cam{i}\"\n{near}alarm_below = 2.0\nclear_above = 2.4\n",
            clip = o.clip.display(),
            fps = o.fps,
            gate = o.gate,
        );
    }
    text
}

/// Subscribes to every rule state of the bench device at `url`; records for each message the
/// time from the frame's capture (`time` in the payload) to its arrival here.
fn subscribe(url: &str) -> Result<Arc<Mutex<Vec<Duration>>>> {
    let lags = Arc::new(Mutex::new(Vec::new()));
    let seen = lags.clone();
    let states = ("dinoedge/bench/+/+/state", rumqttc::QoS::AtMostOnce);
    super::subscribe(url, "dinoedge-bench-subscriber", states, move |p, arrived| {
        let state: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
        let captured = state["time"].as_str().and_then(|t| humantime::parse_rfc3339(t).ok());
        if let Some(lag) = captured.and_then(|c| arrived.duration_since(c).ok()) {
            lock(&seen).push(lag);
        }
    })?;
    Ok(lags)
}

/// The CPU time this process has used (user + system, every thread), seconds: `/proc/self/stat`
/// counts it in USER_HZ ticks, 100 a second on Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// This process's resident memory (VmRSS), KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
