//! A camera's inference thread: takes the frame in the camera's cell, turns it into metric depth (aligned
//! by the camera's calibration, and locked to its empty scene's where it has one: the model's
//! scale and smooth errors divided out) — or, when the camera's `gate` finds nothing changed,
//! keeps the last frame's — evaluates the camera's rules, queues their events in the
//! outbox and their states on the bus, and records how long each stage took. The rules'
//! alarm states outlive the thread: a reload hands them to the next one. A frame the rules
//! cannot measure at all (its depth failed, or processing it panicked: a defect) puts every
//! rule of the camera `down` with a `fault` for that frame, never the camera's thread.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dinoedge_calibration::Calibration;
use dinoedge_config::{Name, ObjectClass, Rule};
use ndarray::Array2;

use super::camera::{CameraLink, RuleCounts};
use super::depth::{DepthProvider, Perceived};
use super::gate::{ChangeGate, Thumbnail, Verdict, Why};
use super::handoff::Taken;
use crate::lock::lock;
use crate::mqtt::Bus;
use crate::mqtt::wire::{AlarmState, Change, Event, RuleState, round};
use crate::rules::measure::{Seen, resolve_zone};
use crate::rules::{Measurer, Tracker, Transition};
use crate::source::{Delivery, Frame};

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
    pub recorder: Option<Recorder>,
    pub gate: ChangeGate,
    /// What the model saw on the last frame it ran on, aligned: the rules measure on it again
    /// when the gate skips a frame.
    pub last: Option<Perceived>,
    /// The capture time of the last frame processed, and the time between processed frames
    /// (a moving average): how long until the next frame's decision.
    pub pace: Pace,
}

/// How often a camera's frames are decided on.
#[derive(Debug, Default)]
pub struct Pace {
    last: Option<Instant>,
    interval: Option<Duration>,
}

impl Pace {
    /// Takes a processed frame's capture time; returns the time between processed frames.
    fn next(&mut self, captured: Instant) -> Duration {
        if let Some(step) = self.last.map(|last| captured.saturating_duration_since(last)) {
            self.interval = Some(match self.interval {
                None => step,
                Some(average) => average.mul_f64(0.8) + step.mul_f64(0.2),
            });
        }
        self.last = Some(captured);
        self.interval.unwrap_or_default()
    }
}

/// Something that wants every processed frame: the frame, its metric depth, each
/// rule's distance and the time of the stages (the demo writes annotated frames and a
/// distance plot from it; `bench pipeline` times the daemon with it).
pub type Recorder = Arc<dyn Fn(&Processed) + Send + Sync>;

/// One processed frame, as a [`Recorder`] sees it.
pub struct Processed<'a> {
    pub frame: &'a Frame,
    pub depth: &'a Array2<f32>,
    /// Each pixel's class, when the provider gives classes.
    pub classes: Option<&'a Array2<ObjectClass>>,
    pub distances: &'a [(Name, Option<f64>)],
    /// Resize, backbone, head and upsampling, alignment; `None` when the gate found the frame
    /// unchanged and the depth and classes are those of the last frame the model ran on.
    pub depth_time: Option<Duration>,
    /// Measuring, alarm logic, queueing.
    pub rules_time: Duration,
}

/// A rule's measurement bound to frames of one size (`Err` keeps why it cannot run on them): a
/// source whose frames change size (a stream that changes resolution, an odd file in a folder)
/// gets a new binding on the first frame of the new size.
struct Binding {
    size: (usize, usize),
    measurer: Result<Measurer, String>,
}

/// Where a rule's output goes.
pub struct Outlet<'a> {
    pub bus: &'a Bus,
    pub device_id: &'a Name,
    pub camera: &'a Name,
}

/// One rule's measurement and alarm state on one camera.
pub struct RuleRunner {
    pub rule: Rule,
    /// The measurement, bound to the size of the frames it was last given.
    binding: Option<Binding>,
    tracker: Tracker,
    alarm_id: Option<String>,
    since: SystemTime,
    last_state: Option<Instant>,
    /// The retained state last published.
    published: Option<RuleState>,
    /// Why the rule cannot measure, while it cannot.
    fault: Option<String>,
    /// Alarms this rule started.
    started: u64,
    update_interval: Duration,
}

impl RuleRunner {
    pub fn new(rule: Rule, update_interval: Duration) -> Self {
        let tracker = Tracker::new(rule.hysteresis, rule.holds, rule.lead, rule.cooldown, update_interval);
        Self {
            rule,
            binding: None,
            tracker,
            alarm_id: None,
            since: SystemTime::now(),
            last_state: None,
            published: None,
            fault: None,
            started: 0,
            update_interval,
        }
    }

