//! Cameras that are not image folders: the `ffmpeg` source on an mp4 the simulator made, run
//! through the real depth model (a random 56x56 backbone and a head trained for it); a stream
//! that stalls is restarted and reported down; SIGTERM stops the daemon cleanly; a file read
//! without `realtime` is replayed: every frame, on the file's own clock.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::broker::{Broker, Subscriber};
use support::{path, run_ok};

fn write_config(dir: &Path, broker: &Broker, model: &str, source: &str, stall: f64) -> std::path::PathBuf {
    let text = format!(
        r#"device_id = "src"
state_dir = "state"

[model]
{model}

[pipeline]
stats_interval = 1

[mqtt]
url = "{url}"

[[camera]]
name = "cam"
stall_timeout = {stall}

[camera.source]
{source}

[[rule]]
name = "near"
camera = "cam"
kind = "min_distance"
zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
alarm_below = 0.5
clear_above = 0.8
"#,
        url = broker.url()
    );
    let file = dir.join("dinoedge.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// The `[model]` lines of a tiny random backbone (56x56) and a head trained for it.
fn tiny_model(dir: &Path) -> String {
    let (backbone, head) = support::tiny_model(dir);
    format!("kind = \"dinov2\"\nbackbone = \"{}\"\nhead = \"{}\"", path(&backbone), path(&head))
}

/// The forklift-approach clip at 160x120 as `dir/clip/clip.mp4` (10 fps), with its truth.json.
fn mp4_clip(dir: &Path) -> std::path::PathBuf {
    let clip = dir.join("clip");
    let args = ["sim", "clip", "--scenario", "forklift-approach", "--out", path(&clip)];
    run_ok(&[&args[..], &["--width", "160", "--height", "120", "--mp4"]].concat(), dir);
    clip
}

#[test]
fn the_ffmpeg_source_feeds_an_mp4_through_the_depth_model_and_sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(&dir.join("broker"), "");
    let clip = mp4_clip(dir);
    let model = tiny_model(dir);
    let source = format!("kind = \"ffmpeg\"\nurl = \"{}\"\nwidth = 112\nheight = 84", path(&clip.join("clip.mp4")));
    let config = write_config(dir, &broker, &model, &source, 10.0);
    let sub = Subscriber::start(broker.port, "src-sub", "dinoedge/src/#");

    let daemon = support::spawn_daemon(&config);
    let processing = sub.wait_for(Duration::from_secs(30), |m| {
        m.iter()
            .filter(|m| m.topic == "dinoedge/src/stats")
            .any(|m| m.json()["cameras"]["cam"]["frames"].as_u64() > Some(5))
    });
    let stopped_at = Instant::now();
    let log = support::terminate(daemon, Duration::from_secs(10));
    assert!(processing, "frames go through the model: {log}");
    assert!(stopped_at.elapsed() < Duration::from_secs(5), "SIGTERM: out within a few seconds");
    assert!(log.contains("SIGTERM: stopping"), "{log}");

    let status: Vec<_> = sub.on("dinoedge/src/cam/status").iter().map(|m| m.json()).collect();
    assert!(status.iter().any(|s| s["state"] == "up" && s["fps"].as_f64() > Some(1.0)), "{status:?}");
    let states = sub.on("dinoedge/src/cam/near/state");
    assert!(states.iter().all(|m| m.json()["distance_m"].is_number()), "the model measures a distance in the zone");
    assert!(
        sub.wait_for(Duration::from_secs(2), |m| m.last().is_some_and(|m| m.payload == b"offline")),
        "offline last"
    );
}

#[test]
fn an_mp4_read_without_realtime_is_replayed_frame_by_frame_on_its_own_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(&dir.join("broker"), "");
    let clip = mp4_clip(dir);
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(clip.join("truth.json")).unwrap()).unwrap();
    let (frames, fps) = (truth["frames"].as_array().unwrap().len() as u64, truth["fps"].as_f64().unwrap());
    let model = tiny_model(dir);
    let source = format!(
        "kind = \"ffmpeg\"\nurl = \"{}\"\nwidth = 112\nheight = 84\nrealtime = false",
        path(&clip.join("clip.mp4"))
    );
    let config = write_config(dir, &broker, &model, &source, 10.0);
    let text = std::fs::read_to_string(&config).unwrap().replace("[mqtt]\n", "[mqtt]\nupdate_interval = 0.5\n");
    std::fs::write(&config, text).unwrap();
    let sub = Subscriber::start(broker.port, "src-sub", "dinoedge/src/#");

    let daemon = support::spawn_daemon(&config);
    // The file's last frame (ffmpeg then ends, and the source is restarted: a second pass).
    let last = frames - 1;
    let through = sub.wait_for(Duration::from_secs(60), |m| {
        m.iter()
            .filter(|m| m.topic == "dinoedge/src/stats")
            .any(|m| m.json()["cameras"]["cam"]["frames"].as_u64() > Some(last))
    });
    let log = support::terminate(daemon, Duration::from_secs(10));
    assert!(through, "the whole file went through the model: {log}");

    let stats: Vec<_> = sub.on("dinoedge/src/stats").iter().map(|m| m.json()["cameras"]["cam"].clone()).collect();
    assert!(stats.iter().all(|s| s["dropped"] == 0), "a replay drops no frame: {stats:?}");
    // A state at least every 0.5 s of the file (5 frames), each stamped with its frame's place
    // in the file: frame n is n/fps after frame 0, however long inference took.
    let states: Vec<(u64, std::time::SystemTime)> = sub
        .on("dinoedge/src/cam/near/state")
        .iter()
        .map(|m| m.json())
        .filter(|s| s["frame"].as_u64().is_some_and(|f| f <= last))
        .map(|s| (s["frame"].as_u64().unwrap(), humantime::parse_rfc3339(s["time"].as_str().unwrap()).unwrap()))
        .collect();
    assert!(states.len() as u64 >= frames / 10, "{} states for {frames} frames", states.len());
    assert_eq!(states[0].0, 0, "the first frame's state comes first");
    for (frame, time) in &states {
        let after = time.duration_since(states[0].1).unwrap().as_secs_f64();
        assert!((after - *frame as f64 / fps).abs() <= 0.002, "frame {frame} is stamped {after:.3} s after frame 0");
    }
}

