//! The TOML schema as serde types, with the defaults the README and
//! `config/examples/dock.toml` document. Values whose correctness can be told from the value
//! alone (a name, a URL, a zone, a rule's thresholds) are checked while deserialising, so their
//! errors carry the span of the offending value; checks across the file live in `checks.rs`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::classes::{ClassSet, ObjectClass};
use crate::values::{BrokerUrl, Name, ZoneRef};

/// One daemon: its identity, model, broker, outbox, cameras and rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The box's name in MQTT topics and Home Assistant (letters, digits, `-`, `_`).
    pub device_id: Name,
    /// Where the outbox and caches live; default `$STATE_DIRECTORY` (systemd), else
    /// `/var/lib/dinoedge`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    pub model: Model,
    #[serde(default)]
    pub pipeline: Pipeline,
    #[serde(default)]
    pub mqtt: Mqtt,
    #[serde(default)]
    pub outbox: Outbox,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(rename = "camera")]
    pub cameras: Vec<Camera>,
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

/// What turns a frame into metric depth.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ModelToml")]
pub enum Model {
    /// A DINOv2 backbone (ONNX from `dinoedge model import|init|pull`) and its depth head: a
    /// trained head file, or none when the ONNX is an imported depth model, which carries
    /// its own (`dinoedge model pull --depth NAME`).
    /// With `classes`, a class head fitted on the backbone (`dinoedge heads train-classes`)
    /// labels each pixel too, from the same backbone pass.
    Dinov2 { backbone: PathBuf, head: Option<PathBuf>, classes: Option<PathBuf> },
    /// Tests, the demo and `bench alarms` only: each frame of an `images` source is paired with
    /// the simulator's exact depth and classes (`depth/NAME.png`, millimetres, and
    /// `class/NAME.png` beside the frame's `rgb/` folder), optionally made as wrong as a
    /// monocular model's and as slow as one.
    SimTruth(SimTruth),
}

/// What the `sim-truth` model does to the simulator's truth.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SimTruth {
    /// The level of the depth model's errors drawn over the truth (`noise`: 0.05 = "5 %"; see
    /// dinoedge-sim's `noise`); 0 is the exact truth.
    pub noise: f64,
    /// The seed of those errors (`noise_seed`).
    pub noise_seed: u64,
    /// How long each frame's depth takes (`model_time`), as a real model's would: the pace of
    /// the pipeline around it.
    pub model_time: Duration,
}

/// The highest `noise` level: beyond it the errors are not a depth model's.
pub const MAX_SIM_NOISE: f64 = 0.5;
/// The longest `model_time`.
const MAX_MODEL_TIME_S: f64 = 10.0;

