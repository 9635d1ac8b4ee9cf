//! `dinoedge sim dataset | clip` from the command line: the documented folder format, the
//! same files for the same seed whatever the thread count, per-frame truth in clips that
//! crosses the alarm distance exactly when the scenario says, and the clip as an H.264 file.

mod support;

use std::path::Path;
use std::process::Command;

use support::{assert_fails, dinoedge, listing, path};

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in listing(dir) {
        let p = dir.join(&sub);
        if p.is_dir() {
            for (name, bytes) in files_under(&p) {
                out.push((format!("{sub}/{name}"), bytes));
            }
        } else {
            out.push((sub, std::fs::read(p).unwrap()));
        }
    }
    out
}

#[test]
fn a_dataset_is_the_same_for_the_same_seed_on_any_number_of_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    let make = |out: &Path, seed: &str, threads: &str| {
        let args = [
            "sim",
            "dataset",
            "--n",
            "3",
            "--seed",
            seed,
            "--out",
            path(out),
            "--width",
            "160",
            "--height",
            "120",
            "--threads",
            threads,
        ];
        let run = dinoedge(&args, tmp.path());
        assert!(run.status.success(), "{}", support::stderr(&run));
    };
    make(&a, "5", "2");
    make(&b, "5", "1");
    make(&c, "6", "2");
    let files = files_under(&a);
    assert_eq!(files.len(), 3 * 7, "rgb, depth png and npy, instance, class, labels, meta for 3 frames");
    // labels/ is class/ in the object classes rules and class heads know.
    let grey = |sub: &str| image::open(a.join(sub).join("000001.png")).unwrap().into_luma8().into_raw();
    let (class, labels) = (grey("class"), grey("labels"));
    assert!(class.iter().zip(&labels).all(|(c, l)| *l == 1 + dinoedge_sim::Class::object_class_of_mask(*c).index()));
    assert!(labels.contains(&(1 + dinoedge_config::ObjectClass::Floor.index())));
    assert_eq!(files, files_under(&b), "same seed, same files");
    assert_ne!(files, files_under(&c), "another seed, other scenes");
}

#[test]
fn dataset_frames_follow_the_documented_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let run = dinoedge(
        &["sim", "dataset", "--n", "2", "--seed", "3", "--out", path(&out), "--width", "160", "--height", "120"],
        tmp.path(),
    );
    assert!(run.status.success(), "{}", support::stderr(&run));
    let rgb = image::open(out.join("rgb/000001.png")).unwrap();
    assert_eq!((rgb.width(), rgb.height(), rgb.color()), (160, 120, image::ColorType::Rgb8));
    let mm = image::open(out.join("depth/000001.png")).unwrap();
    assert_eq!(mm.color(), image::ColorType::L16, "depth PNG is 16-bit");
    let mm = mm.into_luma16();
    let npy = std::fs::read(out.join("depth/000001.npy")).unwrap();
    assert!(npy.starts_with(b"\x93NUMPY\x01\x00"));
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    let header = String::from_utf8_lossy(&npy[10..10 + header_len]);
    assert!(header.contains("'descr': '<f4'") && header.contains("'shape': (120, 160)"), "{header}");
    let metres: Vec<f32> = dinoedge_backbone::files::f32_from_le(&npy[10 + header_len..]);
    assert_eq!(metres.len(), 160 * 120);
    for (m, mm) in metres.iter().zip(mm.as_raw()) {
        assert!((m * 1000.0 - *mm as f32).abs() <= 0.5, "the PNG holds the same depth in millimetres");
    }
    assert!(metres.iter().filter(|m| **m > 0.0).count() > 160 * 100, "most pixels see something");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta/000001.json")).unwrap()).unwrap();
    for key in ["intrinsics", "camera", "objects", "classes", "truth", "dock_face"] {
        assert!(meta.get(key).is_some(), "meta has `{key}`");
    }
    assert_eq!(meta["intrinsics"]["width"], 160);
}

