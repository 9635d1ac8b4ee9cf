//! `dinoedge demo`, the README's main job, on a fresh cache: it says loudly that the backbone
//! is random, runs the clip through the full pipeline twice (the simulator's exact depth and
//! classes, then the model), prints each event and publishes it to the broker given, and
//! writes the annotated result. A second run starts from the cache (its backbone as an older
//! dinoedge left it: made again, the trained heads reused) and publishes only its own events,
//! none left in the outbox by the first.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::broker::{Broker, Subscriber};
use support::path;

#[test]
fn the_demo_runs_end_to_end_twice_and_publishes_its_alarms() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = dir.join("out");
    let demo = |mqtt: &str| {
        let run = Command::new(env!("CARGO_BIN_EXE_dinoedge"))
            .args(["demo", "--scenario", "forklift-cross", "--mqtt", mqtt, "--out", path(&out)])
            .env("DINOEDGE_CACHE_DIR", dir.join("cache"))
            .output()
            .unwrap();
        let (stdout, stderr) = (support::stdout(&run), support::stderr(&run));
        assert!(run.status.success(), "{stderr}");
        (stdout, stderr)
    };
    let printed = |stdout: &str, device: &str| -> Vec<Value> {
        let prefix = format!("dinoedge/{device}/events ");
        stdout.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|json| serde_json::from_str(json).unwrap()).collect()
    };

    // No broker answers: the events stay in each run's outbox.
    let (stdout, stderr) = demo("mqtt://127.0.0.1:9");
    assert!(stderr.contains("THIS DEMO USES A RANDOM-WEIGHT BACKBONE"), "{stderr}");
    let exact = printed(&stdout, "demo-exact");
    assert!(stdout.contains(&format!("exact: {} alarm events", exact.len())), "{stdout}");
    let model = printed(&stdout, "demo-model");
    assert!(stdout.contains(&format!("model: {} alarm events", model.len())), "{stdout}");

    // On exact inputs the forklift-only dock rule alarms within 0.3 s (3 frames at 10 fps) of
    // the truth's crossing of 1.5 m, before or after it (the rule leads by the time an alarm
    // takes to leave the box), and nothing else alarms: the clip has no person.
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cache/demo/clip-forklift-cross/truth.json")).unwrap())
            .unwrap();
    let crossing = truth["first_frame_below_alarm_distance"].as_u64().unwrap();
    let starts: Vec<(&str, u64)> = exact
        .iter()
        .filter(|e| e["type"] == "start")
        .map(|e| (e["rule"].as_str().unwrap(), e["frame"].as_u64().unwrap()))
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0].0, "forks-near-dock");
    assert!((crossing - 3..=crossing + 3).contains(&starts[0].1), "start {starts:?}, truth crosses at {crossing}");
    assert!(stdout.contains(&format!("truth  below 1.5 m from frame {crossing}")), "{stdout}");

    let csv = std::fs::read_to_string(out.join("distances.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100, "a row per frame of the 10 s clip at 10 fps");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(header[2..5], ["forks_near_dock_true_m", "forks_near_dock_exact_m", "forks_near_dock_model_m"]);
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if let (Ok(truth), Ok(exact)) = (cells[2].parse::<f64>(), cells[3].parse::<f64>()) {
            assert!((truth - exact).abs() <= 0.15, "the dock rule on exact inputs reads the tips: {line}");
        }
    }
    let svg = std::fs::read_to_string(out.join("distance.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("forks-near-dock") && svg.contains("person-near-forklift"));
    for pass in ["exact", "model"] {
        let frame = image::open(out.join(pass).join("frames/000050.png")).unwrap();
        assert_eq!((frame.width(), frame.height()), (1920, 480), "the frame beside its depth and classes");
        assert!(
            std::fs::read_to_string(out.join(pass).join("dinoedge.toml")).unwrap().contains("objects = [\"forklift\"]")
        );
    }

    // A broker now, and the cached backbone as an older dinoedge (backbone format 1) left it:
    // the second run makes the backbone again, bit for bit, so the trained heads stay cached,
    // and publishes its own events, none of the first's.
    let broker = Broker::start(&dir.join("broker"), "");
    let sub = Subscriber::start(broker.port, "demo-sub", "dinoedge/+/events");
    let backbone = dir.join("cache/demo/vits14-random-224.onnx");
    let made = dinoedge_backbone::files::sha256_file(&backbone).unwrap();
    set_format_version(&backbone, b'1');
    let mut cached = modified(&dir.join("cache"));
    let (stdout, stderr) = demo(&broker.url());
    assert!(stderr.contains("depth head: cached") && stderr.contains("class head: cached"), "{stderr}");
    assert_eq!(dinoedge_backbone::files::sha256_file(&backbone).unwrap(), made, "the same backbone, made again");
    let mut now = modified(&dir.join("cache"));
    for remade in [backbone.clone(), dir.join("cache/demo/vits14-random-seed7.safetensors")] {
        assert!(now.remove(&remade).unwrap() > cached.remove(&remade).unwrap(), "{} made again", remade.display());
    }
    assert_eq!(now, cached, "the second run reuses the rest of the cache, writing nothing there");
    for device in ["demo-exact", "demo-model"] {
        let printed = printed(&stdout, device);
        let topic = format!("dinoedge/{device}/events");
        let arrived = |m: &[support::broker::Message]| m.iter().filter(|m| m.topic == topic).count() >= printed.len();
        assert!(sub.wait_for(Duration::from_secs(5), arrived), "{device}");
        std::thread::sleep(Duration::from_millis(300));
        let published: Vec<Value> = sub.on(&topic).iter().map(|m| m.json()).collect();
        assert_eq!(published, printed, "{device}: exactly this run's events, in order");
    }
}

/// Rewrites the backbone format version in `onnx`'s metadata (a one-character value, so
/// nothing else in the protobuf moves).
fn set_format_version(onnx: &Path, version: u8) {
    let mut bytes = std::fs::read(onnx).unwrap();
    let key = b"dinoedge.format_version";
    let at = bytes.windows(key.len()).position(|w| w == key).expect("the format version is in the metadata");
    let value = at + key.len();
    assert_eq!(bytes[value..value + 2], [0x12, 1], "a one-byte value field follows the key");
    bytes[value + 2] = version;
    std::fs::write(onnx, bytes).unwrap();
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
    assert!(stderr.contains("training a class head"), "{stderr}");
    let config = std::fs::read_to_string(out.join("model/dinoedge.toml")).unwrap();
    assert!(config.contains(&format!("{name}_56x56.onnx")) && !config.contains("head = "), "{config}");
    let csv = std::fs::read_to_string(out.join("distances.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100, "a row per frame of the 10 s clip at 10 fps");
}