impl Model {
    /// Whether the model labels each pixel with an [`ObjectClass`] too.
    pub fn gives_classes(&self) -> bool {
        matches!(self, Model::SimTruth(_) | Model::Dinov2 { classes: Some(_), .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Dinov2,
    SimTruth,
}

/// `[model]` as written: the fields of every kind, checked against the kind in `TryFrom`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelToml {
    kind: ModelKind,
    backbone: Option<PathBuf>,
    head: Option<PathBuf>,
    classes: Option<PathBuf>,
    noise: Option<f64>,
    noise_seed: Option<u64>,
    model_time: Option<f64>,
}

impl TryFrom<ModelToml> for Model {
    type Error = String;

    fn try_from(m: ModelToml) -> Result<Self, String> {
        let set = [
            ("backbone", m.backbone.is_some()),
            ("head", m.head.is_some()),
            ("classes", m.classes.is_some()),
            ("noise", m.noise.is_some()),
            ("noise_seed", m.noise_seed.is_some()),
            ("model_time", m.model_time.is_some()),
        ];
        match m.kind {
            ModelKind::Dinov2 => {
                only(&set, "the dinov2 model", &["backbone", "head", "classes"])?;
                let backbone = m.backbone.ok_or("the dinov2 model needs `backbone`, an ONNX file")?;
                Ok(Model::Dinov2 { backbone, head: m.head, classes: m.classes })
            }
            ModelKind::SimTruth => {
                only(&set, "the sim-truth model", &["noise", "noise_seed", "model_time"])?;
                let noise = m.noise.unwrap_or(0.0);
                if !(0.0..=MAX_SIM_NOISE).contains(&noise) {
                    return Err(format!("noise = {noise}: expected a level from 0 to {MAX_SIM_NOISE} (0.05 is 5 %)"));
                }
                let model_time = m.model_time.unwrap_or(0.0);
                if !(0.0..=MAX_MODEL_TIME_S).contains(&model_time) {
                    return Err(format!("model_time = {model_time}: expected seconds from 0 to {MAX_MODEL_TIME_S}"));
                }
                Ok(Model::SimTruth(SimTruth {
                    noise,
                    noise_seed: m.noise_seed.unwrap_or(0),
                    model_time: Duration::from_secs_f64(model_time),
                }))
            }
        }
    }
}

/// Refuses options given (`set`) that are not among `allowed` for `what`.
fn only(set: &[(&str, bool)], what: &str, allowed: &[&str]) -> Result<(), String> {
    match set.iter().find(|(name, given)| *given && !allowed.contains(name)) {
        Some((name, _)) if allowed.is_empty() => Err(format!("`{name}` is not an option of {what}")),
        Some((name, _)) => Err(format!("`{name}` is not an option of {what} (options: {})", allowed.join(", "))),
        None => Ok(()),
    }
}

/// The inference side.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pipeline {
    /// Threads of the matrix products (tract's pool), shared by all cameras.
    pub threads: usize,
    /// Period of the `stats` message and log line.
    #[serde(with = "seconds")]
    pub stats_interval: Duration,
    /// READY=1 is sent when every camera has produced a processed frame, or after this long.
    #[serde(with = "seconds")]
    pub ready_timeout: Duration,
    /// The float precision of the model.
    pub precision: Precision,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self {
            threads: 2,
            stats_interval: Duration::from_secs(60),
            ready_timeout: Duration::from_secs(60),
            precision: Precision::Auto,
        }
    }
}

/// `[pipeline] precision`: the model's float precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f16 where the CPU computes in half precision (ARM FEAT_FP16: Cortex-A76, A78AE), else f32.
    Auto,
    F32,
    /// Half precision for the matrix products, convolutions and element-wise work; the
    /// LayerNorms, softmaxes, reductions and resizes stay f32.
    F16,
}

/// The broker and what is published on it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mqtt {
    /// `mqtt://host[:1883]` or `mqtts://host[:8883]`.
    pub url: BrokerUrl,
    /// Default `dinoedge-<device_id>`.
    pub client_id: Option<String>,
    pub username: Option<String>,
    /// A file holding the password (trailing newline ignored); never logged.
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password; never logged.
    pub password_env: Option<String>,
    /// PEM CA bundle for `mqtts://`; default the system's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for brokers that require them.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    #[serde(with = "seconds")]
    pub keep_alive: Duration,
    /// Topic prefix; default `dinoedge/<device_id>`.
    pub prefix: Option<String>,
    /// While an alarm lasts, an `update` event at most this often.
    #[serde(with = "seconds")]
    pub update_interval: Duration,
    /// Home Assistant MQTT discovery (a binary_sensor and a distance sensor per rule).
    pub home_assistant: bool,
    pub discovery_prefix: String,
    /// A JPEG with the zone and distance drawn, on `<camera>/snapshot` at each alarm start.
    pub snapshots: bool,
}

impl Default for Mqtt {
    fn default() -> Self {
        Self {
            url: BrokerUrl::default(),
            client_id: None,
            username: None,
            password_file: None,
            password_env: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            keep_alive: Duration::from_secs(30),
            prefix: None,
            update_interval: Duration::from_secs(5),
            home_assistant: false,
            discovery_prefix: "homeassistant".into(),
            snapshots: false,
        }
    }
}

