//! Checks across the file, after deserialising: references between sections (a rule's camera),
//! unique names, files that must exist, options that go together, and numbers that must be
//! positive. Each failure names the path of the value, which `locate` turns into a line.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use crate::locate::Seg::{self, Index, Key};
use crate::schema::{Config, Gate, Measure, Model, Rule, Source};
use crate::values::ZoneRef;

pub struct Invalid {
    pub at: Vec<Seg>,
    pub message: String,
}

fn invalid(at: Vec<Seg>, message: impl Into<String>) -> Result<(), Invalid> {
    Err(Invalid { at, message: message.into() })
}

fn must_exist(at: Vec<Seg>, what: &str, path: &Path) -> Result<(), Invalid> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => invalid(at, format!("{what} {} is a folder, not a file", path.display())),
        Ok(_) => invalid(at, format!("{what} {} is not a regular file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            invalid(at, format!("{what} {} does not exist", path.display()))
        }
        Err(e) => invalid(at, format!("{what} {}: {e}", path.display())),
    }
}

pub fn check(config: &Config) -> Result<(), Invalid> {
    if let Model::Dinov2 { backbone, head, classes } = &config.model {
        must_exist(vec![Key("model"), Key("backbone")], "the backbone", backbone)?;
        if let Some(head) = head {
            must_exist(vec![Key("model"), Key("head")], "the depth head", head)?;
        }
        if let Some(classes) = classes {
            must_exist(vec![Key("model"), Key("classes")], "the class head", classes)?;
        }
    }
    let threads = config.pipeline.threads;
    let most = max_threads();
    if !(1..=most).contains(&threads) {
        invalid(
            vec![Key("pipeline"), Key("threads")],
            format!("threads = {threads}: expected 1 to {most} (four per core of this machine)"),
        )?;
    }
    let pipeline = |key| vec![Key("pipeline"), Key(key)];
    period(pipeline("stats_interval"), config.pipeline.stats_interval, DAY)?;
    period(pipeline("ready_timeout"), config.pipeline.ready_timeout, HOUR)?;
    check_mqtt(config)?;
    let max_events = config.outbox.max_events;
    if !(1..=MAX_OUTBOX_EVENTS).contains(&max_events) {
        let why = format!(
            "max_events = {max_events}: expected 1 to {MAX_OUTBOX_EVENTS} (each pending event is held in memory too)"
        );
        invalid(vec![Key("outbox"), Key("max_events")], &why)?;
    }
    check_cameras(config)?;
    check_rules(config)
}

fn check_mqtt(config: &Config) -> Result<(), Invalid> {
    let m = &config.mqtt;
    let at = |key| vec![Key("mqtt"), Key(key)];
    if m.password_file.is_some() && m.password_env.is_some() {
        invalid(at("password_env"), "give password_file or password_env, not both")?;
    }
    if (m.password_file.is_some() || m.password_env.is_some()) && m.username.is_none() {
        invalid(at("username"), "a password needs a username")?;
    }
    if let Some(file) = &m.password_file {
        must_exist(at("password_file"), "the password file", file)?;
    }
    if m.client_cert.is_some() != m.client_key.is_some() {
        invalid(
            at(if m.client_cert.is_some() { "client_cert" } else { "client_key" }),
            "give both client_cert and client_key",
        )?;
    }
    for (key, file) in [("ca_file", &m.ca_file), ("client_cert", &m.client_cert), ("client_key", &m.client_key)] {
        if let Some(file) = file {
            if !m.url.tls {
                invalid(at(key), format!("{key} needs an mqtts:// url, not {}", m.url))?;
            }
            must_exist(at(key), key, file)?;
        }
    }
    period(at("update_interval"), m.update_interval, HOUR)?;
    // MQTT carries the keep-alive as 16-bit whole seconds.
    let keep_alive = m.keep_alive.as_secs_f64();
    if !(1.0..=u16::MAX as f64).contains(&keep_alive) {
        invalid(at("keep_alive"), format!("keep_alive = {keep_alive}: expected 1 to {} seconds", u16::MAX))?;
    }
    if let Some(prefix) = &m.prefix
        && (prefix.is_empty() || prefix.starts_with('/') || prefix.ends_with('/') || prefix.contains(['+', '#']))
    {
        invalid(
            at("prefix"),
            format!("prefix `{prefix}`: expected topic levels without `+`, `#` or a leading or trailing `/`"),
        )?;
    }
    Ok(())
}

