//! The one-slot frame cell between a camera's capture thread and its inference thread. How a
//! frame goes in follows the source's [`Delivery`]:
//! - **live** (a camera, a stream, a file played in real time): [`Handoff::offer`] replaces a
//!   frame not yet taken, and the replaced one is counted as dropped, so inference never works
//!   through a backlog of stale frames;
//! - **replay** (a recording processed as fast as inference goes): [`Handoff::hand`] waits
//!   until the frame before it was taken, so every frame is processed, in order, whatever the
//!   speed of the CPU.
//!
//! [`Delivery`]: crate::source::Delivery

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::lock::lock;
use crate::source::Frame;

#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    dropped: u64,
    ended: bool,
    closed: bool,
}

#[derive(Default)]
pub struct Handoff {
    slot: Mutex<Slot>,
    /// A frame was put in, or the source ended.
    filled: Condvar,
    /// The frame was taken, or the cell closed.
    emptied: Condvar,
}

/// What `take` found.
pub enum Taken {
    Frame(Frame),
    /// Nothing within the wait.
    Idle,
    /// The source has ended and its last frame was taken.
    Ended,
}

impl Handoff {
    /// A live frame: replaces one not yet taken (counted as dropped).
    pub fn offer(&self, frame: Frame) {
        let mut slot = lock(&self.slot);
        if slot.closed {
            return;
        }
        if slot.frame.replace(frame).is_some() {
            slot.dropped += 1;
        }
        self.filled.notify_one();
    }

    /// A replayed frame: waits until the frame before it was taken. False if the cell was
    /// closed (the pipeline is stopping) and the frame will not be processed.
    pub fn hand(&self, frame: Frame) -> bool {
        let slot = lock(&self.slot);
        let mut slot = self.emptied.wait_while(slot, |s| s.frame.is_some() && !s.closed).expect("cell lock");
        if slot.closed {
            return false;
        }
        slot.frame = Some(frame);
        self.filled.notify_one();
        true
    }

    /// The source will deliver nothing more.
    pub fn end(&self) {
        lock(&self.slot).ended = true;
        self.filled.notify_one();
    }

    /// Nothing will be taken any more: a waiting `hand` returns, and later frames are refused.
    pub fn close(&self) {
        lock(&self.slot).closed = true;
        self.emptied.notify_all();
    }

    /// The frame in the cell, waiting up to `wait` for one.
    pub fn take(&self, wait: Duration) -> Taken {
        let slot = lock(&self.slot);
        let (mut slot, _) =
            self.filled.wait_timeout_while(slot, wait, |s| s.frame.is_none() && !s.ended).expect("cell lock");
        match slot.frame.take() {
            Some(frame) => {
                self.emptied.notify_one();
                Taken::Frame(frame)
            }
            None if slot.ended => Taken::Ended,
            None => Taken::Idle,
        }
    }

    /// Live frames replaced before inference took them.
    pub fn dropped(&self) -> u64 {
        lock(&self.slot).dropped
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame {
            seq,
            captured: std::time::Instant::now(),
            wall: std::time::SystemTime::now(),
            delivery: crate::source::Delivery::Live,
            image: image::RgbImage::new(1, 1),
            file: None,
        }
    }

    fn seq(taken: Taken) -> Option<u64> {
        match taken {
            Taken::Frame(f) => Some(f.seq),
            Taken::Idle | Taken::Ended => None,
        }
    }

    #[test]
    fn a_slow_reader_of_a_live_source_gets_the_newest_frame_and_the_rest_are_counted_as_dropped() {
        let cell = Handoff::default();
        for seq in 0..5 {
            cell.offer(frame(seq));
        }
        assert_eq!(seq(cell.take(Duration::ZERO)), Some(4));
        assert_eq!(cell.dropped(), 4);
        assert!(matches!(cell.take(Duration::from_millis(10)), Taken::Idle));
        cell.offer(frame(5));
        cell.end();
        assert_eq!(seq(cell.take(Duration::ZERO)), Some(5), "the last frame is not lost");
        assert!(matches!(cell.take(Duration::ZERO), Taken::Ended));
    }

    #[test]
    fn a_slow_reader_of_a_replay_gets_every_frame_in_order() {
        let cell = Arc::new(Handoff::default());
        let writer = {
            let cell = cell.clone();
            std::thread::spawn(move || {
                for seq in 0..20 {
                    assert!(cell.hand(frame(seq)));
                }
                cell.end();
            })
        };
        let mut got = Vec::new();
        loop {
            std::thread::sleep(Duration::from_millis(2)); // slower than the writer
            match cell.take(Duration::from_secs(60)) {
                Taken::Frame(f) => got.push(f.seq),
                Taken::Ended => break,
                Taken::Idle => panic!("the writer hands a frame well within a minute"),
            }
        }
        writer.join().unwrap();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert_eq!(cell.dropped(), 0);
    }

    #[test]
    fn closing_releases_a_waiting_replay_and_refuses_later_frames() {
        let cell = Arc::new(Handoff::default());
        assert!(cell.hand(frame(0)));
        let waiting = {
            let cell = cell.clone();
            std::thread::spawn(move || cell.hand(frame(1)))
        };
        cell.close();
        assert!(!waiting.join().unwrap(), "the frame waiting for a reader that stopped is refused");
        assert!(!cell.hand(frame(2)));
        cell.offer(frame(3));
        assert_eq!(seq(cell.take(Duration::ZERO)), Some(0), "nothing replaced the frame in the cell");
    }
}
