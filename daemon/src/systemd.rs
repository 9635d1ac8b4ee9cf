//! Telling systemd how we are: READY=1 when the model is loaded and every camera has a
//! processed frame (or the ready timeout passed), WATCHDOG=1 only while every inference
//! thread shows a recent heartbeat (a stuck inference stops the pings and systemd restarts
//! us), STATUS= with the frame rate and alarms, STOPPING=1 on the way out. Outside systemd
//! (no NOTIFY_SOCKET) all of this does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::pipeline::CameraLink;

pub fn ready() {
    notify(&[NotifyState::Ready]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

pub fn status(text: &str) {
    notify(&[NotifyState::Status(text)]);
}

/// The watchdog interval systemd expects pings at, if it watches us.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

/// Pings the watchdog if no inference thread has been silent for half the interval.
pub fn watchdog(interval: Duration, cameras: &[&CameraLink]) {
    let stuck = cameras.iter().find(|c| c.heartbeat.lock().expect("heartbeat lock").elapsed() > interval / 2);
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
