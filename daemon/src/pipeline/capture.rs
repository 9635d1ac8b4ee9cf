//! A camera's capture thread: opens its source, moves each frame into the camera's cell
//! (offered if live, handed over if a replay: see `pipeline::handoff`), and restarts a source
//! that fails with exponential backoff (1 s doubling to 30 s), keeping the camera's up/down
//! state. A stalled source (no frame for `stall_timeout`) is broken from outside by
//! [`check_stall`], and then restarted like a failed one; a read that cannot be broken (the
//! source has no way to, or it did not return when broken) gets its thread abandoned: the
//! camera's generation moves on, the daemon starts a new thread on the source, and the old one
//! ends whenever its read returns, without touching the camera. A panic in a source is its
//! failure ([`guarded`]). State changes go to `report` (the daemon publishes them; the
//! calibrate UI shows them).

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dinoedge_config::Source;

use super::camera::{CameraLink, State};
use crate::internal::Died;
use crate::lock::lock;
use crate::source::{Delivery, Frame, FrameSource};

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub fn run(source: &Source, link: &CameraLink, report: &dyn Fn(State), stop: &AtomicBool) {
    feed(&|| crate::source::open(source), link, report, stop);
}

/// [`run`] on the sources `open` gives. The thread owns the camera's source while its
/// generation is the camera's: once [`check_stall`] has abandoned it (its read would not
/// return), it ends at its next step and touches the camera no more.
fn feed(
    open: &dyn Fn() -> anyhow::Result<Box<dyn FrameSource>>,
    link: &CameraLink,
    report: &dyn Fn(State),
    stop: &AtomicBool,
) {
    let generation = link.generation.load(Ordering::SeqCst);
    let current = || link.generation.load(Ordering::SeqCst) == generation;
    let running = || current() && !stop.load(Ordering::Relaxed);
    let mut backoff = BACKOFF_MIN;
    while running() {
        let opened = guarded(open);
        if !current() {
            return;
        }
        match opened {
            Err(e) => report(State::Down(format!("{e:#}"))),
            Ok(mut src) => {
                *lock(&link.interrupt) = src.interrupter();
                link.delivered();
                let (delivery, opened) = (src.delivery(), (Instant::now(), SystemTime::now()));
                let mut count = 0u32;
                loop {
                    let next = if running() { guarded(|| src.next()) } else { return };
                    if !running() {
                        return;
                    }
                    match next {
                        Ok(Some(captured)) => {
                            link.delivered();
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
                                    *lock(&link.last_frame) = None;
                                    if !link.cell.hand(frame) {
                                        return;
                                    }
                                    link.delivered();
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
        while Instant::now() < until && running() {
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

/// What [`check_stall`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The source delivers (or waits for inference, which is no stall).
    No,
    /// Nothing for `stall_timeout`: the source's read was broken, and its thread restarts it.
    Interrupted,
    /// Nothing for `stall_timeout`, and the read cannot be broken (the source has no way to),
    /// or was broken and still did not return: the thread is abandoned, and the caller starts
    /// a new one on the camera.
    Abandoned,
}

/// Breaks the read of a source that has delivered nothing for `stall_timeout`, or abandons a
/// thread whose read cannot be broken (the camera is `down` meanwhile).
pub fn check_stall(link: &CameraLink, stall_timeout: Duration) -> Stall {
    let mut last = lock(&link.last_frame);
    if !last.is_some_and(|t| t.elapsed() > stall_timeout) {
        return Stall::No;
    }
    *last = Some(Instant::now());
    drop(last);
    let mut interrupt = lock(&link.interrupt);
    if let Some(interrupt) = interrupt.as_ref()
        && link.stall_strikes.fetch_add(1, Ordering::SeqCst) == 0
    {
        log::warn!("camera {}: no frame for {:.0?}: restarting the source", link.name, stall_timeout);
        interrupt();
        return Stall::Interrupted;
    }
    link.generation.fetch_add(1, Ordering::SeqCst);
    *interrupt = None;
    link.stall_strikes.store(0, Ordering::SeqCst);
    Stall::Abandoned
}

/// Makes a blocked source read return, for shutdown.
pub fn interrupt(link: &CameraLink) {
    if let Some(interrupt) = lock(&link.interrupt).as_ref() {
        interrupt();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use image::RgbImage;

    use super::*;
    use crate::pipeline::handoff::Taken;
    use crate::source::Captured;

    /// A live source of `width`-wide frames that delivers one, then blocks in its read until
    /// `release` says (a hung driver, a network file system), and has no way to be broken.
    struct Hangs {
        width: u32,
        delivered: bool,
        release: Arc<Mutex<mpsc::Receiver<()>>>,
    }

    impl FrameSource for Hangs {
        fn next(&mut self) -> anyhow::Result<Option<Captured>> {
            if std::mem::replace(&mut self.delivered, true) {
                let _ = self.release.lock().unwrap().recv();
            }
            Ok(Some(Captured { image: RgbImage::new(self.width, 2), file: None }))
        }

        fn delivery(&self) -> Delivery {
            Delivery::Live
        }
    }

    /// A source whose read panics (a defect in it or in a library it reads with).
    struct Panics;

    impl FrameSource for Panics {
        fn next(&mut self) -> anyhow::Result<Option<Captured>> {
            panic!("a decoder's index out of bounds")
        }

        fn delivery(&self) -> Delivery {
            Delivery::Live
        }
    }

    /// Reliability II's panic policy: a panic in a source is that source's failure. The camera
    /// goes `down` naming it, and the source is opened again after the backoff; the capture
    /// thread does not die with it (which would leave the camera silent).
    #[test]
    fn a_panic_in_a_source_puts_the_camera_down_and_reopens_it() {
        let link = CameraLink::new("dock1".to_string().try_into().unwrap());
        let stop = AtomicBool::new(false);
        let opened = std::sync::atomic::AtomicUsize::new(0);
        let states = Mutex::new(Vec::new());
        let open = || -> anyhow::Result<Box<dyn FrameSource>> {
            if opened.fetch_add(1, Ordering::SeqCst) == 1 {
                stop.store(true, Ordering::SeqCst);
            }
            Ok(Box::new(Panics))
        };
        let started = Instant::now();
        feed(&open, &link, &|state| states.lock().unwrap().push(state), &stop);
        assert_eq!(opened.load(Ordering::SeqCst), 2, "opened again after the panic");
        assert!(started.elapsed() >= BACKOFF_MIN, "after the backoff");
        let states = states.into_inner().unwrap();
        assert!(
            matches!(&states[..], [State::Down(why)] if why.contains("the source: a decoder's index out of bounds")),
            "{states:?}"
        );
    }

    fn width(taken: Taken) -> Option<u32> {
        match taken {
            Taken::Frame(frame) => Some(frame.image.width()),
            Taken::Idle | Taken::Ended => None,
        }
    }

    /// Reliability II, defect 4: a read that blocks and cannot be broken was never a stall (the
    /// camera said `up` at 0 frames a second for ever). Its thread is now abandoned after the
    /// stall timeout, a new one serves the camera, and the old one, when its read returns at
    /// last, ends without handing its frame over.
    #[test]
    fn a_read_that_cannot_be_broken_is_abandoned_for_a_new_thread() {
        let link = Arc::new(CameraLink::new("dock1".to_string().try_into().unwrap()));
        let stop = Arc::new(AtomicBool::new(false));
        let (release, hung) = mpsc::channel();
        let hung = Arc::new(Mutex::new(hung));
        let start = |width: u32| {
            let (link, stop, release) = (link.clone(), stop.clone(), hung.clone());
            std::thread::spawn(move || {
                let open = move || -> anyhow::Result<Box<dyn FrameSource>> {
                    Ok(Box::new(Hangs { width, delivered: false, release: release.clone() }))
                };
                feed(&open, &link, &|_| {}, &stop);
            })
        };
        let stall = Duration::from_millis(200);

        let first = start(10);
        assert_eq!(width(link.cell.take(Duration::from_secs(5))), Some(10));
        assert_eq!(check_stall(&link, stall), Stall::No, "within the timeout");
        std::thread::sleep(stall * 2);
        assert_eq!(check_stall(&link, stall), Stall::Abandoned, "no way to break the read");
        let second = start(20);
        assert_eq!(width(link.cell.take(Duration::from_secs(5))), Some(20), "the new thread serves the camera");

        release.send(()).unwrap();
        first.join().unwrap();
        assert_eq!(width(link.cell.take(Duration::from_millis(300))), None, "the abandoned thread handed nothing");
        stop.store(true, Ordering::Relaxed);
        release.send(()).unwrap();
        second.join().unwrap();
    }
}
