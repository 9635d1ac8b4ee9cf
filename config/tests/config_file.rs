//! The configuration file as a user meets it: the documented example loads with the documented
//! defaults, and each kind of mistake gives one message naming the line and column.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dinoedge_config::{ConfigError, Foreground, Gate, Holds, Measure, Model, Precision, Severity, SimTruth, Source};

/// A folder with the files a config may name, and a config file written into it.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for file in ["backbone.onnx", "head.safetensors", "dock1.calibration.toml", "password"] {
            std::fs::write(dir.path().join(file), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("frames")).unwrap();
        Site { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn load(&self, text: &str) -> Result<dinoedge_config::Config, ConfigError> {
        let file = self.path("dinoedge.toml");
        std::fs::write(&file, text).unwrap();
        dinoedge_config::load(&file)
    }
}

/// A small valid file; each bad case below changes one thing in it.
const BASE: &str = r#"device_id = "dock-east"

[model]
kind = "dinov2"
backbone = "backbone.onnx"
head = "head.safetensors"

[mqtt]
url = "mqtt://127.0.0.1:1883"

[[camera]]
name = "dock1"
calibration = "dock1.calibration.toml"

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

#[test]
fn the_documented_example_loads_with_its_documented_defaults() {
    let site = Site::new();
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dock.toml")).unwrap();
    let text = example
        .replace("/var/lib/dinoedge/models/depth-anything-v2-metric-indoor-small_224x392.onnx", "backbone.onnx")
        .replace("/etc/dinoedge/dock1.calibration.toml", "dock1.calibration.toml");
    let config = site.load(&text).unwrap();

    assert_eq!(config.device_id.as_str(), "dock-east");
    assert!(
        matches!(&config.model, Model::Dinov2 { backbone, head: None, classes: None } if *backbone == site.path("backbone.onnx"))
    );
    assert_eq!(config.pipeline.threads, 2);
    assert_eq!(config.pipeline.stats_interval, Duration::from_secs(60));
    assert_eq!(config.pipeline.precision, Precision::Auto);
    assert_eq!(config.topic_prefix(), "dinoedge/dock-east");
    assert_eq!(config.client_id(), "dinoedge-dock-east");
    assert_eq!(config.mqtt.keep_alive, Duration::from_secs(30));
    assert_eq!(config.mqtt.update_interval, Duration::from_secs(5));
    assert!(!config.mqtt.home_assistant && !config.mqtt.snapshots);
    assert_eq!(config.outbox.max_events, 10_000);

    let camera = &config.cameras[0];
    assert_eq!(camera.stall_timeout, Duration::from_secs(10));
    assert_eq!(camera.gate, Gate { enabled: true, level: 4.0, area: 0.05, max_skip: Duration::from_secs(2) });
    assert!(matches!(camera.source, Source::V4l2 { width: 1280, height: 720, fps: 10, .. }));

    let forks = &config.rules[0];
    assert_eq!(
        forks.measure,
        Measure::PlaneDistance {
            plane: "dock_face".to_string().try_into().unwrap(),
            foreground: Foreground::StandsOut { margin_m: 0.1 },
        }
    );
    assert_eq!((forks.hysteresis.alarm_below, forks.hysteresis.clear_above), (1.5, 1.8));
    assert_eq!(forks.holds, Holds { raise_after: Duration::from_millis(250), clear_after: Duration::from_secs(1) });
    assert_eq!(forks.lead, Some(Duration::ZERO));
    assert_eq!((forks.cooldown, forks.severity), (Duration::from_secs(10), Severity::Critical));
    let walkway = &config.rules[1];
    assert_eq!(walkway.measure, Measure::MinDistance { objects: None });
    assert_eq!((walkway.holds, walkway.lead), (forks.holds, forks.lead));
    assert!(config.rules.iter().all(|r| r.deprecated.is_empty()), "the example uses no old key");
    assert_eq!((walkway.cooldown, walkway.severity), (Duration::ZERO, Severity::Warning));

    // The commented person-near-forklift rule, uncommented, reads as an object_distance rule:
    // the checks after reading refuse it while the model gives no classes.
    let (before, block) = text.split_once("# A person too close to a forklift").unwrap();
    let block: String = block.lines().skip(1).map(|l| format!("{}\n", l.trim_start_matches("# "))).collect();
    let err = site.load(&format!("{before}{block}")).unwrap_err().to_string();
    assert!(err.contains("rule `person-near-forklift`: counts object classes, and the model gives none"), "{err}");
}

