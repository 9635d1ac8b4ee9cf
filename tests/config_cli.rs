//! `dinoedge check-config` and `dinoedge run` on bad files: one error line naming the file,
//! line and column, and exit code 78 (EX_CONFIG), which systemd does not restart on.

mod support;

use std::path::Path;

use support::{assert_fails, dinoedge, path, stdout};

const GOOD: &str = r#"device_id = "dock-east"

[model]
kind = "sim-truth"

[[camera]]
name = "dock1"

[camera.source]
kind = "images"
path = "frames"
fps = 10

[[rule]]
name = "near"
camera = "dock1"
kind = "min_distance"
zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
alarm_below = 1.5
clear_above = 1.8
"#;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("frames")).unwrap();
    let file = dir.join("dinoedge.toml");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_good_file_checks_ok_and_says_what_it_will_do() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), GOOD);
    let out = dinoedge(&["check-config", path(&file)], tmp.path());
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(
        stdout(&out).contains("OK (1 cameras, 1 rules, publishing to mqtt://127.0.0.1:1883 under dinoedge/dock-east)")
    );
}

#[test]
fn bad_files_exit_78_with_the_place_of_the_mistake() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("fps = 10", "fps = 10\nfsp = 1", &["dinoedge.toml:13:1:", "unknown field `fsp`"]),
        ("clear_above = 1.8", "clear_above = 1.0", &["dinoedge.toml:14:1:", "must be above alarm_below"]),
        (
            "kind = \"min_distance\"",
            "kind = \"plane_distance\"\nplane = \"dock\"",
            &["needs camera `dock1` to have a `calibration`"],
        ),
        (
            "[[camera]]",
            "[[camera]]\ncalibration = \"missing.toml\"",
            &["dinoedge.toml:7:15:", "missing.toml does not exist"],
        ),
    ];
    for (from, to, words) in cases {
        let file = write(tmp.path(), &GOOD.replacen(from, to, 1));
        for command in ["check-config", "run"] {
            let args: Vec<&str> =
                if command == "run" { vec!["run", "--config", path(&file)] } else { vec![command, path(&file)] };
            assert_fails(&dinoedge(&args, tmp.path()), 78, words);
        }
    }
}

/// A model file the config names that is there but cannot be used is found by check-config,
/// and `run` exits 78 on it like on a bad config, so systemd does not restart into it again.
#[test]
fn an_unusable_model_file_is_a_config_error_found_by_check_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (backbone, head) = support::tiny_model(d);
    let model = |backbone: &Path, head: &Path| {
        let text = format!("kind = \"dinov2\"\nbackbone = \"{}\"\nhead = \"{}\"", path(backbone), path(head));
        write(d, &GOOD.replacen("kind = \"sim-truth\"", &text, 1))
    };
    let file = model(&backbone, &head);
    let out = dinoedge(&["check-config", path(&file)], d);
    assert!(out.status.success(), "{}", support::stderr(&out));

    let bytes = std::fs::read(&head).unwrap();
    let corrupt_head = d.join("corrupt-head.safetensors");
    std::fs::write(&corrupt_head, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt_backbone = d.join("corrupt.onnx");
    std::fs::write(&corrupt_backbone, &std::fs::read(&backbone).unwrap()[..1000]).unwrap();
    for (backbone, head, named) in
        [(&backbone, &corrupt_head, &corrupt_head), (&corrupt_backbone, &head, &corrupt_backbone)]
    {
        let file = model(backbone, head);
        for args in [vec!["check-config", path(&file)], vec!["run", "--config", path(&file)]] {
            assert_fails(&dinoedge(&args, d), 78, &["the model the config names cannot be used", path(named)]);
        }
    }
}

/// A second daemon on a state folder another one holds (a manual `dinoedge run` beside the
/// service) is refused with exit 75 and a message that says what to do; the folder's events
/// are left alone.
#[test]
fn a_second_daemon_on_one_state_folder_exits_75() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let file = write(tmp.path(), &format!("state_dir = \"{}\"\n{GOOD}", path(&state)));
    std::fs::create_dir_all(state.join("outbox")).unwrap();
    // The lock as the running daemon holds it.
    let held = std::fs::File::open(state.join("outbox")).unwrap();
    held.try_lock().unwrap();
    let run = dinoedge(&["run", "--config", path(&file)], tmp.path());
    assert_fails(&run, 75, &[path(&state.join("outbox")), "another dinoedge is running on this state folder"]);
    assert!(!state.join("outbox/events.jsonl").exists(), "the refused daemon wrote nothing");
}

#[test]
fn a_bad_calibration_file_is_a_config_error_too() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cal.toml"), "version = 1\ncamera = \"dock1\"\n").unwrap();
    let file = write(tmp.path(), &GOOD.replacen("[[camera]]", "[[camera]]\ncalibration = \"cal.toml\"", 1));
    assert_fails(
        &dinoedge(&["check-config", path(&file)], tmp.path()),
        78,
        &["cal.toml", "missing field `intrinsics`"],
    );
}

#[test]
fn a_calibration_fitted_for_another_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("backbone.onnx"), "a backbone").unwrap();
    std::fs::write(d.join("head.safetensors"), "a head").unwrap();
    let calibration = "version = 1\ncamera = \"dock1\"\n[fitted_for]\nbackbone_sha256 = \"00\"\nhead_sha256 = \"00\"\n\
        [intrinsics]\nwidth = 8\nheight = 6\nfx = 8.0\nfy = 8.0\ncx = 4.0\ncy = 3.0\n\
        [pose]\nposition = [0.0, 0.0, 3.0]\nyaw_deg = 0.0\npitch_deg = 30.0\nroll_deg = 0.0\n";
    std::fs::write(d.join("cal.toml"), calibration).unwrap();
    let config = GOOD
        .replacen(
            "kind = \"sim-truth\"",
            "kind = \"dinov2\"\nbackbone = \"backbone.onnx\"\nhead = \"head.safetensors\"",
            1,
        )
        .replacen("[[camera]]", "[[camera]]\ncalibration = \"cal.toml\"", 1);
    let file = write(d, &config);
    assert_fails(
        &dinoedge(&["check-config", path(&file)], d),
        78,
        &["cal.toml", "fitted for another backbone than", "run `dinoedge calibrate` again"],
    );
}

#[test]
fn the_packaged_config_names_the_depth_model_that_readme_debian_pulls() {
    // config/examples/dock.toml is installed as /etc/dinoedge/dinoedge.toml; README.Debian's
    // first step pulls the model it names, into the folder the package makes.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("config/examples/dock.toml")).unwrap();
    let example: toml::Table = toml::from_str(&example).unwrap();
    let backbone = example["model"]["backbone"].as_str().unwrap();
    let (name, input, cache) = (dinoedge_heads::published::catalog::RECOMMENDED, "224x392", "/var/lib/dinoedge/models");
    let entry = dinoedge_heads::published::catalog::find(name).unwrap();
    assert_eq!(Path::new(backbone), entry.cached_model(Path::new(cache), input.parse().unwrap()));
    assert!(example["model"].get("head").is_none(), "a published depth model has its own head");
    let readme = std::fs::read_to_string(root.join("cross/deb/README.Debian")).unwrap();
    let pull = format!("dinoedge model pull --depth {name} --input {input} --cache-dir {cache}");
    assert!(readme.contains(&pull), "README.Debian does not say `{pull}`");
}
