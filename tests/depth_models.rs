//! Published depth models through the command line: `model import --depth` on the committed
//! tiny fixtures (the parity tests' files, in the official layouts) and its refusals, and a
//! full-size random Depth Anything V2 Small, made by `model init --depth` in the published
//! layout, driving the daemon on the simulated dock.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::broker::{Broker, Subscriber};
use support::{assert_fails, dinoedge, path, run_ok};

fn published() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("heads/tests/fixtures/published")
}

#[test]
fn import_depth_writes_one_graph_with_the_depth_head_for_each_family() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("da.onnx");
    let weights = published().join("depth_anything_metric/model.safetensors");
    let args = ["model", "import", "--depth", "depth-anything-v2-metric-indoor-small", "--weights", path(&weights)];
    let out = run_ok(&[&args[..], &["--out", path(&onnx), "--input", "42x56"]].concat(), tmp.path());
    assert!(out.contains("and depth (depth-anything-v2-metric-indoor-small: metric depth)"), "{out}");
    let meta = dinoedge_backbone::runtime::read_meta(&onnx).unwrap();
    assert_eq!(meta.depth.unwrap().kind, dinoedge_config::DepthKind::Metric);

    let (backbone, head) =
        (published().join("backbone/model.safetensors"), published().join("dinov2_nyu_linear4_head.pth"));
    let onnx = tmp.path().join("lin4.onnx");
    let args = ["model", "import", "--depth", "dinov2-small-nyu-linear4", "--weights", path(&backbone)];
    let out =
        run_ok(&[&args[..], &["--head", path(&head), "--out", path(&onnx), "--input", "42x56"]].concat(), tmp.path());
    assert!(out.contains("dinov2-small-nyu-linear4: metric depth"), "{out}");

    // Depth Anything's original checkpoint: no config.json; the name says relative.
    let original = published().join("depth_anything_v2_relative.pth");
    let onnx = tmp.path().join("original.onnx");
    let args = ["model", "import", "--depth", "depth-anything-v2-small", "--weights", path(&original)];
    let out = run_ok(&[&args[..], &["--out", path(&onnx), "--input", "42x56"]].concat(), tmp.path());
    assert!(out.contains("depth-anything-v2-small: relative depth"), "{out}");

    let head = published().join("dinov2_nyu_dpt_head.pth");
    let onnx = tmp.path().join("dpt.onnx");
    let args = ["model", "import", "--depth", "dinov2-small-nyu-dpt", "--weights", path(&backbone)];
    let out =
        run_ok(&[&args[..], &["--head", path(&head), "--out", path(&onnx), "--input", "42x56"]].concat(), tmp.path());
    assert!(out.contains("dinov2-small-nyu-dpt: metric depth"), "{out}");
}

/// `model init --depth` makes each of Meta's heads at full size, in the checkpoint's names,
/// for a backbone `init` makes; the import reads it and records the head file's sha256.
#[test]
fn random_meta_heads_at_full_size_import_with_a_random_backbone() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["dinov2-small-kitti-dpt", "dinov2-small-nyu-linear"] {
        let onnx = support::depth_model(tmp.path(), name, "3");
        let meta = dinoedge_backbone::runtime::read_meta(&onnx).unwrap();
        let depth = meta.depth.unwrap();
        assert_eq!((depth.model.as_str(), depth.kind), (name, dinoedge_config::DepthKind::Metric));
        let head = std::fs::read(tmp.path().join(format!("{name}-3/head.safetensors"))).unwrap();
        assert_eq!(depth.source_sha256, dinoedge_backbone::files::sha256_bytes(&head));
    }
    // A lin.1 head is not a lin.4 one, whatever the command line says.
    let head = tmp.path().join("dinov2-small-nyu-linear-3/head.safetensors");
    let backbone = tmp.path().join("dinov2-small-nyu-linear-3/backbone.safetensors");
    let onnx = tmp.path().join("wrong.onnx");
    let args = ["model", "import", "--depth", "dinov2-small-nyu-linear4", "--weights", path(&backbone)];
    let run = dinoedge(&[&args[..], &["--head", path(&head), "--out", path(&onnx)]].concat(), tmp.path());
    assert_fails(&run, 65, &[path(&head), "a lin.1 head", "is lin.4"]);
    assert!(!onnx.exists());
}