#[test]
fn a_stalled_stream_is_restarted_and_reported_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(&dir.join("broker"), "");
    // A "camera" that accepts connections and never sends a byte.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let model = tiny_model(dir);
    let source =
        format!("kind = \"ffmpeg\"\nurl = \"tcp://127.0.0.1:{port}\"\nwidth = 64\nheight = 48\nrealtime = false");
    let config = write_config(dir, &broker, &model, &source, 1.0);
    let sub = Subscriber::start(broker.port, "src-sub", "dinoedge/src/#");

    let daemon = support::spawn_daemon(&config);
    let deadline = Instant::now() + Duration::from_secs(20);
    while connections.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = support::terminate(daemon, Duration::from_secs(10));
    assert!(connections.load(Ordering::SeqCst) >= 2, "the stalled source was opened again: {log}");
    assert!(log.contains("no frame for 1s: restarting the source"), "{log}");
    let down = sub.on("dinoedge/src/cam/status").iter().map(|m| m.json()).find(|s| s["state"] == "down");
    let stalled = "ffmpeg delivered no frame from";
    assert!(down.is_some_and(|s| s["reason"].as_str().is_some_and(|r| r.contains(stalled))), "reported down");
}

#[test]
fn a_missing_v4l2_camera_is_reported_down_with_its_device() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(&dir.join("broker"), "");
    let model = tiny_model(dir);
    let source = "kind = \"v4l2\"\ndevice = \"/dev/video97\"\nwidth = 640\nheight = 480\nfps = 10\nformat = \"yuyv\"";
    let config = write_config(dir, &broker, &model, source, 10.0);
    let sub = Subscriber::start(broker.port, "src-sub", "dinoedge/src/#");
    let daemon = support::spawn_daemon(&config);
    let down = sub.wait_for(Duration::from_secs(10), |m| {
        m.iter().any(|m| m.topic == "dinoedge/src/cam/status" && m.json()["state"] == "down")
    });
    let log = support::terminate(daemon, Duration::from_secs(10));
    assert!(down, "{log}");
    let status = sub.on("dinoedge/src/cam/status").iter().map(|m| m.json()).find(|s| s["state"] == "down").unwrap();
    assert!(status["reason"].as_str().unwrap().contains("opening camera /dev/video97"), "{status}");
}