    /// Forgets the measurement binding (the calibration may have changed); keeps the alarm.
    pub fn rebind(&mut self) {
        self.binding = None;
    }

    /// Measures on what was `seen`, updates the alarm (an alarm raised on this frame would
    /// reach the subscribers `ahead` of its capture at the soonest), queues what changed;
    /// returns the distance.
    fn evaluate(
        &mut self,
        out: &Outlet,
        (seen, frame, ahead): (Seen, &Frame, Duration),
        calibration: Option<&Calibration>,
        snapshots: bool,
    ) -> Option<f64> {
        let (h, w) = seen.depth.dim();
        let (camera, name) = (out.camera, &self.rule.name);
        let binding = match self.binding.take() {
            Some(binding) if binding.size == (w, h) => binding,
            earlier => {
                if let Some(Binding { size: (was_w, was_h), .. }) = earlier {
                    log::warn!("rule {camera}/{name}: the frames are {w}x{h} now (were {was_w}x{was_h})");
                }
                let measurer = Measurer::new(&self.rule.measure, &self.rule.zone, (w, h), calibration);
                Binding { size: (w, h), measurer }
            }
        };
        let measured = match &binding.measurer {
            Ok(measurer) => measurer.measure(seen).map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot run: {e}")),
        };
        self.binding = Some(binding);
        let distance = match measured {
            Ok(distance) => distance,
            Err(reason) => {
                self.fail(out, reason, frame);
                return None;
            }
        };
        if self.fault.take().is_some() {
            log::info!("rule {camera}/{name}: measures again");
            self.last_state = None;
            self.since = frame.wall;
        }
        log::debug!("rule {camera}/{name}: frame {}: {} m", frame.seq, fmt(distance));
        let transition = self.tracker.observe(distance, frame.captured, ahead);
        if let Some(transition) = transition {
            self.emit(out, transition, Some(frame.seq), frame.wall, None);
            if snapshots
                && matches!(transition, Transition::Start { .. })
                && let Ok(zone) = resolve_zone(&self.rule.zone, calibration)
            {
                out.bus.transient(out.bus.topics().snapshot(camera), super::snapshot::jpeg(&frame.image, zone));
            }
        }
        let due = self.last_state.is_none_or(|t| frame.captured.saturating_duration_since(t) >= self.update_interval);
        if transition.is_some() || due {
            self.last_state = Some(frame.captured);
            self.publish_state(out, distance, frame);
        }
        distance
    }

    /// The rule cannot measure on `frame`. The first time, it says so in the log and with a
    /// `fault` event; its retained state says `down` with the reason (at once, then as often as
    /// a state). A raised alarm stays raised: nothing says the danger has passed.
    fn fail(&mut self, out: &Outlet, reason: String, frame: &Frame) {
        let first = self.fault.is_none();
        if first {
            log::error!("rule {}/{}: cannot measure: {reason}", out.camera, self.rule.name);
            self.queue(out, Change::Fault {}, Some(frame.seq), frame.wall, Some(&reason));
            self.since = frame.wall;
        }
        self.fault = Some(reason);
        let due = self.last_state.is_none_or(|t| frame.captured.saturating_duration_since(t) >= self.update_interval);
        if first || due {
            self.last_state = Some(frame.captured);
            self.publish_state(out, None, frame);
        }
    }

    /// Queues an event of this rule in the outbox (its `alarm`: the raised alarm's, else its
    /// own id); returns its id.
    fn queue(
        &self,
        out: &Outlet,
        change: Change,
        seq: Option<u64>,
        wall: SystemTime,
        reason: Option<&str>,
    ) -> Option<String> {
        let (camera, name, rule) = (out.camera, &self.rule.name, &self.rule);
        let queued = out.bus.event(|id| Event {
            change,
            id: id.to_owned(),
            alarm: self.alarm_id.as_deref().unwrap_or(id).to_owned(),
            device: out.device_id.clone(),
            camera: camera.clone(),
            rule: name.clone(),
            kind: rule.measure.kind(),
            objects: rule.measure.objects(),
            severity: rule.severity,
            alarm_below_m: rule.hysteresis.alarm_below,
            clear_above_m: rule.hysteresis.clear_above,
            time: wall.into(),
            frame: seq,
            reason: reason.map(str::to_owned),
        });
        match queued {
            Ok(id) => Some(id),
            Err(e) => {
                log::error!("rule {camera}/{name}: the event could not be queued: {e:#}");
                None
            }
        }
    }