#[test]
fn relative_paths_are_taken_from_the_config_files_folder() {
    let site = Site::new();
    let config = site.load(BASE).unwrap();
    assert_eq!(config.cameras[0].calibration.as_deref(), Some(site.path("dock1.calibration.toml").as_path()));
    assert!(matches!(&config.cameras[0].source, Source::Images { path, .. } if Path::new(path) == site.path("frames")));
}

/// (what is wrong, the change to BASE, the line the error must point at, words it must contain)
const MISTAKES: &[(&str, &str, &str, usize, &[&str])] = &[
    ("syntax", "fps = 10", "fps = = 10", 18, &["extra `=`"]),
    ("unknown key", "fps = 10", "fps = 10\nfsp = 12", 19, &["unknown field `fsp`"]),
    ("unknown section key", "[mqtt]", "[mqtt]\nhost = \"x\"", 9, &["unknown field `host`"]),
    ("wrong type", "fps = 10", "fps = \"ten\"", 18, &["expected f64"]),
    ("unknown source kind", "kind = \"images\"", "kind = \"usb\"", 16, &["unknown variant `usb`"]),
    (
        "unknown rule kind",
        "kind = \"min_distance\"",
        "kind = \"max_distance\"",
        23,
        &["unknown variant `max_distance`"],
    ),
    ("bad device id", "device_id = \"dock-east\"", "device_id = \"dock/east\"", 1, &["dock/east", "letters, digits"]),
    ("bad url", "mqtt://127.0.0.1:1883", "http://127.0.0.1", 9, &["unknown scheme `http`"]),
    (
        "zone of two points",
        "zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]",
        "zone = [[0.1, 0.1], [0.9, 0.1]]",
        24,
        &["at least 3 points"],
    ),
    (
        "zone name that is not a name",
        "zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]",
        "zone = \"approach bay\"",
        24,
        &["approach bay", "letters, digits"],
    ),
    ("self-intersecting zone", "[0.9, 0.9], [0.1, 0.9]]", "[0.1, 0.9], [0.9, 0.9]]", 24, &["crosses itself"]),
    ("zone outside the image", "[0.9, 0.9], [0.1, 0.9]]", "[1.9, 0.9], [0.1, 0.9]]", 24, &["outside the image"]),
    (
        "thresholds in the wrong order",
        "clear_above = 1.8",
        "clear_above = 1.2",
        20,
        &["clear_above = 1.2 must be above alarm_below = 1.5"],
    ),
    ("negative threshold", "alarm_below = 1.5", "alarm_below = -1", 20, &["alarm_below = -1"]),
    (
        "plane on a min_distance rule",
        "alarm_below = 1.5",
        "plane = \"dock_face\"\nalarm_below = 1.5",
        20,
        &["`plane` does not apply to min_distance rules (theirs: objects)"],
    ),
    (
        "unknown class",
        "alarm_below = 1.5",
        "objects = [\"forklift\", \"pallet\"]\nalarm_below = 1.5",
        25,
        &["unknown variant `pallet`", "`forklift`, `person`, `load`, `floor`, `other`"],
    ),
    ("no class", "alarm_below = 1.5", "objects = []\nalarm_below = 1.5", 25, &["name at least one class"]),
    (
        "classes from a model without a class head",
        "alarm_below = 1.5",
        "objects = [\"person\"]\nalarm_below = 1.5",
        25,
        &["rule `near`: counts object classes, and the model gives none"],
    ),
    (
        "object_distance without `to`",
        "kind = \"min_distance\"",
        "kind = \"object_distance\"\nfrom = \"person\"",
        20,
        &["object_distance needs `to`, a class (forklift, person, load, floor, other)"],
    ),
    (
        "object_distance between a class and itself",
        "kind = \"min_distance\"",
        "kind = \"object_distance\"\nfrom = \"person\"\nto = \"person\"",
        20,
        &["from = to = \"person\""],
    ),
    (
        "margin and classes on one plane_distance rule",
        "kind = \"min_distance\"",
        "kind = \"plane_distance\"\nplane = \"dock\"\nmargin_m = 0.2\nobjects = [\"forklift\"]",
        20,
        &["`margin_m` or `objects`, not both"],
    ),
    ("plane_distance without a plane", "kind = \"min_distance\"", "kind = \"plane_distance\"", 20, &["needs `plane`"]),
    (
        "missing model file",
        "head = \"head.safetensors\"",
        "head = \"gone.safetensors\"",
        6,
        &["gone.safetensors does not exist"],
    ),
    (
        "missing class head file",
        "head = \"head.safetensors\"",
        "head = \"head.safetensors\"\nclasses = \"gone.safetensors\"",
        7,
        &["the class head", "gone.safetensors does not exist"],
    ),
    (
        "missing calibration file",
        "calibration = \"dock1.calibration.toml\"",
        "calibration = \"nope.toml\"",
        13,
        &["nope.toml does not exist"],
    ),
    (
        "rule on an unknown camera",
        "camera = \"dock1\"",
        "camera = \"dock2\"",
        22,
        &["no camera named `dock2`", "cameras: dock1"],
    ),
    (
        "duplicate camera",
        "[[rule]]",
        "[[camera]]\nname = \"dock1\"\n[camera.source]\nkind = \"images\"\npath = \"frames\"\nfps = 1\n\n[[rule]]",
        21,
        &["a second camera named `dock1`"],
    ),
    ("zero fps", "fps = 10", "fps = 0", 18, &["fps = 0"]),
    ("images path that is not there", "path = \"frames\"", "path = \"nowhere\"", 17, &["neither a folder nor a glob"]),
    ("password without username", "[mqtt]", "[mqtt]\npassword_file = \"password\"", 8, &["needs a username"]),
    ("TLS file on a plain url", "[mqtt]", "[mqtt]\nca_file = \"password\"", 9, &["needs an mqtts:// url"]),
    (
        "zero for_frames",
        "alarm_below = 1.5",
        "for_frames = 0\nalarm_below = 1.5",
        20,
        &["for_frames = 0: expected 1 to"],
    ),
    (
        "for_frames of years",
        "alarm_below = 1.5",
        "for_frames = 4294967295\nalarm_below = 1.5",
        20,
        &["for_frames = 4294967295: expected 1 to"],
    ),
    (
        "password file that is a folder",
        "[mqtt]",
        "[mqtt]\nusername = \"u\"\npassword_file = \".\"",
        10,
        &["is a folder, not a file"],
    ),
    (
        "frames and seconds",
        "alarm_below = 1.5",
        "for_frames = 3\nraise_after = 0.2\nalarm_below = 1.5",
        20,
        &["for_frames = 3 counts frames; give raise_after and clear_after (seconds) instead, not both"],
    ),
    (
        "a hold of an hour",
        "alarm_below = 1.5",
        "clear_after = 3600\nalarm_below = 1.5",
        20,
        &["clear_after = 3600", "0 to 60"],
    ),
    ("a negative hold", "alarm_below = 1.5", "raise_after = -1\nalarm_below = 1.5", 20, &["raise_after = -1"]),
    (
        "a reaction time without a prediction",
        "alarm_below = 1.5",
        "lead = false\nreaction_time = 0.5\nalarm_below = 1.5",
        20,
        &["reaction_time is added to the prediction, and lead = false predicts nothing"],
    ),
    (
        "a reaction time of a minute",
        "alarm_below = 1.5",
        "reaction_time = 60\nalarm_below = 1.5",
        20,
        &["reaction_time = 60", "0 to 5"],
    ),
    ("misspelt section", "[camera.source]", "[camera.sauce]", 15, &["unknown field `sauce`"]),
    ("gate level under noise", "fps = 10", "fps = 10\n[camera.gate]\nlevel = 0.1", 20, &["level = 0.1", "0.5–64"]),
    ("gate area of nothing", "fps = 10", "fps = 10\n[camera.gate]\narea = 0", 20, &["area = 0", "above 0"]),
    ("gate area not a number", "fps = 10", "fps = 10\n[camera.gate]\narea = nan", 20, &["area = NaN"]),
    (
        "gate max_skip too long",
        "fps = 10",
        "fps = 10\n[camera.gate]\nmax_skip = 600",
        20,
        &["max_skip = 600", "at most 30"],
    ),
    ("gate max_skip of zero", "fps = 10", "fps = 10\n[camera.gate]\nmax_skip = 0", 20, &["max_skip = 0"]),
    (
        "unknown precision",
        "[mqtt]",
        "[pipeline]\nprecision = \"f8\"\n[mqtt]",
        9,
        &["unknown variant `f8`", "`auto`, `f32`, `f16`"],
    ),
    ("misspelt gate key", "fps = 10", "fps = 10\n[camera.gate]\nlevle = 3", 20, &["unknown field `levle`"]),
    // Values that cannot be right: bounded by what they mean, refused at load rather than
    // panicking, wrapping or starving the daemon later.
    (
        "cooldown past what a Duration holds",
        "alarm_below = 1.5",
        "alarm_below = 1.5\ncooldown = 1e20",
        20,
        &["cooldown = 100000000000000000000", "0 to 86400"],
    ),
    ("cooldown of a week", "alarm_below = 1.5", "alarm_below = 1.5\ncooldown = 604800", 20, &["cooldown = 604800"]),
    ("fps of a frame per eon", "fps = 10", "fps = 1e-20", 18, &["fps = 0.00000000000000000001", "stall_timeout = 10"]),
    ("fps slower than the stall timeout", "fps = 10", "fps = 0.1", 18, &["a frame every 10 s", "stall_timeout = 10"]),
    ("fps beyond any camera", "fps = 10", "fps = 1e9", 18, &["fps = 1000000000", "at most 1000"]),
    ("fps not a number", "fps = 10", "fps = nan", 18, &["fps = NaN"]),
    (
        "a million matrix-product threads",
        "[mqtt]",
        "[pipeline]\nthreads = 1000000\n[mqtt]",
        9,
        &["threads = 1000000", "four per core"],
    ),
    ("keep_alive past 16 bits", "[mqtt]", "[mqtt]\nkeep_alive = 70000", 9, &["keep_alive = 70000", "1 to 65535"]),
    ("keep_alive under a second", "[mqtt]", "[mqtt]\nkeep_alive = 0.5", 9, &["keep_alive = 0.5"]),
    (
        "a metrics address without a port",
        "[mqtt]",
        "[metrics]\nlisten = \"127.0.0.1\"\n[mqtt]",
        9,
        &["dinoedge.toml:9:10", "invalid socket address syntax"],
    ),
    (
        "an outbox of ten million events",
        "[mqtt]",
        "[outbox]\nmax_events = 10000000\n[mqtt]",
        9,
        &["max_events = 10000000", "1 to 100000"],
    ),
    (
        "stall_timeout of a year",
        "calibration = \"dock1.calibration.toml\"",
        "calibration = \"dock1.calibration.toml\"\nstall_timeout = 31536000",
        14,
        &["stall_timeout = 31536000", "at most 3600"],
    ),
    (
        "a frame 100000 pixels wide",
        "kind = \"images\"\npath = \"frames\"\nfps = 10",
        "kind = \"ffmpeg\"\nurl = \"rtsp://cam/stream\"\nwidth = 100000\nheight = 480",
        18,
        &["width = 100000", "1 to 8192 pixels"],
    ),
    (
        "a frame 0 pixels tall",
        "kind = \"images\"\npath = \"frames\"\nfps = 10",
        "kind = \"v4l2\"\ndevice = \"/dev/video0\"\nwidth = 640\nheight = 0\nfps = 10",
        19,
        &["height = 0"],
    ),
    (
        "two rules with one Home Assistant id",
        "url = \"mqtt://127.0.0.1:1883\"",
        "url = \"mqtt://127.0.0.1:1883\"\nhome_assistant = true\n\n\
         [[camera]]\nname = \"dock1_a\"\n[camera.source]\nkind = \"images\"\npath = \"frames\"\nfps = 1\n\n\
         [[rule]]\nname = \"b\"\ncamera = \"dock1_a\"\nkind = \"min_distance\"\n\
         zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]\nalarm_below = 1.5\nclear_above = 1.8\n\n\
         [[rule]]\nname = \"a_b\"\ncamera = \"dock1\"\nkind = \"min_distance\"\n\
         zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]\nalarm_below = 1.5\nclear_above = 1.8\n",
        28,
        &["rule `a_b` on camera `dock1` has the Home Assistant id `dock1_a_b` of rule `b` on camera `dock1_a`"],
    ),
    (
        "a simulated model's errors on a real model",
        "head = \"head.safetensors\"",
        "head = \"head.safetensors\"\nnoise = 0.05",
        3,
        &["`noise` is not an option of the dinov2 model (options: backbone, head, classes)"],
    ),
    (
        "simulated errors past a depth model's",
        "kind = \"dinov2\"\nbackbone = \"backbone.onnx\"\nhead = \"head.safetensors\"",
        "kind = \"sim-truth\"\nnoise = 0.9",
        3,
        &["noise = 0.9", "0 to 0.5"],
    ),
    (
        "stats every month",
        "[mqtt]",
        "[pipeline]\nstats_interval = 2592000\n[mqtt]",
        9,
        &["stats_interval = 2592000", "at most 86400"],
    ),
];

