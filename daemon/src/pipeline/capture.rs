//! A camera's capture thread: opens its source, moves each frame into the camera's cell
//! (offered if live, handed over if a replay: see `pipeline::handoff`), and restarts a source
//! that fails with exponential backoff (1 s doubling to 30 s), keeping the camera's up/down
//! state. A stalled source (no frame for `stall_timeout`) is broken
//! from outside by [`check_stall`], and then restarted like a failed one. State changes go
//! to `report` (the daemon publishes them; the calibrate UI shows them).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dinoedge_config::Source;

use super::camera::{CameraLink, State};
use crate::internal::Died;
use crate::lock::lock;
use crate::source::{Delivery, Frame};

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub fn run(source: &Source, link: &CameraLink, report: &dyn Fn(State), stop: &AtomicBool) {
    let mut backoff = BACKOFF_MIN;
    while !stop.load(Ordering::Relaxed) {
        match guarded(|| crate::source::open(source)) {
            Err(e) => report(State::Down(format!("{e:#}"))),
            Ok(mut src) => {
                *lock(&link.interrupt) = src.interrupter();
                let mark = |last: Option<Instant>| *lock(&link.last_frame) = last;
                mark(Some(Instant::now()));
                let (delivery, opened) = (src.delivery(), (Instant::now(), SystemTime::now()));
                let mut count = 0u32;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match guarded(|| src.next()) {
                        Ok(Some(captured)) => {
                            mark(Some(Instant::now()));
                            report(State::Up);
                            backoff = BACKOFF_MIN;
                            let (at, wall) = delivery.stamp(count, opened);
                            count = count.saturating_add(1);
                            let frame = Frame {
                                seq: link.count_captured(),
                                captured: at,
                                delivery,
                                wall,
                                image: captured.image,
                                file: captured.file,
                            };
                            match delivery {
                                Delivery::Live => link.cell.offer(frame),
                                Delivery::Replay { .. } => {
                                    // Waiting for inference is not a stalled source.
                                    mark(None);
                                    if !link.cell.hand(frame) {
                                        return;
                                    }
                                    mark(Some(Instant::now()));
                                }
                            }
                        }
                        Ok(None) => {
                            report(State::Ended);
                            link.cell.end();
                            return;
                        }
                        Err(e) => {
                            report(State::Down(format!("{e:#}")));
                            break;
                        }
                    }
                }
                *lock(&link.interrupt) = None;
            }
        }
        log::info!("camera {}: restarting the source in {:.0?}", link.name, backoff);
        let until = Instant::now() + backoff;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Runs a source's `step` (opening it, reading a frame); a panic in it (a defect of the
/// source, or of a library it reads with) is an error like any other of the source: the
/// camera is down, and the source is dropped and restarted with backoff.
fn guarded<T>(step: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    panic::catch_unwind(AssertUnwindSafe(step))
        .unwrap_or_else(|panic| Err(Died(format!("the source: {}", crate::internal::message(panic.as_ref()))).into()))
}

/// Breaks the read of a source that has delivered nothing for `stall_timeout`.
pub fn check_stall(link: &Arc<CameraLink>, stall_timeout: Duration) {
    let last = *lock(&link.last_frame);
    if last.is_some_and(|t| t.elapsed() > stall_timeout)
        && let Some(interrupt) = lock(&link.interrupt).as_ref()
    {
        log::warn!("camera {}: no frame for {:.0?}: restarting the source", link.name, stall_timeout);
        interrupt();
        *lock(&link.last_frame) = Some(Instant::now());
    }
}

/// Makes a blocked source read return, for shutdown.
pub fn interrupt(link: &CameraLink) {
    if let Some(interrupt) = lock(&link.interrupt).as_ref() {
        interrupt();
    }
}
