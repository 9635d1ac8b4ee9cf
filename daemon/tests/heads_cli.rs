//! `dinoedge heads train | eval` end to end on a small simulated set and the full-size
//! random backbone: a head file comes out and evaluates next to the median baseline; a
//! head is refused on another backbone; bad data folders are named.

mod support;

use std::path::Path;

use support::{assert_fails, dinoedge, listing, path, stdout};

fn run_ok(args: &[&str], dir: &Path) -> String {
    let out = dinoedge(args, dir);
    assert!(out.status.success(), "{:?}: {}", args, support::stderr(&out));
    stdout(&out)
}

/// A random ViT-S/14 imported at 56x56 (16 patches), seed `seed`.
fn backbone(dir: &Path, seed: &str) -> std::path::PathBuf {
    let (w, onnx) = (dir.join(format!("w{seed}.safetensors")), dir.join(format!("b{seed}.onnx")));
    run_ok(&["model", "init", "--random", "--seed", seed, "--out", path(&w)], dir);
    run_ok(&["model", "import", "--weights", path(&w), "--out", path(&onnx), "--input", "56x56"], dir);
    onnx
}

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