/// The on-disk queue of events not yet acknowledged by the broker.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbox {
    /// Pending events kept at most; when full the oldest `update` goes first, never a
    /// `start` or an `end`.
    pub max_events: usize,
}

impl Default for Outbox {
    fn default() -> Self {
        Self { max_events: 10_000 }
    }
}

/// The Prometheus endpoint: `GET /metrics` on `listen`; off when `listen` is not set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub listen: Option<std::net::SocketAddr>,
}

/// One camera.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    pub name: Name,
    pub source: Source,
    /// The file `dinoedge calibrate` writes (camera model, depth alignment, planes,
    /// background). Needed by `plane_distance` rules.
    #[serde(default)]
    pub calibration: Option<PathBuf>,
    /// No frame for this long: the source is restarted (with backoff) and reported down.
    #[serde(default = "default_stall", with = "seconds")]
    pub stall_timeout: Duration,
    /// When the model runs on this camera's frames.
    #[serde(default)]
    pub gate: Gate,
}

fn default_stall() -> Duration {
    Duration::from_secs(10)
}

/// `[camera.gate]`: change-gated inference. A frame whose picture has not changed since the
/// last frame the model ran on (no cell of a rule's zone, and less than `area` of the frame,
/// changed by more than `level`) is not run through the model: the rules measure again on the
/// last depth and classes. The model still runs at least every `max_skip`, and on every frame
/// while a rule is in alarm or counting towards a change.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gate {
    pub enabled: bool,
    /// A cell (16×16 pixels) has changed when its 4×4-pixel means moved by more than this
    /// on average, in luma levels (0–255).
    pub level: f64,
    /// The model runs when at least this fraction of the frame's cells changed, in a zone
    /// or not (a light switched, the camera knocked).
    pub area: f64,
    /// The model runs at least this often, changed or not.
    #[serde(with = "seconds")]
    pub max_skip: Duration,
}

impl Default for Gate {
    fn default() -> Self {
        Self { enabled: true, level: 4.0, area: 0.05, max_skip: Duration::from_secs(2) }
    }
}

/// Where a camera's frames come from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "SourceToml")]
pub enum Source {
    /// A USB or CSI camera through V4L2.
    V4l2 {
        /// An index (`0`) or a device path (`/dev/video0`).
        device: String,
        width: u32,
        height: u32,
        fps: u32,
        format: PixelFormat,
    },
    /// Anything `ffmpeg` reads: RTSP/HTTP streams, video files.
    Ffmpeg {
        url: String,
        /// Frames are scaled to this size by ffmpeg.
        width: u32,
        height: u32,
        /// Read a file at its native frame rate (`-re`), as a camera would deliver it; a file
        /// read without it is a replay (every frame, on the file's clock). Streams are live.
        realtime: bool,
        /// Extra input options, e.g. `["-rtsp_transport", "tcp"]`.
        input_args: Vec<String>,
    },
    /// PNG/JPEG files: a folder (sorted by name) or a glob, played at `fps` (`realtime`, live:
    /// frames inference cannot keep up with are dropped) or replayed (every frame, stamped
    /// `1/fps` apart, as fast as inference takes them).
    Images { path: String, fps: f64, looping: bool, realtime: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    V4l2,
    Ffmpeg,
    Images,
}

/// `[camera.source]` as written: the fields of every kind, checked against the kind in
/// `TryFrom` (so a wrong value keeps its own line in errors).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceToml {
    kind: SourceKind,
    device: Option<String>,
    url: Option<String>,
    path: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    fps: Option<f64>,
    format: Option<PixelFormat>,
    realtime: Option<bool>,
    input_args: Option<Vec<String>>,
    #[serde(rename = "loop")]
    looping: Option<bool>,
}

impl TryFrom<SourceToml> for Source {
    type Error = String;