    /// Queues the event of `transition` in the outbox, and follows the alarm id.
    fn emit(&mut self, out: &Outlet, transition: Transition, seq: Option<u64>, wall: SystemTime, reason: Option<&str>) {
        let (camera, name) = (out.camera, &self.rule.name);
        let Some(id) = self.queue(out, change(transition), seq, wall, reason) else { return };
        match transition {
            Transition::Start { distance } => {
                log::warn!("ALARM {camera}/{name}: {distance:.2} m (below {} m)", self.rule.hysteresis.alarm_below);
                self.alarm_id = Some(id);
                self.since = wall;
                self.started += 1;
            }
            Transition::End { distance, .. } => {
                log::info!(
                    "clear {camera}/{name}: {} m{}",
                    fmt(distance),
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                );
                self.alarm_id = None;
                self.since = wall;
            }
            Transition::Update { .. } => {}
        }
    }

    /// The retained state, as of `frame` (`time` is its capture time, so a subscriber can tell
    /// how fresh the distance is).
    fn publish_state(&mut self, out: &Outlet, distance: Option<f64>, frame: &Frame) {
        let state = RuleState {
            state: match (&self.fault, self.tracker.in_alarm()) {
                (Some(_), _) => AlarmState::Down,
                (None, true) => AlarmState::Alarm,
                (None, false) => AlarmState::Clear,
            },
            distance_m: distance.map(metres),
            alarm_below_m: self.rule.hysteresis.alarm_below,
            clear_above_m: self.rule.hysteresis.clear_above,
            since: self.since.into(),
            frame: frame.seq,
            time: frame.wall.into(),
            alarm: self.alarm_id.clone(),
            severity: self.rule.severity,
            objects: self.rule.measure.objects(),
            reason: self.fault.clone(),
        };
        out.bus.retain_json(out.bus.topics().rule_state(out.camera, &self.rule.name), &state);
        self.published = Some(state);
    }

    /// The daemon stops: a raised alarm ends, with `reason`, and the retained state then says
    /// `clear` (availability says `offline`: nobody watches until the next start).
    pub fn stand_down(mut self, out: &Outlet, reason: &str) {
        let Some(end) = self.tracker.abandon(Instant::now()) else { return };
        let wall = SystemTime::now();
        self.emit(out, end, None, wall, Some(reason));
        if let Some(mut state) = self.published.take() {
            state.state = AlarmState::Clear;
            state.alarm = None;
            state.since = wall.into();
            out.bus.retain_json(out.bus.topics().rule_state(out.camera, &self.rule.name), &state);
        }
    }

    /// The rule is gone (or changed) after a reload: a raised alarm ends, with `reason`, and
    /// the retained state is cleared.
    pub fn retire(mut self, out: &Outlet, reason: &str) {
        if let Some(end) = self.tracker.abandon(Instant::now()) {
            self.emit(out, end, None, SystemTime::now(), Some(reason));
        }
        out.bus.retain(out.bus.topics().rule_state(out.camera, &self.rule.name), Vec::new());
    }
}

