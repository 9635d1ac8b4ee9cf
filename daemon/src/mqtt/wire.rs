//! The MQTT payloads, as serde types: the one place the wire format is written down in code.
//! Every JSON message dinoedge publishes is one of these, serialised; the names of kinds,
//! states and severities are their enums' serde names. The README's "MQTT topics" section
//! shows an example of each, and `tests/wire_format.rs` parses every example into its type
//! and back, so the README and the code cannot drift apart.
//!
//! | topic | type |
//! |---|---|
//! | `events` | [`Event`] |
//! | `<camera>/<rule>/state` | [`RuleState`] |
//! | `<camera>/status` | [`CameraStatus`] |
//! | `stats` | [`Stats`] |
//! | Home Assistant `…/config` | [`Discovery`] |
//!
//! `availability` carries the bare strings `online` and `offline`, and `<camera>/snapshot` a JPEG.

use std::collections::BTreeMap;
use std::time::SystemTime;

use dinoedge_config::{Name, ObjectClass, RuleKind, Severity};
use serde::{Deserialize, Serialize};

use crate::outbox::EventKind;

/// Wall-clock time as RFC 3339 UTC with milliseconds (`2026-11-26T17:09:56.913Z`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    /// The moment, if this is an RFC 3339 time.
    pub fn to_system_time(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.0).ok()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(humantime::format_rfc3339_millis(t).to_string())
    }
}

/// A wire type as JSON. Their fields are strings, numbers and maps with string keys, which
/// serde_json always writes (a non-finite number as `null`).
pub fn to_json(payload: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(payload).expect("the wire types serialise to JSON")
}

/// `x` rounded to `decimals` places: distances go out to the millimetre, durations to the
/// millisecond, frame rates to the hundredth.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// An alarm event on `events`: a rule's alarm started, was updated, or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `type` and the distances, by kind of event.
    #[serde(flatten)]
    pub change: Change,
    /// Unique for ever (a random epoch drawn at each start and a sequence number): deduplicate on it.
    pub id: String,
    /// The id of the `start` this event belongs to (a `start`'s own id).
    pub alarm: String,
    pub device: Name,
    pub camera: Name,
    pub rule: Name,
    pub kind: RuleKind,
    /// The classes the rule counts (an `object_distance`'s `from` then `to`); absent for a
    /// rule of geometry alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<ObjectClass>>,
    pub severity: Severity,
    pub alarm_below_m: f64,
    pub clear_above_m: f64,
    pub time: Timestamp,
    /// The frame the transition was seen on; `null` when no frame caused it (a reload).
    pub frame: Option<u64>,
    /// Why an alarm ended without a frame clearing it (a reload removed or changed its rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What happened to the alarm, with the distances each kind of event carries (metres, to the
/// millimetre; `distance_m` is `null` when nothing is measured in the zone).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Change {
    Start {
        distance_m: f64,
    },
    Update {
        distance_m: Option<f64>,
        min_distance_m: f64,
    },
    End {
        distance_m: Option<f64>,
        min_distance_m: f64,
        duration_s: f64,
    },
    /// The rule cannot measure (its `reason` says why); a raised alarm stays raised.
    Fault {},
}

impl Change {
    pub fn kind(&self) -> EventKind {
        match self {
            Change::Start { .. } => EventKind::Start,
            Change::Update { .. } => EventKind::Update,
            Change::End { .. } => EventKind::End,
            Change::Fault {} => EventKind::Fault,
        }
    }
}

/// A rule's retained state on `<camera>/<rule>/state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    pub state: AlarmState,
    pub distance_m: Option<f64>,
    pub alarm_below_m: f64,
    pub clear_above_m: f64,
    /// When the state last changed.
    pub since: Timestamp,
    pub frame: u64,
    /// The capture time of the frame the distance was measured on.
    pub time: Timestamp,
    /// The id of the raised alarm's `start`; `null` while clear.
    pub alarm: Option<String>,
    pub severity: Severity,
    /// As in the rule's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<ObjectClass>>,
    /// Why the rule cannot measure, while `state` is `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmState {
    Alarm,
    Clear,
    /// The rule cannot measure (`reason`); `alarm` names an alarm raised before, still raised.
    Down,
}

/// A camera's retained status on `<camera>/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStatus {
    pub state: CameraState,
    pub since: Timestamp,
    /// Why the camera is down; `null` in the other states.
    pub reason: Option<String>,
    /// Frames captured per second since the last `stats`; `null` until then.
    pub fps: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    Starting,
    Up,
    Down,
    /// A finite source delivered its last frame.
    Ended,
}

/// The periodic statistics on `stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub time: Timestamp,
    pub cameras: BTreeMap<Name, CameraStats>,
    pub outbox_pending: usize,
    pub outbox_dropped_updates: u64,
    /// Of `outbox_pending`, the events held in memory only: the disk refuses the outbox's
    /// writes (`outbox_error`). They are delivered all the same, and written once it takes them.
    pub outbox_unsaved: usize,
    /// Why the outbox cannot be written (a full disk); `null` when it can.
    pub outbox_error: Option<String>,
}

/// One camera's part of [`Stats`]: rates since the last report, totals, timing percentiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStats {
    /// Frames through inference and rules per second.
    pub fps: f64,
    /// Frames delivered by the source per second.
    pub capture_fps: f64,
    /// Frames processed since the start.
    pub frames: u64,
    /// Of `frames`, those the model did not run on: the picture had not changed since the last
    /// frame it ran on (`[camera.gate]`), so the rules measured again on that frame's depth.
    pub skipped: u64,
    /// Frames a live source replaced before inference took them.
    pub dropped: u64,
    /// `null` until a frame is processed.
    pub timings_ms: Option<Summary>,
}

/// A camera's timings over its last frames, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many frames the percentiles are over.
    pub frames: usize,
    /// Capture to decision (rules evaluated, events queued).
    pub latency: Percentiles,
    /// Resize, backbone, head, upsampling, alignment.
    pub depth: Percentiles,
    /// Measuring and alarm logic.
    pub rules: Percentiles,
}

/// The median and the 95th percentile (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// A Home Assistant discovery message (retained, at
/// `<discovery_prefix>/<component>/<device_id>/<object>/config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    pub unique_id: String,
    pub name: String,
    pub state_topic: String,
    /// Available while every one of these says so (`availability_mode: all`).
    pub availability: Vec<Availability>,
    pub availability_mode: String,
    pub device: Device,
    #[serde(flatten)]
    pub entity: Entity,
}

/// One condition of an entity's availability: `topic`'s payload, through `value_template` if
/// there is one, is `online` (Home Assistant's default `payload_available`) or `offline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_template: Option<String>,
}

/// The device every discovery message names: the dinoedge box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub identifiers: Vec<String>,
    pub name: String,
    pub manufacturer: String,
    pub model: String,
    pub sw_version: String,
}

/// What the entity is: the alarm as a `binary_sensor`, or the distance as a `sensor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "device_class", rename_all = "lowercase")]
pub enum Entity {
    /// On while the rule's alarm is raised.
    Safety { value_template: String, payload_on: AlarmState, payload_off: AlarmState },
    /// The rule's latest distance.
    Distance { unit_of_measurement: String, state_class: String, value_template: String },
}