#[test]
fn the_simulators_truth_takes_a_models_errors_and_time() {
    let site = Site::new();
    let model = "kind = \"dinov2\"\nbackbone = \"backbone.onnx\"\nhead = \"head.safetensors\"";
    let with =
        |fields: &str| site.load(&BASE.replace(model, &format!("kind = \"sim-truth\"\n{fields}"))).unwrap().model;
    assert_eq!(with(""), Model::SimTruth(SimTruth { noise: 0.0, noise_seed: 0, model_time: Duration::ZERO }));
    assert_eq!(
        with("noise = 0.05\nnoise_seed = 7\nmodel_time = 0.27"),
        Model::SimTruth(SimTruth { noise: 0.05, noise_seed: 7, model_time: Duration::from_millis(270) })
    );
}

/// Files written for an earlier dinoedge keep working: `for_frames` is read as seconds at the
/// 10 frames a second it was written for, `percentile` is dropped, and each says so.
#[test]
fn old_keys_are_read_and_said_to_be_old() {
    let site = Site::new();
    let rule =
        site.load(&BASE.replace("alarm_below = 1.5", "for_frames = 3\npercentile = 5\nalarm_below = 1.5")).unwrap();
    let rule = &rule.rules[0];
    let hold = Duration::from_millis(200);
    assert_eq!(rule.holds, Holds { raise_after: hold, clear_after: hold });
    assert_eq!(rule.deprecated.len(), 2, "{:?}", rule.deprecated);
    assert!(rule.deprecated.iter().any(|d| d.contains("percentile = 5 no longer applies")));
    assert!(rule.deprecated.iter().any(|d| d.contains("raise_after = clear_after = 0.2 s")));
    let fresh = site.load(BASE).unwrap();
    assert!(fresh.rules[0].deprecated.is_empty());
    assert_eq!(fresh.rules[0].holds, dinoedge_config::DEFAULT_HOLDS);
}

