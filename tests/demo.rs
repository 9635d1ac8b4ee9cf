//! `dinoedge demo`, the README's main job, on a fresh cache: it says loudly that the backbone
//! is random, runs the clip through the full pipeline, prints each event and publishes it to
//! the broker given, and writes the annotated result. A second run starts from the cache.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use support::broker::{Broker, Subscriber};
use support::path;

#[test]
fn the_demo_runs_end_to_end_and_publishes_its_alarms() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(&dir.join("broker"), "");
    let sub = Subscriber::start(broker.port, "demo-sub", "dinoedge/demo/events");
    let out = dir.join("out");
    let demo = || {
        let run = Command::new(env!("CARGO_BIN_EXE_dinoedge"))
            .args(["demo", "--scenario", "forklift-cross", "--mqtt", &broker.url(), "--out", path(&out)])
            .env("DINOEDGE_CACHE_DIR", dir.join("cache"))
            .output()
            .unwrap();
        let (stdout, stderr) = (support::stdout(&run), support::stderr(&run));
        assert!(run.status.success(), "{stderr}");
        (stdout, stderr)
    };

    let (stdout, stderr) = demo();
    assert!(stderr.contains("THIS DEMO USES A RANDOM-WEIGHT BACKBONE"), "{stderr}");
    let printed: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("dinoedge/demo/events "))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect();
    assert!(stdout.contains(&format!("{} alarm events", printed.len())), "{stdout}");
    assert!(sub.wait_for(Duration::from_secs(5), |m| m.len() >= printed.len()), "every printed event is published");
    let published: Vec<serde_json::Value> = sub.on("dinoedge/demo/events").iter().map(|m| m.json()).collect();
    assert_eq!(published, printed);

    let csv = std::fs::read_to_string(out.join("distances.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100, "a row per frame of the 10 s clip at 10 fps");
    assert!(csv.lines().nth(64).unwrap().split(',').nth(2).unwrap().parse::<f64>().unwrap() < 1.5, "truth column");
    assert!(std::fs::read_to_string(out.join("distance.svg")).unwrap().starts_with("<svg"));
    let frame = image::open(out.join("frames/000050.png")).unwrap();
    assert_eq!((frame.width(), frame.height()), (1280, 480), "the frame beside its depth");

    let cached = modified(&dir.join("cache"));
    let (_, stderr) = demo();
    assert!(stderr.contains("depth head: cached"), "{stderr}");
    assert_eq!(modified(&dir.join("cache")), cached, "the second run reuses the cache, writing nothing there");
}

/// Every file under `dir`, with its modification time.
fn modified(dir: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            files.extend(modified(&entry.path()));
        } else {
            files.insert(entry.path(), entry.metadata().unwrap().modified().unwrap());
        }
    }
    files
}

/// With the recommended published depth model in the model cache (here a full-size random
/// one, imported small to keep the test quick), the demo runs it, with no head to train.
#[test]
fn the_demo_uses_the_published_depth_model_when_it_is_in_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let name = dinoedge_heads::published::catalog::RECOMMENDED;
    let model = support::depth_model(dir, name, "7");
    std::fs::rename(&model, cache.join(format!("{name}_56x56.onnx"))).unwrap();
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(["demo", "--scenario", "forklift-cross", "--mqtt", "mqtt://127.0.0.1:9", "--out", path(&out)])
        .env("DINOEDGE_CACHE_DIR", &cache)
        .output()
        .unwrap();
    let stderr = support::stderr(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("depth model: {name} from the model cache")), "{stderr}");
    assert!(!stderr.contains("training a lin.1 depth head"), "{stderr}");
    let config = std::fs::read_to_string(out.join("dinoedge.toml")).unwrap();
    assert!(config.contains(&format!("{name}_56x56.onnx")) && !config.contains("head = "), "{config}");
    let csv = std::fs::read_to_string(out.join("distances.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100, "a row per frame of the 10 s clip at 10 fps");
}
