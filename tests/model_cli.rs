//! `dinoedge model init | import` and `dinoedge bench backbone` from the command line:
//! the README's main job works, the same seed gives the same bytes, and every kind of bad
//! input gives one clear error naming the file and the tensor or size, a non-zero exit,
//! and no output file.

mod support;

use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use support::{assert_fails, dinoedge, fixtures, listing, path, sha256, stdout};

#[test]
fn the_main_job_init_import_bench_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (weights, onnx) = (tmp.path().join("vits14.safetensors"), tmp.path().join("vits14.onnx"));
    let init = dinoedge(&["model", "init", "--random", "--seed", "7", "--out", path(&weights)], tmp.path());
    assert!(init.status.success(), "{}", support::stderr(&init));
    let import = dinoedge(
        &["model", "import", "--weights", path(&weights), "--out", path(&onnx), "--input", "224x224"],
        tmp.path(),
    );
    assert!(import.status.success(), "{}", support::stderr(&import));
    assert!(stdout(&import).contains("blocks 3,6,9,12"), "{}", stdout(&import));
    let bench = dinoedge(
        &["bench", "backbone", "--model", path(&onnx), "--threads", "2", "--runs", "20", "--warmup", "1"],
        tmp.path(),
    );
    assert!(bench.status.success(), "{}", support::stderr(&bench));
    let report = stdout(&bench);
    for field in ["load", "median", "p90", "GFLOP/s", "12.25 GFLOP per frame", "f32 FMAs", "% of it"] {
        assert!(report.contains(field), "bench output lacks `{field}`: {report}");
    }
}

#[test]
fn random_init_is_deterministic_per_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let make = |seed: &str, name: &str| {
        let out = tmp.path().join(name);
        let run = dinoedge(&["model", "init", "--random", "--seed", seed, "--out", path(&out)], tmp.path());
        assert!(run.status.success(), "{}", support::stderr(&run));
        sha256(&out)
    };
    let (a, b, c) = (make("7", "a"), make("7", "b"), make("8", "c"));
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, other weights");
}

#[test]
fn random_init_follows_the_reference_initialisation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.safetensors");
    assert!(dinoedge(&["model", "init", "--random", "--seed", "1", "--out", path(&out)], tmp.path()).status.success());
    let bytes = std::fs::read(&out).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let values = |name: &str| -> Vec<f32> {
        let t = file.tensor(name).unwrap_or_else(|_| panic!("no {name}"));
        dinoedge_backbone::files::f32_from_le(t.data())
    };
    let fc1 = values("encoder.layer.5.mlp.fc1.weight");
    assert_eq!(fc1.len(), 1536 * 384);
    let std = (fc1.iter().map(|v| v * v).sum::<f32>() / fc1.len() as f32).sqrt();
    assert!((std - 0.02).abs() < 0.0005, "std {std}, expected 0.02");
    assert!(values("encoder.layer.5.mlp.fc1.bias").iter().all(|v| *v == 0.0));
    assert!(values("encoder.layer.0.norm1.weight").iter().all(|v| *v == 1.0));
    assert!(values("encoder.layer.11.layer_scale2.lambda1").iter().all(|v| *v == 1.0));
    assert!(values("embeddings.mask_token").iter().all(|v| *v == 0.0));
    assert_eq!(file.tensor("embeddings.position_embeddings").unwrap().shape(), &[1, 1370, 384]);
}

/// `model import` from `weights` must fail with `code`, mention every needle, and write nothing.
fn import_fails(weights: &Path, input: &str, code: i32, needles: &[&str]) {
    let out_dir = tempfile::tempdir().unwrap();
    let onnx = out_dir.path().join("out.onnx");
    let run = dinoedge(
        &["model", "import", "--weights", path(weights), "--out", path(&onnx), "--input", input],
        out_dir.path(),
    );
    assert_fails(&run, code, needles);
    assert_eq!(listing(out_dir.path()), Vec::<String>::new(), "no output, not even a partial one");
}

#[test]
fn import_of_a_missing_file_names_it() {
    import_fails(Path::new("/nonexistent/model.safetensors"), "224x224", 74, &["/nonexistent/model.safetensors"]);
}

#[test]
fn import_of_a_truncated_file_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixtures().join("dinov2/model.safetensors")).unwrap();
    let cut = tmp.path().join("model.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    import_fails(&cut, "224x224", 65, &[path(&cut), "not a readable weight file"]);
}

#[test]
fn import_of_a_foreign_file_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("photo.safetensors");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n this is an image, not weights").unwrap();
    import_fails(&png, "224x224", 65, &[path(&png), "not a readable weight file"]);
    // A safetensors file of something else entirely.
    import_fails(&fixtures().join("interpolation.safetensors"), "224x224", 65, &["embeddings.cls_token", "is missing"]);
}

#[test]
fn import_of_a_tensor_with_the_wrong_shape_names_the_tensor_and_both_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixtures().join("dinov2/model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let wrong = vec![0u8; 4 * 96 * 20];
    let tensors: Vec<(String, TensorView)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            if name == "encoder.layer.1.mlp.fc2.weight" {
                (name, TensorView::new(Dtype::F32, vec![20, 96], &wrong).unwrap())
            } else {
                (name, view)
            }
        })
        .collect();
    let bad = tmp.path().join("model.safetensors");
    std::fs::write(&bad, safetensors::serialize(tensors, None).unwrap()).unwrap();
    import_fails(&bad, "224x224", 65, &[path(&bad), "encoder.layer.1.mlp.fc2.weight", "[20, 96]", "[24, 96]"]);
}

#[test]
fn import_at_a_size_that_is_not_a_multiple_of_14_names_the_size() {
    import_fails(
        &fixtures().join("dinov2/model.safetensors"),
        "225x224",
        64,
        &["225x224", "not a multiple of the patch size 14"],
    );
}

#[test]
fn import_does_not_clobber_an_existing_output_when_it_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("keep.onnx");
    std::fs::write(&onnx, b"the previous model").unwrap();
    let run = dinoedge(&["model", "import", "--weights", "/nonexistent.safetensors", "--out", path(&onnx)], tmp.path());
    assert_fails(&run, 74, &["/nonexistent.safetensors"]);
    assert_eq!(std::fs::read(&onnx).unwrap(), b"the previous model");
}

#[test]
fn bench_of_a_corrupt_onnx_file_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("broken.onnx");
    std::fs::write(&onnx, b"\x08\x07garbage that is not a protobuf model \xff\xff").unwrap();
    let run = dinoedge(&["bench", "backbone", "--model", path(&onnx)], tmp.path());
    assert_fails(&run, 65, &[path(&onnx), "not a usable dinoedge backbone ONNX file"]);
}

#[test]
fn import_of_a_block_the_model_does_not_have_names_the_range() {
    let out_dir = tempfile::tempdir().unwrap();
    let onnx = out_dir.path().join("out.onnx");
    let weights = fixtures().join("dinov2/model.safetensors");
    let run = dinoedge(
        &["model", "import", "--weights", path(&weights), "--out", path(&onnx), "--blocks", "1,4"],
        out_dir.path(),
    );
    assert_fails(&run, 65, &["block 4 does not exist; the model has blocks 1 to 3"]);
    assert_eq!(listing(out_dir.path()), Vec::<String>::new());
}