#[test]
fn a_rule_may_name_a_calibrated_zone_if_its_camera_has_a_calibration() {
    let site = Site::new();
    let named = BASE.replace("zone = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]", "zone = \"approach\"");
    let config = site.load(&named).unwrap();
    assert_eq!(config.rules[0].zone, dinoedge_config::ZoneRef::Named("approach".to_string().try_into().unwrap()));
    let err = site.load(&named.replace("calibration = \"dock1.calibration.toml\"\n", "")).unwrap_err();
    assert_eq!(err.at.map(|(l, _)| l), Some(23), "{err}");
    assert!(err.to_string().contains("zone `approach` is a calibrated zone's name"), "{err}");
}

#[test]
fn each_mistake_is_one_message_at_its_line() {
    let site = Site::new();
    for (what, from, to, line, words) in MISTAKES {
        assert!(BASE.contains(from), "{what}: the base has no `{from}`");
        let err = site.load(&BASE.replacen(from, to, 1)).expect_err(what);
        let shown = err.to_string();
        assert_eq!(err.file, site.path("dinoedge.toml"), "{what}");
        assert_eq!(err.at.map(|(l, _)| l), Some(*line), "{what}: {shown}");
        assert!(shown.starts_with(&format!("{}:{line}:", site.path("dinoedge.toml").display())), "{what}: {shown}");
        for word in *words {
            assert!(shown.contains(word), "{what}: `{word}` is not in: {shown}");
        }
    }
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    let err = dinoedge_config::load(Path::new("/nonexistent/dinoedge.toml")).unwrap_err();
    assert_eq!(err.at, None);
    assert!(err.to_string().starts_with("/nonexistent/dinoedge.toml: "), "{err}");
}

#[test]
fn a_file_without_cameras_says_so() {
    let site = Site::new();
    let err = site.load(&BASE[..BASE.find("[[camera]]").unwrap()]).unwrap_err();
    assert!(err.to_string().contains("missing field `camera`"), "{err}");
    let err = site.load(&format!("camera = []\n{}", &BASE[..BASE.find("[[camera]]").unwrap()])).unwrap_err();
    assert!(err.to_string().contains("expected at least one camera"), "{err}");
}
