//! Timing statistics of one camera: the last frames' frame-to-decision latency and the time
//! of each stage, as percentiles, for the `stats` message, the log and the benchmark; and
//! the same since the start as histograms, for `/metrics`.

use std::collections::VecDeque;
use std::time::Duration;

use crate::metrics::Histogram;
use crate::mqtt::wire::{Percentiles, Summary};
use crate::percentile::nearest_rank;

/// Frames the percentiles are taken over.
const WINDOW: usize = 512;

#[derive(Default)]
pub struct Timings {
    /// Capture to decision (rules evaluated, events queued).
    latency: VecDeque<Duration>,
    /// Of the frames the model ran on.
    depth: VecDeque<Duration>,
    rules: VecDeque<Duration>,
    /// Latency, depth and rules since the start.
    pub histograms: [Histogram; 3],
}

impl Timings {
    /// One frame's times; `depth` is `None` when the gate skipped the model.
    pub fn record(&mut self, latency: Duration, depth: Option<Duration>, rules: Duration) {
        let [h_latency, h_depth, h_rules] = &mut self.histograms;
        let rings = [
            (&mut self.latency, h_latency, Some(latency)),
            (&mut self.depth, h_depth, depth),
            (&mut self.rules, h_rules, Some(rules)),
        ];
        for (ring, histogram, value) in rings.into_iter().filter_map(|(r, h, value)| Some((r, h, value?))) {
            if ring.len() == WINDOW {
                ring.pop_front();
            }
            ring.push_back(value);
            histogram.observe(value);
        }
    }

    /// `None` until a frame is recorded.
    pub fn summary(&self) -> Option<Summary> {
        Some(Summary {
            frames: self.latency.len(),
            latency: percentiles(self.latency.iter().copied())?,
            depth: percentiles(self.depth.iter().copied())?,
            rules: percentiles(self.rules.iter().copied())?,
        })
    }
}

/// The median and 95th percentile of `values` in milliseconds; `None` when empty.
pub fn percentiles(values: impl IntoIterator<Item = Duration>) -> Option<Percentiles> {
    let mut ms: Vec<f64> = values.into_iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    Some(Percentiles { p50_ms: nearest_rank(&mut ms, 50.0)?, p95_ms: nearest_rank(&mut ms, 95.0)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_hundred_milliseconds() {
        let mut t = Timings::default();
        for ms in 1..=100 {
            t.record(Duration::from_millis(ms), Some(Duration::from_millis(ms / 2)), Duration::ZERO);
        }
        // Skipped frames count in the latency, not in the depth stage.
        t.record(Duration::from_millis(1), None, Duration::ZERO);
        let s = t.summary().unwrap();
        assert_eq!((s.latency.p50_ms, s.latency.p95_ms), (50.0, 95.0));
        assert_eq!((s.depth.p50_ms, s.depth.p95_ms), (25.0, 47.0));
        assert_eq!(s.frames, 101);
        assert!(Timings::default().summary().is_none());
    }
}
