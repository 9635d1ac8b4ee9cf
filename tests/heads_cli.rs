//! `dinoedge heads train | eval` end to end on a small simulated set and the full-size
//! random backbone: a head file comes out and evaluates next to the median baseline; a
//! head is refused on another backbone; bad data folders are named; a real RGB-D frame (the
//! Middlebury "Motorcycle", converted by `tools/middlebury_motorcycle.py`) is read correctly.

mod support;

use std::path::Path;

use support::{assert_fails, backbone, dinoedge, listing, path, run_ok};

#[test]
fn train_then_eval_on_simulated_frames_and_refuse_another_backbone() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (train, val, cache) = (t.join("train"), t.join("val"), t.join("cache"));
    run_ok(
        &["sim", "dataset", "--n", "6", "--seed", "1", "--out", path(&train), "--width", "112", "--height", "84"],
        t,
    );
    run_ok(&["sim", "dataset", "--n", "3", "--seed", "2", "--out", path(&val), "--width", "112", "--height", "84"], t);
    let onnx = backbone(t, "7");
    let head = t.join("head.safetensors");
    let trained = run_ok(
        &[
            "heads",
            "train",
            "--data",
            path(&train),
            "--val",
            path(&val),
            "--backbone",
            path(&onnx),
            "--out",
            path(&head),
            "--bins",
            "32",
            "--epochs",
            "3",
            "--cache-dir",
            path(&cache),
        ],
        t,
    );
    assert!(trained.contains("validation log-MSE"), "{trained}");
    assert_eq!(listing(&cache).len(), 9, "one cached feature file per frame");

    let table = run_ok(&["heads", "eval", "--data", path(&val), "--backbone", path(&onnx), "--head", path(&head)], t);
    assert!(
        table.contains("| head |") && table.contains("| median baseline (") && table.contains("| pixel baseline |"),
        "{table}"
    );
    let json =
        run_ok(&["heads", "eval", "--data", path(&val), "--backbone", path(&onnx), "--head", path(&head), "--json"], t);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["frames"], 3);
    for key in ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3"] {
        for model in ["head", "median_baseline", "pixel_baseline"] {
            assert!(report[model][key].is_number(), "{model} {key}");
        }
    }

    let other = backbone(t, "8");
    let refused =
        dinoedge(&["heads", "eval", "--data", path(&val), "--backbone", path(&other), "--head", path(&head)], t);
    assert_fails(&refused, 65, &["head.safetensors", "trained on another backbone"]);
}

#[test]
fn bad_training_folders_are_named_and_no_head_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let onnx = backbone(t, "7");
    let empty = t.join("empty");
    std::fs::create_dir_all(empty.join("rgb")).unwrap();
    let head = t.join("head.safetensors");
    let run = dinoedge(&["heads", "train", "--data", path(&empty), "--backbone", path(&onnx), "--out", path(&head)], t);
    assert_fails(&run, 65, &["empty/rgb", "no frames"]);
    assert!(!head.exists());

    // A frame whose depth is all invalid.
    let bad = t.join("bad");
    run_ok(&["sim", "dataset", "--n", "1", "--seed", "1", "--out", path(&bad), "--width", "56", "--height", "56"], t);
    let zeros: image::ImageBuffer<image::Luma<u16>, Vec<u16>> = image::ImageBuffer::new(56, 56);
    zeros.save(bad.join("depth/000000.png")).unwrap();
    let run = dinoedge(&["heads", "train", "--data", path(&bad), "--backbone", path(&onnx), "--out", path(&head)], t);
    assert_fails(&run, 65, &["depth/000000.png", "no valid depth"]);
    assert!(!head.exists());
}

