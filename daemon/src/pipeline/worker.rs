//! A camera's inference thread: takes the newest frame, turns it into metric depth (aligned
//! by the camera's calibration), evaluates the camera's rules, queues their events in the
//! outbox and their states on the bus, and records how long each stage took.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dinoedge_calibration::Calibration;
use dinoedge_config::{Measure, Name, Rule};
use ndarray::Array2;
use serde_json::{Value, json};

use super::camera::CameraLink;
use super::depth::DepthProvider;
use super::latest::Taken;
use crate::mqtt::Bus;
use crate::mqtt::topics::timestamp;
use crate::outbox::EventKind;
use crate::rules::{Measurer, Tracker, Transition};

/// The inference thread checks for stop and beats its heartbeat at least this often.
const IDLE_WAIT: Duration = Duration::from_millis(500);

pub struct Worker {
    pub link: Arc<CameraLink>,
    pub provider: Arc<DepthProvider>,
    pub calibration: Option<Arc<Calibration>>,
    pub rules: Vec<RuleRunner>,
    pub bus: Bus,
    pub device_id: Name,
    /// Publish a JPEG of the frame at each alarm start.
    pub snapshots: bool,
}

/// One rule's measurement and alarm state on this camera.
pub struct RuleRunner {
    rule: Rule,
    /// Bound to the frame size at the first frame; `Err` keeps the reason it cannot run.
    measurer: Option<Result<Measurer, String>>,
    tracker: Tracker,
    alarm_id: Option<String>,
    since: SystemTime,
    last_state: Option<Instant>,
    update_interval: Duration,
}

impl RuleRunner {
    pub fn new(rule: Rule, update_interval: Duration) -> Self {
        let tracker = Tracker::new(rule.hysteresis, rule.for_frames, rule.cooldown, update_interval);
        Self {
            rule,
            measurer: None,
            tracker,
            alarm_id: None,
            since: SystemTime::now(),
            last_state: None,
            update_interval,
        }
    }
}

impl Worker {
    pub fn run(mut self, stop: &AtomicBool) {
        loop {
            self.link.beat();
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match self.link.cell.take(IDLE_WAIT) {
                Taken::Frame(frame) => self.process(frame),
                Taken::Idle => {}
                Taken::Ended => break,
            }
        }
    }

    fn process(&mut self, frame: crate::source::Frame) {
        let start = Instant::now();
        let mut depth = match self.provider.depth(&frame) {
            Ok(depth) => depth,
            Err(e) => {
                log::error!("camera {}: frame {}: depth failed: {e:#}", self.link.name, frame.seq);
                return;
            }
        };
        if let Some(calibration) = &self.calibration {
            depth.mapv_inplace(|d| if d > 0.0 { calibration.alignment.apply(d) } else { d });
        }
        let depth_done = Instant::now();
        for i in 0..self.rules.len() {
            self.evaluate(i, &depth, &frame);
        }
        let alarms = self.rules.iter().filter(|r| r.tracker.in_alarm()).count();
        self.link.alarms.store(alarms, Ordering::Relaxed);
        let done = Instant::now();
        self.link.timings.lock().expect("timings lock").record(
            done.saturating_duration_since(frame.captured),
            depth_done - start,
            done - depth_done,
        );
        self.link.processed.fetch_add(1, Ordering::Relaxed);
    }