#[test]
fn import_depth_refusals_name_the_file_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("out.onnx");
    let backbone = published().join("backbone/model.safetensors");
    let import = |extra: &[&str]| {
        let args = [&["model", "import", "--out", path(&onnx), "--input", "42x56"][..], extra].concat();
        dinoedge(&args, tmp.path())
    };
    // Meta's heads need their checkpoint; Depth Anything needs none.
    let run = import(&["--depth", "dinov2-small-kitti-linear", "--weights", path(&backbone)]);
    assert_fails(&run, 64, &["--head"]);
    let head = published().join("dinov2_kitti_linear_head.pth");
    let da = published().join("depth_anything_relative/model.safetensors");
    let run = import(&["--depth", "depth-anything-v2-small", "--weights", path(&da), "--head", path(&head)]);
    assert_fails(&run, 64, &["without --head"]);
    // A checkpoint whose pickle would run code, and a relative model named as a metric one.
    let code = published().join("bad/code.pth");
    let run = import(&["--depth", "dinov2-small-kitti-linear", "--weights", path(&backbone), "--head", path(&code)]);
    assert_fails(&run, 65, &[path(&code), "posix.system"]);
    let run = import(&["--depth", "depth-anything-v2-metric-outdoor-small", "--weights", path(&da)]);
    assert_fails(&run, 65, &["config.json", "depth_estimation_type", "relative model"]);
    let metric = published().join("depth_anything_metric/model.safetensors");
    let run = import(&["--depth", "depth-anything-v2-metric-outdoor-small", "--weights", path(&metric)]);
    assert_fails(&run, 65, &["config.json", "max_depth", "80 m"]);
    // An unknown name is clap's usage error, listing the models.
    let run = import(&["--depth", "midas", "--weights", path(&da)]);
    assert!(support::stderr(&run).contains("depth-anything-v2-small"), "{}", support::stderr(&run));
    assert!(!onnx.exists(), "nothing written");
}

/// The daemon runs an imported metric model (no head file) on the simulated dock and measures
/// distances with it; a trained head given beside it is refused, naming the model; a relative
/// model needs a calibration fitted for relative output on every camera.
#[test]
fn an_imported_metric_model_drives_the_daemon_without_a_head_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let onnx = support::depth_model(dir, "depth-anything-v2-metric-indoor-small", "7");
    let clip = dir.join("clip");
    run_ok(
        &["sim", "clip", "--scenario", "forklift-approach", "--out", path(&clip), "--width", "112", "--height", "84"],
        dir,
    );
    let broker = Broker::start(&dir.join("broker"), "");
    let config = dir.join("dinoedge.toml");
    let write = |model: &str| {
        let text = format!(
            "device_id = \"da\"\nstate_dir = \"{state}\"\n\n[model]\n{model}\n\n[mqtt]\nurl = \"{url}\"\n\n\
             [[camera]]\nname = \"cam\"\ncalibration = \"{clip}/calibration.toml\"\n\n[camera.source]\n\
             kind = \"images\"\npath = \"{clip}/rgb\"\nfps = 5.0\nloop = true\n\n\
             [[rule]]\nname = \"near\"\ncamera = \"cam\"\nkind = \"min_distance\"\n\
             zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]\nalarm_below = 0.5\nclear_above = 0.8\n",
            state = path(&dir.join("state")),
            url = broker.url(),
            clip = path(&clip),
        );
        std::fs::write(&config, text).unwrap();
    };
    write(&format!("kind = \"dinov2\"\nbackbone = \"{}\"", path(&onnx)));
    let sub = Subscriber::start(broker.port, "da-sub", "dinoedge/da/#");
    let daemon = support::spawn_daemon(&config);
    let measured = sub.wait_for(Duration::from_secs(60), |m| {
        m.iter().filter(|m| m.topic == "dinoedge/da/cam/near/state").any(|m| m.json()["distance_m"].is_number())
    });
    let log = support::terminate(daemon, Duration::from_secs(10));
    assert!(measured, "the model's depth reaches the rule: {log}");
    assert!(log.contains("depth-anything-v2-metric-indoor-small, metric depth"), "{log}");

    // A head file beside an imported model is a mistake the daemon names.
    let head = dir.join("head.safetensors");
    std::fs::write(&head, b"not read").unwrap();
    write(&format!("kind = \"dinov2\"\nbackbone = \"{}\"\nhead = \"{}\"", path(&onnx), path(&head)));
    let run = dinoedge(&["run", "--config", path(&config)], dir);
    assert_fails(&run, 78, &[path(&head), "has its own depth head"]);

    // A relative model with the clip's metric alignment, or with no calibration at all, is a
    // site whose depths would not be metres: refused before anything runs.
    let relative = support::depth_model(dir, "depth-anything-v2-small", "1");
    write(&format!("kind = \"dinov2\"\nbackbone = \"{}\"", path(&relative)));
    let run = dinoedge(&["check-config", path(&config)], dir);
    assert_fails(&run, 78, &["calibration.toml", "metric output", "relative depth", "dinoedge calibrate"]);
    let text = std::fs::read_to_string(&config).unwrap();
    let calibration_line = format!("calibration = \"{}/calibration.toml\"\n", path(&clip));
    std::fs::write(&config, text.replace(&calibration_line, "")).unwrap();
    let run = dinoedge(&["check-config", path(&config)], dir);
    assert_fails(&run, 78, &["camera `cam` has no calibration", "relative"]);
}

