//! The periodic statistics on `stats` (every `stats_interval`): each camera's frame rates
//! since the last report, its totals and timing percentiles, and the outbox's size; the same
//! line goes to the log and, shortened, to systemd's STATUS=. Each camera's status is
//! republished with its capture rate.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use crate::lock::lock;
use crate::mqtt::Bus;
use crate::mqtt::wire::{self, CameraStats, round};
use crate::pipeline::{Camera, Pipeline};
use crate::systemd;

/// The periodic statistics: frame rates since the last report, drops, latency percentiles.
pub(super) struct Stats {
    last: Instant,
    /// Each camera's counters at the last report, in the pipeline's order.
    counts: Vec<Counts>,
}

/// A camera's frame counters at one moment.
#[derive(Clone, Copy, Default)]
struct Counts {
    captured: u64,
    processed: u64,
}

impl Stats {
    pub(super) fn new(pipeline: &Pipeline) -> Self {
        Self { last: Instant::now(), counts: vec![Counts::default(); pipeline.cameras.len()] }
    }

    pub(super) fn due(&self, interval: Duration) -> bool {
        self.last.elapsed() >= interval
    }

    pub(super) fn publish(&mut self, pipeline: &Pipeline, bus: &Bus) {
        let seconds = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        let mut cameras = BTreeMap::new();
        let (mut fps_total, mut alarms) = (0.0, 0);
        for (Camera { link, .. }, last) in pipeline.cameras.iter().zip(&mut self.counts) {
            let now = Counts {
                captured: link.captured.load(Ordering::Relaxed),
                processed: link.processed.load(Ordering::Relaxed),
            };
            let fps = (now.processed - last.processed) as f64 / seconds;
            let capture_fps = round((now.captured - last.captured) as f64 / seconds, 2);
            *last = now;
            fps_total += fps;
            alarms += link.alarms();
            link.publish_status(bus, Some(capture_fps));
            cameras.insert(
                link.name.clone(),
                CameraStats {
                    fps: round(fps, 2),
                    capture_fps,
                    frames: now.processed,
                    skipped: link.skipped.load(Ordering::Relaxed),
                    dropped: link.cell.dropped(),
                    timings_ms: lock(&link.timings).summary(),
                },
            );
        }
        let trouble = bus.outbox_trouble();
        let stats = wire::Stats {
            time: SystemTime::now().into(),
            cameras,
            outbox_pending: bus.pending_events(),
            outbox_dropped_updates: bus.dropped_updates(),
            outbox_unsaved: trouble.as_ref().map_or(0, |t| t.unsaved_events),
            outbox_error: trouble.as_ref().map(|t| t.error.clone()),
        };
        let payload = wire::to_json(&stats);
        log::info!("stats: {}", String::from_utf8_lossy(&payload));
        let mut status = format!("{fps_total:.1} fps, {alarms} alarms, {} events pending", bus.pending_events());
        if let Some(t) = trouble {
            status += &format!("; OUTBOX NOT WRITABLE, {} events in memory only: {}", t.unsaved_events, t.error);
        }
        systemd::status(&status);
        bus.transient(bus.topics().stats(), payload);
    }
}