    fn evaluate(&mut self, i: usize, depth: &Array2<f32>, frame: &crate::source::Frame) {
        let calibration = self.calibration.as_deref();
        let camera = self.link.name.clone();
        let runner = &mut self.rules[i];
        let (h, w) = depth.dim();
        let measurer = runner.measurer.get_or_insert_with(|| {
            let bound = Measurer::new(&runner.rule.measure, &runner.rule.zone, (w, h), calibration);
            if let Err(e) = &bound {
                log::error!("rule {camera}/{}: cannot run: {e}", runner.rule.name);
            }
            bound
        });
        let Ok(measurer) = measurer else { return };
        let distance = measurer.measure(depth);
        log::debug!("rule {camera}/{}: frame {}: {} m", runner.rule.name, frame.seq, fmt(distance));
        let transition = runner.tracker.observe(distance, frame.captured);
        if let Some(transition) = transition {
            let payload = self.event_payload(i, transition, frame);
            let runner = &mut self.rules[i];
            let kind = match transition {
                Transition::Start { .. } => EventKind::Start,
                Transition::Update { .. } => EventKind::Update,
                Transition::End { .. } => EventKind::End,
            };
            let alarm_id = runner.alarm_id.clone();
            match self.bus.event(kind, |id| {
                let mut payload = payload;
                payload["id"] = json!(id);
                payload["alarm"] = json!(alarm_id.as_deref().unwrap_or(id));
                payload
            }) {
                Ok(id) => match kind {
                    EventKind::Start => {
                        log::warn!(
                            "ALARM {camera}/{}: {} m (below {} m)",
                            runner.rule.name,
                            fmt(distance),
                            runner.rule.hysteresis.alarm_below
                        );
                        runner.alarm_id = Some(id);
                        runner.since = frame.wall;
                        if self.snapshots {
                            let jpeg = super::snapshot::jpeg(&frame.image, &runner.rule.zone);
                            self.bus.transient(self.bus.topics().snapshot(&camera), jpeg);
                        }
                    }
                    EventKind::End => {
                        log::info!("clear {camera}/{}: {} m", runner.rule.name, fmt(distance));
                        runner.alarm_id = None;
                        runner.since = frame.wall;
                    }
                    EventKind::Update => {}
                },
                Err(e) => log::error!("rule {camera}/{}: the event could not be queued: {e:#}", runner.rule.name),
            }
        }
        let runner = &mut self.rules[i];
        let due =
            runner.last_state.is_none_or(|t| frame.captured.saturating_duration_since(t) >= runner.update_interval);
        if transition.is_some() || due {
            runner.last_state = Some(frame.captured);
            let state = json!({
                "state": if runner.tracker.in_alarm() { "alarm" } else { "clear" },
                "distance_m": distance.map(round_mm),
                "alarm_below_m": runner.rule.hysteresis.alarm_below,
                "clear_above_m": runner.rule.hysteresis.clear_above,
                "since": timestamp(runner.since),
                "frame": frame.seq,
                "alarm": runner.alarm_id,
                "severity": runner.rule.severity.as_str(),
            });
            self.bus.retain(self.bus.topics().rule_state(&camera, &runner.rule.name), state.to_string().into_bytes());
        }
    }

    fn event_payload(&self, i: usize, transition: Transition, frame: &crate::source::Frame) -> Value {
        let rule = &self.rules[i].rule;
        let (kind, details) = match transition {
            Transition::Start { distance } => ("start", json!({ "distance_m": round_mm(distance) })),
            Transition::Update { distance, min_distance } => {
                ("update", json!({ "distance_m": distance.map(round_mm), "min_distance_m": round_mm(min_distance) }))
            }
            Transition::End { distance, min_distance, duration } => (
                "end",
                json!({
                    "distance_m": distance.map(round_mm),
                    "min_distance_m": round_mm(min_distance),
                    "duration_s": (duration.as_secs_f64() * 1000.0).round() / 1000.0,
                }),
            ),
        };
        let mut payload = json!({
            "type": kind,
            "device": self.device_id.as_str(),
            "camera": self.link.name.as_str(),
            "rule": rule.name.as_str(),
            "kind": match rule.measure { Measure::MinDistance { .. } => "min_distance", Measure::PlaneDistance { .. } => "plane_distance" },
            "severity": rule.severity.as_str(),
            "alarm_below_m": rule.hysteresis.alarm_below,
            "clear_above_m": rule.hysteresis.clear_above,
            "time": timestamp(frame.wall),
            "frame": frame.seq,
        });
        if let (Value::Object(p), Value::Object(d)) = (&mut payload, details) {
            p.extend(d);
        }
        payload
    }
}

fn round_mm(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

fn fmt(d: Option<f64>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{d:.2}"))
}