/// `heads eval` scores a published depth model without a head file: a relative one aligned per
/// frame (so its aligned depth is never worse than the best constant inverse depth, which
/// the fit includes), a metric one as it is; the median baseline is the folder's own.
#[test]
fn heads_eval_scores_published_models_on_a_real_rgbd_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let middlebury = Path::new(env!("CARGO_MANIFEST_DIR")).join("heads/tests/fixtures/middlebury-motorcycle");
    let eval = |onnx: &Path| {
        let json = run_ok(&["heads", "eval", "--data", path(&middlebury), "--backbone", path(onnx), "--json"], t);
        serde_json::from_str::<serde_json::Value>(&json).unwrap()
    };
    let relative = eval(&support::depth_model(t, "depth-anything-v2-small", "1"));
    assert_eq!((relative["output"].as_str(), relative["median_of"].as_str()), (Some("relative"), Some("folder")));
    let (model, baseline) = (&relative["head"], &relative["median_baseline"]);
    assert_eq!(model["pixels"], baseline["pixels"]);
    // The fit in inverse depth may choose a = 0: a constant, the least-squares best one,
    // whose RMSE in inverse depth bounds the aligned model's. In metres the two stay close.
    assert!(model["rmse"].as_f64().unwrap() < 2.0 * baseline["rmse"].as_f64().unwrap(), "{relative}");
    let metric = eval(&support::depth_model(t, "depth-anything-v2-metric-indoor-small", "7"));
    assert_eq!(metric["output"].as_str(), Some("metric"));
    assert_eq!(metric["median_m"], relative["median_m"], "one folder, one median");

    let table = run_ok(
        &["heads", "eval", "--data", path(&middlebury), "--backbone", path(&t.join("depth-anything-v2-small-1.onnx"))],
        t,
    );
    assert!(table.contains("relative output: 1/depth = a·output + b fitted per frame"), "{table}");
    assert!(table.contains("| depth-anything-v2-small |") && table.contains("(this folder's, "), "{table}");
    // A bare backbone needs its head.
    let (bare, vits) = (t.join("bare.onnx"), t.join("vits.safetensors"));
    run_ok(&["model", "init", "--random", "--out", path(&vits)], t);
    run_ok(&["model", "import", "--weights", path(&vits), "--out", path(&bare), "--input", "56x56"], t);
    let run = dinoedge(&["heads", "eval", "--data", path(&middlebury), "--backbone", path(&bare)], t);
    assert_fails(&run, 64, &["bare backbone", "--head"]);
}