/// The gate's values, bounded by what they mean: a luma level a sensor's noise stays under and
/// a moving object stands out from, a fraction, and a refresh period short enough that a
/// stale depth never lasts.
fn check_gate(gate: &Gate, at: impl Fn(&'static str) -> Vec<Seg>) -> Result<(), Invalid> {
    if !GATE_LEVEL.contains(&gate.level) {
        invalid(at("level"), format!("level = {}: expected luma levels within 0.5–64", gate.level))?;
    }
    if !(gate.area > 0.0 && gate.area <= 1.0) {
        invalid(at("area"), format!("area = {}: expected a fraction of the frame above 0, at most 1", gate.area))?;
    }
    period(at("max_skip"), gate.max_skip, GATE_MAX_SKIP)
}

const GATE_LEVEL: std::ops::RangeInclusive<f64> = 0.5..=64.0;
const GATE_MAX_SKIP: Duration = Duration::from_secs(30);

fn check_cameras(config: &Config) -> Result<(), Invalid> {
    if config.cameras.is_empty() {
        invalid(vec![], "no [[camera]]: expected at least one camera")?;
    }
    let mut names = HashSet::new();
    for (i, camera) in config.cameras.iter().enumerate() {
        let at = |key| vec![Key("camera"), Index(i), Key(key)];
        if !names.insert(&camera.name) {
            invalid(at("name"), format!("a second camera named `{}`", camera.name))?;
        }
        if let Some(file) = &camera.calibration {
            must_exist(at("calibration"), "the calibration file", file)?;
        }
        period(at("stall_timeout"), camera.stall_timeout, HOUR)?;
        check_gate(&camera.gate, |key| vec![Key("camera"), Index(i), Key("gate"), Key(key)])?;
        let source = |key| vec![Key("camera"), Index(i), Key("source"), Key(key)];
        let (size, fps) = match &camera.source {
            Source::V4l2 { width, height, fps, .. } => (Some((*width, *height)), Some(*fps as f64)),
            Source::Ffmpeg { width, height, .. } => (Some((*width, *height)), None),
            Source::Images { fps, .. } => (None, Some(*fps)),
        };
        if let Some((width, height)) = size {
            for (key, pixels) in [("width", width), ("height", height)] {
                if !(1..=MAX_FRAME_SIDE).contains(&pixels) {
                    invalid(source(key), format!("{key} = {pixels}: expected 1 to {MAX_FRAME_SIDE} pixels"))?;
                }
            }
        }
        if let Some(fps) = fps {
            check_fps(fps, camera.stall_timeout, source("fps"))?;
        }
        if let Source::Images { path, .. } = &camera.source
            && !Path::new(path).is_dir()
            && !has_glob(path)
        {
            invalid(source("path"), format!("{path} is neither a folder nor a glob pattern"))?;
        }
        if matches!(config.model, Model::SimTruth(_)) && !matches!(camera.source, Source::Images { .. }) {
            invalid(source("kind"), "the sim-truth model reads depth beside image files: only `images` sources")?;
        }
    }
    Ok(())
}

/// A camera's frame rate: frames must come more often than the stall timeout, or the camera
/// is never up; and no camera or replay delivers more than [`MAX_FPS`].
fn check_fps(fps: f64, stall_timeout: Duration, at: Vec<Seg>) -> Result<(), Invalid> {
    if !(fps > 0.0 && fps <= MAX_FPS) {
        return invalid(at, format!("fps = {fps}: expected frames per second above 0, at most {MAX_FPS}"));
    }
    let every = 1.0 / fps;
    if every >= stall_timeout.as_secs_f64() {
        return invalid(
            at,
            format!(
                "fps = {fps}: a frame every {every} s, and the camera's stall_timeout = {} s would call it down \
                 between any two frames (raise fps or stall_timeout)",
                stall_timeout.as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// A duration above 0 and at most `most`: a period that must pass, bounded by what it is for.
fn period(at: Vec<Seg>, d: Duration, most: Duration) -> Result<(), Invalid> {
    if !d.is_zero() && d <= most {
        return Ok(());
    }
    let key = match at.last() {
        Some(Key(key)) => *key,
        _ => "value",
    };
    invalid(at, format!("{key} = {}: expected seconds above 0, at most {}", d.as_secs_f64(), most.as_secs()))
}

/// The matrix-product threads worth having: four per core this machine has.
fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 4
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Widest and tallest frame taken (8K is 7680 × 4320), here and in a calibration's camera.
pub const MAX_FRAME_SIDE: u32 = 8192;
const MAX_FPS: f64 = 1000.0;
/// Pending events at most: a few kilobytes of memory each, some hundreds of megabytes in all.
const MAX_OUTBOX_EVENTS: usize = 100_000;

fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

fn check_rules(config: &Config) -> Result<(), Invalid> {
    let mut names = HashSet::new();
    let mut object_ids: HashMap<String, &Rule> = HashMap::new();
    for (i, rule) in config.rules.iter().enumerate() {
        let at = |key| vec![Key("rule"), Index(i), Key(key)];
        let Some(camera) = config.camera(&rule.camera) else {
            let known: Vec<_> = config.cameras.iter().map(|c| c.name.as_str()).collect();
            return invalid(
                at("camera"),
                format!("rule `{}`: no camera named `{}` (cameras: {})", rule.name, rule.camera, known.join(", ")),
            );
        };
        if !names.insert((&rule.camera, &rule.name)) {
            invalid(at("name"), format!("a second rule named `{}` on camera `{}`", rule.name, rule.camera))?;
        }
        // (After the check above: two ids that coincide here belong to two different rules.)
        if config.mqtt.home_assistant
            && let Some(other) = object_ids.insert(rule.object_id(), rule)
        {
            invalid(
                at("name"),
                format!(
                    "rule `{}` on camera `{}` has the Home Assistant id `{}` of rule `{}` on camera `{}`: \
                     rename one, or their entities would be one",
                    rule.name,
                    rule.camera,
                    rule.object_id(),
                    other.name,
                    other.camera
                ),
            )?;
        }
        if let ZoneRef::Named(zone) = &rule.zone
            && camera.calibration.is_none()
        {
            invalid(
                at("zone"),
                format!(
                    "rule `{}`: zone `{zone}` is a calibrated zone's name, and camera `{}` has no `calibration` file",
                    rule.name, camera.name
                ),
            )?;
        }
        if let Measure::PlaneDistance { .. } | Measure::ObjectDistance { .. } = rule.measure
            && camera.calibration.is_none()
        {
            invalid(
                at("kind"),
                format!(
                    "rule `{}`: {} needs camera `{}` to have a `calibration` file",
                    rule.name,
                    rule.measure.kind().as_str(),
                    camera.name
                ),
            )?;
        }
        if rule.measure.needs_classes() && !config.model.gives_classes() {
            let field = if matches!(rule.measure, Measure::ObjectDistance { .. }) { "from" } else { "objects" };
            invalid(
                at(field),
                format!(
                    "rule `{}`: counts object classes, and the model gives none (give [model] `classes`, a \
                     class head from `dinoedge heads train-classes`; the sim-truth model gives the simulator's)",
                    rule.name
                ),
            )?;
        }
    }
    Ok(())
}
