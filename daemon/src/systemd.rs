//! Telling systemd how we are: READY=1 when the model is loaded and every camera has a
//! processed frame (or the ready timeout passed), WATCHDOG=1 only while every inference
//! thread shows a recent heartbeat (a stuck inference stops the pings and systemd restarts
//! us), STATUS= with the frame rate and alarms, STOPPING=1 on the way out. Outside systemd
//! (no NOTIFY_SOCKET) all of this does nothing.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::lock::lock;
use crate::pipeline::CameraLink;

/// READY=1 and the watchdog, reported by the control loop once a second.
pub struct Health {
    /// The interval systemd expects watchdog pings at, if it watches us.
    watchdog: Option<Duration>,
    started: Instant,
    ready: bool,
}

/// Counts from now.
impl Default for Health {
    fn default() -> Self {
        Health { watchdog: sd_notify::watchdog_enabled(), started: Instant::now(), ready: false }
    }
}

impl Health {
    /// Feeds the watchdog if inference is alive on every camera; sends READY=1 once every
    /// camera has a processed frame, or `ready_timeout` after the start.
    pub fn report(&mut self, cameras: &[&CameraLink], ready_timeout: Duration) {
        if let Some(interval) = self.watchdog {
            watchdog(interval, cameras);
        }
        if !self.ready
            && (cameras.iter().all(|c| c.processed.load(Ordering::Relaxed) > 0)
                || self.started.elapsed() >= ready_timeout)
        {
            self.ready = true;
            notify(&[NotifyState::Ready]);
        }
    }
}

pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

pub fn status(text: &str) {
    notify(&[NotifyState::Status(text)]);
}

/// Pings the watchdog if no inference thread has been silent for half the interval.
fn watchdog(interval: Duration, cameras: &[&CameraLink]) {
    let stuck = cameras.iter().find(|c| lock(&c.heartbeat).elapsed() > interval / 2);
    match stuck {
        Some(camera) => log::error!("camera {}: inference is stuck; not feeding the watchdog", camera.name),
        None => notify(&[NotifyState::Watchdog]),
    }
}

fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        log::debug!("sd_notify: {e}");
    }
}