impl Worker {
    /// Runs until stopped or the source has ended; gives itself back (with its rules' alarm
    /// states) when done.
    pub fn run(mut self, stop: &AtomicBool) -> Worker {
        loop {
            self.link.beat();
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match self.link.cell.take(IDLE_WAIT) {
                Taken::Frame(frame) => {
                    if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| self.process(&frame))) {
                        self.recover(&crate::internal::message(panic.as_ref()), &frame);
                    }
                }
                Taken::Idle => {}
                Taken::Ended => break,
            }
        }
        self
    }

    /// Processing `frame` panicked (a defect: `why`): the camera does not die of it. Its rules
    /// cannot measure, as on a frame they cannot measure: each says `down` with a `fault`
    /// event, and a raised alarm stays raised (nothing says the danger has passed). What the
    /// camera derived from earlier frames (the model's last output, the gate's reference, the
    /// rules' bindings) is dropped, and the next frame starts afresh; a rule that measures
    /// again says so.
    fn recover(&mut self, why: &str, frame: &Frame) {
        log::error!("camera {}: frame {}: internal error: {why}", self.link.name, frame.seq);
        for rule in &mut self.rules {
            rule.rebind();
        }
        self.blind(&format!("internal error: {why}"), frame);
    }

    /// Nothing can be measured on `frame` (`why`): every rule of the camera fails on it, and
    /// the next frame runs the model (never the gate's skip onto an older depth).
    fn blind(&mut self, why: &str, frame: &Frame) {
        self.last = None;
        self.gate.forget();
        let out = Outlet { bus: &self.bus, device_id: &self.device_id, camera: &self.link.name };
        for rule in &mut self.rules {
            rule.fail(&out, why.to_owned(), frame);
        }
        self.count();
    }

    fn process(&mut self, frame: &Frame) {
        let start = Instant::now();
        let thumbnail = self.gate.enabled().then(|| Thumbnail::of(&frame.image));
        let verdict = match &thumbnail {
            Some(thumbnail) => {
                let settled = self.rules.iter().all(|r| r.tracker.settled());
                self.gate.check(thumbnail, frame.captured, settled)
            }
            None => Verdict::Run(Why::Off),
        };
        let inferred = match verdict {
            Verdict::Skip => false,
            Verdict::Run(why) => {
                log::trace!("camera {}: frame {}: the model runs ({why:?})", self.link.name, frame.seq);
                let mut perceived = match self.provider.perceive(frame) {
                    Ok(perceived) => perceived,
                    Err(e) => {
                        log::debug!("camera {}: frame {}: depth failed: {e:#}", self.link.name, frame.seq);
                        self.blind(&format!("the depth failed: {e:#}"), frame);
                        return;
                    }
                };
                if let Some(calibration) = &self.calibration {
                    perceived.depth.mapv_inplace(|d| calibration.alignment.to_metres(d).unwrap_or(d));
                    if let Some(background) = &calibration.background {
                        background.lock(&mut perceived.depth);
                    }
                }
                self.last = Some(perceived);
                if let Some(thumbnail) = thumbnail {
                    self.gate.ran(thumbnail, frame.captured);
                }
                true
            }
        };
        let Some(Perceived { depth, classes }) = &self.last else { return };
        let depth_done = Instant::now();
        // An alarm this frame raises reaches the subscribers after the frame's time through the
        // pipeline (since capture, live; since it was taken, replayed); the next frame's comes
        // one interval later.
        let through = match frame.delivery {
            Delivery::Live => depth_done.saturating_duration_since(frame.captured),
            Delivery::Replay { .. } => depth_done - start,
        };
        let ahead = through + self.pace.next(frame.captured);
        let out = Outlet { bus: &self.bus, device_id: &self.device_id, camera: &self.link.name };
        let calibration = self.calibration.as_deref();
        let distances: Vec<(Name, Option<f64>)> = self
            .rules
            .iter_mut()
            .map(|r| {
                let seen = Seen { depth, classes: classes.as_ref() };
                (r.rule.name.clone(), r.evaluate(&out, (seen, frame, ahead), calibration, self.snapshots))
            })
            .collect();
        self.count();
        let done = Instant::now();
        let depth_time = inferred.then(|| depth_done - start);
        if let Some(recorder) = &self.recorder {
            recorder(&Processed {
                frame,
                depth,
                classes: classes.as_ref(),
                distances: &distances,
                depth_time,
                rules_time: done - depth_done,
            });
        }
        lock(&self.link.timings).record(done.saturating_duration_since(frame.captured), depth_time, done - depth_done);
        self.link.processed.fetch_add(1, Ordering::Relaxed);
        if !inferred {
            self.link.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The rules' alarm counts and states, for `stats` and `/metrics`.
    fn count(&self) {
        let mut counts = lock(&self.link.rules);
        if counts.len() != self.rules.len() {
            *counts = self.rules.iter().map(|r| RuleCounts::of(r.rule.name.clone())).collect();
        }
        for (count, r) in counts.iter_mut().zip(&self.rules) {
            (count.started, count.raised, count.down) = (r.started, r.tracker.in_alarm(), r.fault.is_some());
        }
    }
}

/// The wire form of a transition: distances to the millimetre, the duration to the millisecond.
fn change(transition: Transition) -> Change {
    match transition {
        Transition::Start { distance } => Change::Start { distance_m: metres(distance) },
        Transition::Update { distance, min_distance } => {
            Change::Update { distance_m: distance.map(metres), min_distance_m: metres(min_distance) }
        }
        Transition::End { distance, min_distance, duration } => Change::End {
            distance_m: distance.map(metres),
            min_distance_m: metres(min_distance),
            duration_s: round(duration.as_secs_f64(), 3),
        },
    }
}

/// A distance as published: metres to the millimetre.
fn metres(d: f64) -> f64 {
    round(d, 3)
}

fn fmt(d: Option<f64>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{d:.2}"))
}