/// One backbone pass serves a published depth model's depth and a class head fitted on the
/// same graph's features: the daemon runs rules that count classes on the model path (a
/// random model: the distances mean nothing, the plumbing is what is tested), names the
/// classes in their states, and refuses a class head fitted on another backbone.
#[test]
fn a_class_head_beside_a_depth_model_drives_rules_that_count_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let onnx = support::depth_model(dir, "depth-anything-v2-metric-indoor-small", "7");
    let (data, clip, classes) = (dir.join("data"), dir.join("clip"), dir.join("classes.safetensors"));
    run_ok(
        &["sim", "dataset", "--n", "4", "--seed", "1", "--out", path(&data), "--width", "112", "--height", "84"],
        dir,
    );
    let fit = ["heads", "train-classes", "--data", path(&data), "--backbone", path(&onnx), "--out", path(&classes)];
    run_ok(&[&fit[..], &["--steps", "20", "--cache-dir", path(&dir.join("cache"))]].concat(), dir);
    let scenario = ["--scenario", "forklift-meets-person", "--fps", "5", "--out", path(&clip)];
    run_ok(&[&["sim", "clip"][..], &scenario, &["--width", "112", "--height", "84"]].concat(), dir);
    let broker = Broker::start(&dir.join("broker"), "");
    let config = dir.join("dinoedge.toml");
    let write = |backbone: &Path| {
        let text = format!(
            "device_id = \"cls\"\nstate_dir = \"{state}\"\n\n[model]\nkind = \"dinov2\"\nbackbone = \"{backbone}\"\n\
             classes = \"{classes}\"\n\n[mqtt]\nurl = \"{url}\"\n\n\
             [[camera]]\nname = \"cam\"\ncalibration = \"{clip}/calibration.toml\"\n\n[camera.source]\n\
             kind = \"images\"\npath = \"{clip}/rgb\"\nfps = 5.0\nloop = true\n\n\
             [[rule]]\nname = \"near\"\ncamera = \"cam\"\nkind = \"object_distance\"\nfrom = \"person\"\n\
             to = \"forklift\"\nzone = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\nalarm_below = 2.0\n\
             clear_above = 2.4\n\n\
             [[rule]]\nname = \"dock\"\ncamera = \"cam\"\nkind = \"plane_distance\"\nplane = \"dock_face\"\n\
             objects = [\"forklift\", \"load\"]\nzone = [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]\n\
             alarm_below = 1.5\nclear_above = 1.8\n",
            state = path(&dir.join("state")),
            backbone = path(backbone),
            classes = path(&classes),
            url = broker.url(),
            clip = path(&clip),
        );
        std::fs::write(&config, text).unwrap();
    };
    write(&onnx);
    let sub = Subscriber::start(broker.port, "cls-sub", "dinoedge/cls/#");
    let daemon = support::spawn_daemon(&config);
    let stated = |rule: &str, objects: serde_json::Value| {
        let topic = format!("dinoedge/cls/cam/{rule}/state");
        sub.wait_for(Duration::from_secs(60), |m| m.iter().any(|m| m.topic == topic && m.json()["objects"] == objects))
    };
    let near = stated("near", serde_json::json!(["person", "forklift"]));
    let dock = stated("dock", serde_json::json!(["forklift", "load"]));
    let log = support::terminate(daemon, Duration::from_secs(10));
    assert!(near && dock, "both rules run on the model's classes: {log}");
    assert!(log.contains(&format!("classes: {}", path(&classes))), "{log}");

    write(&support::depth_model(dir, "depth-anything-v2-metric-indoor-small", "8"));
    let run = dinoedge(&["run", "--config", path(&config)], dir);
    // A mistake in the site's files, which a restart would not mend: exit 78, as a bad config.
    assert_fails(&run, 78, &[path(&classes), "trained on another backbone", "dinoedge heads train-classes"]);
}