    fn try_from(s: SourceToml) -> Result<Self, String> {
        let set = [
            ("device", s.device.is_some()),
            ("url", s.url.is_some()),
            ("path", s.path.is_some()),
            ("width", s.width.is_some()),
            ("height", s.height.is_some()),
            ("fps", s.fps.is_some()),
            ("format", s.format.is_some()),
            ("realtime", s.realtime.is_some()),
            ("input_args", s.input_args.is_some()),
            ("loop", s.looping.is_some()),
        ];
        let need = |what: &str, field: &str| format!("{what} sources need `{field}`");
        match s.kind {
            SourceKind::V4l2 => {
                only(&set, "v4l2 sources", &["device", "width", "height", "fps", "format"])?;
                let fps = s.fps.ok_or_else(|| need("v4l2", "fps"))?;
                if fps.fract() != 0.0 || !(1.0..=1000.0).contains(&fps) {
                    return Err(format!("fps = {fps}: a v4l2 camera takes a whole number of frames per second"));
                }
                Ok(Source::V4l2 {
                    device: s.device.ok_or_else(|| need("v4l2", "device"))?,
                    width: s.width.ok_or_else(|| need("v4l2", "width"))?,
                    height: s.height.ok_or_else(|| need("v4l2", "height"))?,
                    fps: fps as u32,
                    format: s.format.unwrap_or_default(),
                })
            }
            SourceKind::Ffmpeg => {
                only(&set, "ffmpeg sources", &["url", "width", "height", "realtime", "input_args"])?;
                Ok(Source::Ffmpeg {
                    url: s.url.ok_or_else(|| need("ffmpeg", "url"))?,
                    width: s.width.ok_or_else(|| need("ffmpeg", "width"))?,
                    height: s.height.ok_or_else(|| need("ffmpeg", "height"))?,
                    realtime: s.realtime.unwrap_or(true),
                    input_args: s.input_args.unwrap_or_default(),
                })
            }
            SourceKind::Images => {
                only(&set, "images sources", &["path", "fps", "loop", "realtime"])?;
                Ok(Source::Images {
                    path: s.path.ok_or_else(|| need("images", "path"))?,
                    fps: s.fps.ok_or_else(|| need("images", "fps"))?,
                    looping: s.looping.unwrap_or(false),
                    realtime: s.realtime.unwrap_or(true),
                })
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    #[default]
    Mjpeg,
    Yuyv,
}

/// A distance rule on one camera's zone, as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleToml {
    pub name: Name,
    pub camera: Name,
    pub kind: RuleKind,
    /// A polygon, or the name of a zone drawn at calibration.
    pub zone: ZoneRef,
    /// No longer read: the distance is the nearest part's (see the daemon's `rules::parts`).
    #[serde(default)]
    pub percentile: Option<f64>,
    /// `plane_distance`: the calibrated plane's name.
    #[serde(default)]
    pub plane: Option<Name>,
    /// `plane_distance`: how much closer than the empty scene a pixel must be, at least, to
    /// count as something standing in the zone (more where the scene's depth spreads more);
    /// default 0.1 m (not with `objects`).
    #[serde(default)]
    pub margin_m: Option<f64>,
    /// `min_distance`, `plane_distance`: only pixels of these classes count.
    #[serde(default)]
    pub objects: Option<ClassSet>,
    /// `object_distance`: the distance from the pixels of this class …
    #[serde(default)]
    pub from: Option<ObjectClass>,
    /// … to the nearest pixels of this one.
    #[serde(default)]
    pub to: Option<ObjectClass>,
    pub alarm_below: f64,
    pub clear_above: f64,
    /// Seconds the distance must stay below `alarm_below` before the alarm starts.
    #[serde(default)]
    pub raise_after: Option<f64>,
    /// Seconds it must stay above `clear_above` (or nothing measured) before the alarm ends.
    #[serde(default)]
    pub clear_after: Option<f64>,
    /// No longer read as such: a count of frames, converted to `raise_after` and `clear_after`.
    #[serde(default)]
    pub for_frames: Option<u32>,
    /// Raise on the distance predicted for when the alarm would reach its subscribers.
    #[serde(default = "yes")]
    pub lead: bool,
    /// Seconds added to that prediction: what the subscriber needs to act.
    #[serde(default)]
    pub reaction_time: Option<f64>,
    #[serde(default, rename = "cooldown")]
    pub cooldown_s: f64,
    #[serde(default)]
    pub severity: Severity,
}

fn yes() -> bool {
    true
}

/// A rule's `kind`, as the config file and the MQTT events spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    MinDistance,
    PlaneDistance,
    ObjectDistance,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::MinDistance => "min_distance",
            RuleKind::PlaneDistance => "plane_distance",
            RuleKind::ObjectDistance => "object_distance",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

/// A validated rule: what it measures, and when it raises and clears.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RuleToml")]
pub struct Rule {
    pub name: Name,
    pub camera: Name,
    pub zone: ZoneRef,
    pub measure: Measure,
    pub hysteresis: Hysteresis,
    /// How long past a threshold before raising, and before clearing.
    pub holds: Holds,
    /// With `Some(reaction_time)`, the rule raises on the distance it predicts for when the
    /// alarm would reach its subscribers, plus the reaction time, from the closing speed over
    /// the last second; with `None`, on the distance now.
    pub lead: Option<Duration>,
    /// After an alarm ends, no new one starts for this long.
    pub cooldown: Duration,
    pub severity: Severity,
    /// What the file says that no longer applies, and how it was read instead: the daemon and
    /// `check-config` say it when they load the file.
    pub deprecated: Vec<String>,
}

impl Rule {
    /// The rule's object id in Home Assistant discovery, `<camera>_<rule>`. Two rules' ids can
    /// coincide (`dock` + `1_x`, `dock_1` + `x`); with discovery on, the config refuses that.
    pub fn object_id(&self) -> String {
        format!("{}_{}", self.camera, self.name)
    }
}

/// What a rule measures in its zone.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// The nearest metric depth (z distance from the camera) of the parts of the zone, or of
    /// the `objects`' parts.
    MinDistance { objects: Option<ClassSet> },
    /// The nearest distance to `plane` of the parts of the zone that are `foreground`.
    PlaneDistance { plane: Name, foreground: Foreground },
    /// The nearest 3D distance from the parts of class `from` to those of class `to` (`from` ≠
    /// `to`).
    ObjectDistance { from: ObjectClass, to: ObjectClass },
}

/// Which pixels of a zone a `plane_distance` rule measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Foreground {
    /// Those nearer than the calibrated empty scene by more than its spread allows there, and by
    /// more than `margin_m`: geometry alone.
    StandsOut { margin_m: f64 },
    /// Those of these classes that are not the empty scene itself (a fork on the floor
    /// included).
    Objects(ClassSet),
}

