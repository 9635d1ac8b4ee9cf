//! What the threads of one camera share: the frame cell (`handoff`), the camera's up/down state
//! (published retained on `<camera>/status`), the inference heartbeat the systemd watchdog
//! reads, and the timing statistics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use dinoedge_config::Name;

use super::handoff::Handoff;
use super::timings::Timings;
use crate::lock::lock;
use crate::mqtt::Bus;
use crate::mqtt::wire::{CameraState, CameraStatus};

#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Starting,
    Up,
    Down(String),
    /// A finite source delivered its last frame.
    Ended,
}

/// One rule's alarms, for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleCounts {
    pub rule: Name,
    /// Alarms started since the daemon started (a reload keeps the count of a kept rule).
    pub started: u64,
    pub raised: bool,
    /// The rule cannot measure.
    pub down: bool,
}

impl RuleCounts {
    /// A rule before its first frame.
    pub fn of(rule: Name) -> Self {
        Self { rule, started: 0, raised: false, down: false }
    }
}

pub struct CameraLink {
    pub name: Name,
    pub cell: Handoff,
    state: Mutex<(State, SystemTime)>,
    /// Frames delivered by the source.
    pub captured: AtomicU64,
    /// Frames through inference and rules.
    pub processed: AtomicU64,
    /// Of those, frames the gate found unchanged: the rules measured on the last depth.
    pub skipped: AtomicU64,
    /// When the source last delivered a frame (the stall check's clock); `None` while a
    /// replay waits for inference to take its frame, which is no stall.
    pub last_frame: Mutex<Option<Instant>>,
    /// Last sign of life of the inference thread (it beats at least once a second while
    /// idle, and after each frame): a stuck inference stops it.
    pub heartbeat: Mutex<Instant>,
    pub timings: Mutex<Timings>,
    /// Each rule's alarm counts and state as of the last frame (`stats` and `/metrics`).
    pub rules: Mutex<Vec<RuleCounts>>,
    /// Breaks a stalled source's blocking read.
    pub interrupt: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// The capture thread that owns the source: one the stall check abandoned (its read did
    /// not return) sees another generation and ends without touching the camera.
    pub generation: AtomicU64,
    /// Stall checks that found nothing delivered since the source last delivered or opened.
    pub stall_strikes: AtomicU32,
}

impl CameraLink {
    pub fn new(name: Name) -> Self {
        Self {
            name,
            cell: Handoff::default(),
            state: Mutex::new((State::Starting, SystemTime::now())),
            captured: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            last_frame: Mutex::new(None),
            heartbeat: Mutex::new(Instant::now()),
            timings: Mutex::default(),
            rules: Mutex::default(),
            interrupt: Mutex::new(None),
            generation: AtomicU64::new(0),
            stall_strikes: AtomicU32::new(0),
        }
    }

    /// Rules of this camera in alarm now.
    pub fn alarms(&self) -> usize {
        lock(&self.rules).iter().filter(|r| r.raised).count()
    }

    /// The source delivered its last frame.
    pub fn ended(&self) -> bool {
        lock(&self.state).0 == State::Ended
    }

    /// Whether the source delivers.
    pub fn is_up(&self) -> bool {
        lock(&self.state).0 == State::Up
    }

    /// Changes the state; a change is logged and published.
    pub fn set_state(&self, state: State, bus: &Bus) {
        let mut current = lock(&self.state);
        if current.0 == state {
            return;
        }
        match &state {
            State::Up => log::info!("camera {}: up", self.name),
            State::Down(reason) => log::warn!("camera {}: down: {reason}", self.name),
            State::Ended => log::info!("camera {}: the source has no more frames", self.name),
            State::Starting => {}
        }
        *current = (state, SystemTime::now());
        drop(current);
        self.publish_status(bus, None);
    }

    /// The retained status message, with the frame rate when known.
    pub fn publish_status(&self, bus: &Bus, fps: Option<f64>) {
        let (state, since) = lock(&self.state).clone();
        let (state, reason) = match state {
            State::Starting => (CameraState::Starting, None),
            State::Up => (CameraState::Up, None),
            State::Down(reason) => (CameraState::Down, Some(reason)),
            State::Ended => (CameraState::Ended, None),
        };
        let status = CameraStatus { state, since: since.into(), reason, fps };
        bus.retain_json(bus.topics().camera_status(&self.name), &status);
    }

    pub fn beat(&self) {
        *lock(&self.heartbeat) = Instant::now();
    }

    /// The source delivered a frame (or opened): the stall check's clock starts again.
    pub fn delivered(&self) {
        *lock(&self.last_frame) = Some(Instant::now());
        self.stall_strikes.store(0, Ordering::SeqCst);
    }

    pub fn count_captured(&self) -> u64 {
        self.captured.fetch_add(1, Ordering::Relaxed)
    }
}