#[test]
fn a_class_head_is_fitted_on_labelled_frames_scored_beside_pixels_and_bound_to_its_backbone() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = t.join("data");
    run_ok(&["sim", "dataset", "--n", "8", "--seed", "1", "--out", path(&data), "--width", "112", "--height", "84"], t);
    let onnx = backbone(t, "7");
    let (out, cache) = (t.join("classes.safetensors"), t.join("cache"));
    let train = |extra: &[&str]| {
        let mut args = vec!["heads", "train-classes", "--data", path(&data), "--backbone", path(&onnx)];
        args.extend_from_slice(&["--out", path(&out), "--steps", "60", "--cache-dir", path(&cache)]);
        args.extend_from_slice(extra);
        dinoedge(&args, t)
    };
    let run = train(&["--json"]);
    assert!(run.status.success(), "{}", support::stderr(&run));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!((report["train"]["frames"].as_u64(), report["val"]["frames"].as_u64()), (Some(7), Some(1)));
    assert!(report["fit"]["final_loss"].as_f64() < report["fit"]["initial_loss"].as_f64(), "{report}");
    for scores in ["val_scores", "val_scores_pixel_baseline"] {
        let names: Vec<&str> =
            report[scores].as_array().unwrap().iter().map(|s| s["class"].as_str().unwrap()).collect();
        assert_eq!(names, ["forklift", "person", "load", "floor", "other"], "{scores}");
    }
    let floor = &report["val_scores"][3];
    assert!(floor["support"].as_u64().unwrap() > 256 && floor["iou"].as_f64().unwrap() > 0.0, "pixels: {floor}");
    let patches = &report["val_patch_scores"]["head"][3];
    assert!((1..=256).contains(&patches["support"].as_u64().unwrap()), "16x16 patches: {patches}");

    let own = dinoedge_backbone::Backbone::load(&onnx, 1).unwrap();
    let head = dinoedge_heads::classes::file::load(&out, Some(own.meta())).unwrap();
    assert_eq!(head.head.weight.dim(), (5, 768), "lin.1 of ViT-S/14: 2 · 384 features");
    let other = dinoedge_backbone::Backbone::load(&backbone(t, "8"), 1).unwrap();
    let err = dinoedge_heads::classes::file::load(&out, Some(other.meta())).unwrap_err().to_string();
    assert!(err.contains("trained on another backbone"), "{err}");

    // Its cost beside the backbone's and a depth head's.
    let depth = t.join("head.safetensors");
    let depth_fit = ["heads", "train", "--data", path(&data), "--backbone", path(&onnx), "--out", path(&depth)];
    run_ok(&[&depth_fit[..], &["--bins", "16", "--epochs", "1", "--cache-dir", path(&cache)]].concat(), t);
    let bench = ["bench", "head", "--backbone", path(&onnx), "--head", path(&depth), "--classes", path(&out)];
    let timed = run_ok(&[&bench[..], &["--runs", "10", "--width", "112", "--height", "84"]].concat(), t);
    assert!(timed.contains("classes   median") && timed.contains("(5 classes, to 112x84)"), "{timed}");

    std::fs::remove_file(&out).unwrap();
    std::fs::remove_file(data.join("labels/000003.png")).unwrap();
    assert_fails(&train(&[]), 65, &["labels/000003.png", "has no labels"]);
    assert!(!out.exists(), "nothing written");
}

/// The committed half-resolution Middlebury "Motorcycle" (rgb/, depth/ in mm, meta/).
fn middlebury() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("heads/tests/fixtures/middlebury-motorcycle")
}

#[test]
fn eval_reads_a_real_rgbd_frame_in_millimetres() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (onnx, head) = support::tiny_model(t);
    let json = run_ok(
        &["heads", "eval", "--data", path(&middlebury()), "--backbone", path(&onnx), "--head", path(&head), "--json"],
        t,
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();

    // The truth, straight from the files: every non-zero 16-bit sample is a depth in mm.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(middlebury().join("meta/motorcycle.json")).unwrap()).unwrap();
    let depth = image::open(middlebury().join("depth/motorcycle.png")).unwrap().into_luma16();
    let truth: Vec<f64> = depth.pixels().filter(|p| p[0] > 0).map(|p| p[0] as f64 / 1000.0).collect();
    assert_eq!(truth.len() as u64, meta["valid_pixels"].as_u64().unwrap());
    let (near, far) = truth.iter().fold((f64::MAX, 0f64), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    assert!(near > 2.0 && far < 5.1, "the motorcycle scene spans about 2.1 to 5.0 m, not {near}..{far}");

    assert_eq!(report["frames"], 1);
    assert_eq!(report["head"]["pixels"].as_u64(), Some(truth.len() as u64));
    // The median baseline predicts one constant everywhere, so its metrics follow from the file alone.
    let c = report["median_m"].as_f64().unwrap();
    let n = truth.len() as f64;
    let abs_rel = truth.iter().map(|d| (c - d).abs() / d).sum::<f64>() / n;
    let rmse = (truth.iter().map(|d| (c - d).powi(2)).sum::<f64>() / n).sqrt();
    let baseline = &report["median_baseline"];
    assert!((baseline["abs_rel"].as_f64().unwrap() - abs_rel).abs() < 1e-4 * abs_rel, "{baseline} vs {abs_rel}");
    assert!((baseline["rmse"].as_f64().unwrap() - rmse).abs() < 1e-4 * rmse, "{baseline} vs {rmse}");
}