impl Measure {
    pub fn kind(&self) -> RuleKind {
        match self {
            Measure::MinDistance { .. } => RuleKind::MinDistance,
            Measure::PlaneDistance { .. } => RuleKind::PlaneDistance,
            Measure::ObjectDistance { .. } => RuleKind::ObjectDistance,
        }
    }

    /// The classes the rule counts, if it counts classes at all (what its events name).
    pub fn objects(&self) -> Option<Vec<ObjectClass>> {
        match *self {
            Measure::MinDistance { objects, .. } => objects.map(|set| set.iter().collect()),
            Measure::PlaneDistance { foreground: Foreground::Objects(set), .. } => Some(set.iter().collect()),
            Measure::PlaneDistance { foreground: Foreground::StandsOut { .. }, .. } => None,
            Measure::ObjectDistance { from, to, .. } => Some(vec![from, to]),
        }
    }

    /// Whether the rule needs a class map of each frame.
    pub fn needs_classes(&self) -> bool {
        self.objects().is_some()
    }
}

/// How long the distance must stay past a threshold before the alarm starts (`raise_after`)
/// and before it ends (`clear_after`), by the frames' capture times: the same on a slow box as
/// on a fast one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holds {
    pub raise_after: Duration,
    pub clear_after: Duration,
}

