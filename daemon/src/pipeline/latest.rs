//! The one-slot "latest frame" cell between a camera's capture thread and its inference
//! thread: a new frame replaces one not yet taken (the replaced one is counted as dropped),
//! so inference never works through a backlog of stale frames.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::source::Frame;

#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    dropped: u64,
    ended: bool,
}

#[derive(Default)]
pub struct LatestCell {
    slot: Mutex<Slot>,
    ready: Condvar,
}

/// What `take` found.
pub enum Taken {
    Frame(Frame),
    /// Nothing within the wait.
    Idle,
    /// The source has ended and its last frame was taken.
    Ended,
}

impl LatestCell {
    pub fn put(&self, frame: Frame) {
        let mut slot = self.slot.lock().expect("cell lock");
        if slot.frame.replace(frame).is_some() {
            slot.dropped += 1;
        }
        self.ready.notify_one();
    }

    /// The source will deliver nothing more.
    pub fn end(&self) {
        self.slot.lock().expect("cell lock").ended = true;
        self.ready.notify_one();
    }

    /// The newest frame, waiting up to `wait` for one.
    pub fn take(&self, wait: Duration) -> Taken {
        let slot = self.slot.lock().expect("cell lock");
        let (mut slot, _) =
            self.ready.wait_timeout_while(slot, wait, |s| s.frame.is_none() && !s.ended).expect("cell lock");
        match slot.frame.take() {
            Some(frame) => Taken::Frame(frame),
            None if slot.ended => Taken::Ended,
            None => Taken::Idle,
        }
    }

    pub fn dropped(&self) -> u64 {
        self.slot.lock().expect("cell lock").dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame {
            seq,
            captured: std::time::Instant::now(),
            wall: std::time::SystemTime::now(),
            image: image::RgbImage::new(1, 1),
            file: None,
        }
    }

    #[test]
    fn a_slow_reader_gets_the_newest_frame_and_the_rest_are_counted_as_dropped() {
        let cell = LatestCell::default();
        for seq in 0..5 {
            cell.put(frame(seq));
        }
        assert!(matches!(cell.take(Duration::ZERO), Taken::Frame(f) if f.seq == 4));
        assert_eq!(cell.dropped(), 4);
        assert!(matches!(cell.take(Duration::from_millis(10)), Taken::Idle));
        cell.put(frame(5));
        cell.end();
        assert!(matches!(cell.take(Duration::ZERO), Taken::Frame(f) if f.seq == 5), "the last frame is not lost");
        assert!(matches!(cell.take(Duration::ZERO), Taken::Ended));
    }
}