fn clip(scenario: &str, dir: &Path) -> serde_json::Value {
    let run = dinoedge(
        &["sim", "clip", "--scenario", scenario, "--fps", "5", "--out", path(dir), "--width", "160", "--height", "120"],
        dir,
    );
    assert!(run.status.success(), "{}", support::stderr(&run));
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

fn forklift_distances(truth: &serde_json::Value) -> Vec<f64> {
    truth["frames"].as_array().unwrap().iter().map(|f| f["forklift_to_dock_face_m"].as_f64().unwrap()).collect()
}

#[test]
fn forklift_clips_cross_the_alarm_distance_only_when_scripted_to() {
    let tmp = tempfile::tempdir().unwrap();
    let cross = clip("forklift-cross", &tmp.path().join("cross"));
    let d = forklift_distances(&cross);
    assert_eq!(d.len(), 50, "10 s at 5 fps");
    assert!(d.windows(2).all(|w| w[1] <= w[0] + 1e-12), "the forklift only approaches");
    assert!((d[0] - 9.0).abs() < 1e-9 && (d[d.len() - 1] - 0.8).abs() < 1e-9, "from 9 m to 0.8 m");
    let first = cross["first_frame_below_alarm_distance"].as_u64().unwrap() as usize;
    assert!(d[first] < 1.5 && d[first - 1] >= 1.5);
    assert_eq!(listing(&tmp.path().join("cross/rgb")).len(), 50);

    let approach = clip("forklift-approach", &tmp.path().join("approach"));
    assert!(approach["first_frame_below_alarm_distance"].is_null());
    assert!(forklift_distances(&approach).iter().all(|d| *d >= 2.5 - 1e-9));
}

#[test]
fn the_person_clip_records_the_person_to_forklift_distance_and_the_empty_clip_has_no_forklift() {
    let tmp = tempfile::tempdir().unwrap();
    let person = clip("person-between", &tmp.path().join("person"));
    let gaps: Vec<f64> = person["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["people"][0]["to_forklift_m"].as_f64().unwrap())
        .collect();
    let nearest = gaps.iter().cloned().fold(f64::INFINITY, f64::min);
    // The person walks 1.4 m in front of the dock; the fork tips stop 3 m from it.
    assert!(
        (1.3..1.6).contains(&nearest) && gaps[0] > 3.0,
        "the person walks past the forks: {nearest} .. {}",
        gaps[0]
    );
    let empty = clip("empty-lighting", &tmp.path().join("empty"));
    assert!(empty["frames"].as_array().unwrap().iter().all(|f| f["forklift_to_dock_face_m"].is_null()));
}

#[test]
fn a_clip_encodes_to_mp4_with_every_frame() {
    let have_ffmpeg = Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success());
    if !have_ffmpeg {
        assert!(std::env::var_os("CI").is_none(), "CI must run this test: no ffmpeg on PATH");
        eprintln!("SKIPPED: no ffmpeg on PATH; the README's test command installs it");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clip");
    let run = dinoedge(
        &[
            "sim",
            "clip",
            "--scenario",
            "empty-lighting",
            "--fps",
            "5",
            "--out",
            path(&out),
            "--width",
            "160",
            "--height",
            "120",
            "--mp4",
        ],
        tmp.path(),
    );
    assert!(run.status.success(), "{}", support::stderr(&run));
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(out.join("clip.mp4"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "h264,40");
}

#[test]
fn an_unknown_scenario_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let run = dinoedge(&["sim", "clip", "--scenario", "forklift", "--out", path(tmp.path())], tmp.path());
    let err = support::stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "forklift-approach, forklift-cross, person-between, empty-lighting, forklift-meets-person, forklift-parked"
        ),
        "{err}"
    );
    let run =
        dinoedge(&["sim", "clip", "--scenario", "forklift-cross", "--fps", "0", "--out", path(tmp.path())], tmp.path());
    assert_fails(&run, 1, &["--fps 0"]);
}