/// The default holds: an alarm starts once the (predicted) distance has been below the
/// threshold for a quarter of a second (on one frame's error alone, at any pace, it does not),
/// and ends a second after the distance went back above the other (`dinoedge bench alarms`,
/// BENCHMARKS.md, is the evidence).
pub const DEFAULT_HOLDS: Holds = Holds { raise_after: Duration::from_millis(250), clear_after: Duration::from_secs(1) };
/// The default reaction time added to the prediction.
pub const DEFAULT_REACTION_TIME: Duration = Duration::ZERO;
/// The longest hold.
const MAX_HOLD_S: f64 = 60.0;
/// The longest reaction time.
const MAX_REACTION_TIME_S: f64 = 5.0;

/// Raise below `alarm_below`, clear above `clear_above` (metres; `alarm_below < clear_above`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hysteresis {
    pub alarm_below: f64,
    pub clear_above: f64,
}

impl TryFrom<RuleToml> for Rule {
    type Error = String;

    fn try_from(r: RuleToml) -> Result<Self, String> {
        let named = |msg: String| format!("rule `{}`: {msg}", r.name);
        let measure = measure(&r).map_err(named)?;
        let mut deprecated = Vec::new();
        if let Some(p) = r.percentile {
            deprecated.push(named(format!(
                "percentile = {p} no longer applies: the distance is the object's nearest part, whatever the size \
                 of the rest of it (README, \"Rules\"); remove the line"
            )));
        }
        if !(r.alarm_below.is_finite() && r.alarm_below > 0.0) {
            return Err(named(format!("alarm_below = {}: expected metres above 0", r.alarm_below)));
        }
        if !(r.clear_above.is_finite() && r.clear_above > r.alarm_below) {
            return Err(named(format!(
                "clear_above = {} must be above alarm_below = {} (the gap is the hysteresis)",
                r.clear_above, r.alarm_below
            )));
        }
        let seconds = |key: &str, value: Option<f64>, most: f64, default: Duration| match value {
            None => Ok(default),
            Some(v) if (0.0..=most).contains(&v) => Ok(Duration::from_secs_f64(v)),
            Some(v) => Err(named(format!("{key} = {v}: expected seconds from 0 to {most}"))),
        };
        let raise_after = seconds("raise_after", r.raise_after, MAX_HOLD_S, DEFAULT_HOLDS.raise_after)?;
        let clear_after = seconds("clear_after", r.clear_after, MAX_HOLD_S, DEFAULT_HOLDS.clear_after)?;
        let mut holds = Holds { raise_after, clear_after };
        if let Some(frames) = r.for_frames {
            if r.raise_after.is_some() || r.clear_after.is_some() {
                return Err(named(format!(
                    "for_frames = {frames} counts frames; give raise_after and clear_after (seconds) instead, not both"
                )));
            }
            // Read as holds of (frames - 1) tenths of a second: bounded as those are.
            let most = (MAX_HOLD_S * 10.0) as u32 + 1;
            if !(1..=most).contains(&frames) {
                return Err(named(format!("for_frames = {frames}: expected 1 to {most}")));
            }
            let hold = Duration::from_millis(100 * u64::from(frames - 1));
            holds = Holds { raise_after: hold, clear_after: hold };
            deprecated.push(named(format!(
                "for_frames = {frames} counted frames, so a slower box waited longer: it is read as raise_after = \
                 clear_after = {} s ({frames} frames at 10 a second); write those (or remove the line for the \
                 defaults, {} s and {} s)",
                hold.as_secs_f64(),
                DEFAULT_HOLDS.raise_after.as_secs_f64(),
                DEFAULT_HOLDS.clear_after.as_secs_f64(),
            )));
        }
        let reaction_time = seconds("reaction_time", r.reaction_time, MAX_REACTION_TIME_S, DEFAULT_REACTION_TIME)?;
        if !r.lead && r.reaction_time.is_some() {
            return Err(named("reaction_time is added to the prediction, and lead = false predicts nothing".into()));
        }
        if !(0.0..=MAX_COOLDOWN_S).contains(&r.cooldown_s) {
            return Err(named(format!(
                "cooldown = {}: expected seconds from 0 to {MAX_COOLDOWN_S} (a day)",
                r.cooldown_s
            )));
        }
        Ok(Rule {
            name: r.name,
            camera: r.camera,
            zone: r.zone,
            measure,
            hysteresis: Hysteresis { alarm_below: r.alarm_below, clear_above: r.clear_above },
            holds,
            lead: r.lead.then_some(reaction_time),
            cooldown: Duration::from_secs_f64(r.cooldown_s),
            severity: r.severity,
            deprecated,
        })
    }
}

/// The least a pixel must stand out of the empty scene by, by default: the top of fork tines
/// (15 cm off the floor) stands out of the floor behind it by more along the camera's ray.
pub const DEFAULT_MARGIN_M: f64 = 0.1;

/// The longest cooldown: a rule silenced for longer than a day is a rule switched off.
const MAX_COOLDOWN_S: f64 = 24.0 * 3600.0;

/// What `r` measures: its kind's fields, present and sane, and no other kind's.
fn measure(r: &RuleToml) -> Result<Measure, String> {
    let set = [
        ("plane", r.plane.is_some()),
        ("margin_m", r.margin_m.is_some()),
        ("objects", r.objects.is_some()),
        ("from", r.from.is_some()),
        ("to", r.to.is_some()),
    ];
    let allowed: &[&str] = match r.kind {
        RuleKind::MinDistance => &["objects"],
        RuleKind::PlaneDistance => &["plane", "margin_m", "objects"],
        RuleKind::ObjectDistance => &["from", "to"],
    };
    let kind = r.kind.as_str();
    if let Some((field, _)) = set.iter().find(|(f, present)| *present && !allowed.contains(f)) {
        return Err(format!("`{field}` does not apply to {kind} rules (theirs: {})", allowed.join(", ")));
    }
    Ok(match r.kind {
        RuleKind::MinDistance => Measure::MinDistance { objects: r.objects },
        RuleKind::PlaneDistance => {
            let plane = r.plane.clone().ok_or("plane_distance needs `plane`, a calibrated plane's name".to_string())?;
            let foreground = match (r.objects, r.margin_m) {
                (Some(_), Some(_)) => {
                    return Err("`margin_m` or `objects`, not both: with `objects` the classes pick the pixels, \
                                whether or not they stand out of the empty scene"
                        .into());
                }
                (Some(objects), None) => Foreground::Objects(objects),
                (None, margin_m) => {
                    let margin_m = margin_m.unwrap_or(DEFAULT_MARGIN_M);
                    if !(margin_m.is_finite() && margin_m >= 0.0) {
                        return Err(format!("margin_m = {margin_m}: expected metres ≥ 0"));
                    }
                    Foreground::StandsOut { margin_m }
                }
            };
            Measure::PlaneDistance { plane, foreground }
        }
        RuleKind::ObjectDistance => {
            let need = |field: &str| format!("object_distance needs `{field}`, a class ({})", ObjectClass::names());
            let (from, to) = (r.from.ok_or_else(|| need("from"))?, r.to.ok_or_else(|| need("to"))?);
            if from == to {
                return Err(format!("from = to = \"{from}\": the distance between two different classes"));
            }
            Measure::ObjectDistance { from, to }
        }
    })
}

/// Durations are written as seconds (integer or float), must be finite and ≥ 0.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(|_| D::Error::custom(format!("{s}: expected seconds ≥ 0")))
    }
}
