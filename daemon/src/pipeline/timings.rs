//! Timing statistics of one camera: the last frames' frame-to-decision latency and the time
//! of each stage, as percentiles, for the `stats` message, the log and the benchmark.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Frames the percentiles are taken over.
const WINDOW: usize = 512;

#[derive(Default)]
pub struct Timings {
    /// Capture to decision (rules evaluated, events queued).
    latency: VecDeque<Duration>,
    depth: VecDeque<Duration>,
    rules: VecDeque<Duration>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub frames: usize,
    pub latency: Percentiles,
    pub depth: Percentiles,
    pub rules: Percentiles,
}

impl Timings {
    pub fn record(&mut self, latency: Duration, depth: Duration, rules: Duration) {
        for (ring, value) in [(&mut self.latency, latency), (&mut self.depth, depth), (&mut self.rules, rules)] {
            if ring.len() == WINDOW {
                ring.pop_front();
            }
            ring.push_back(value);
        }
    }

    pub fn summary(&self) -> Option<Summary> {
        (!self.latency.is_empty()).then(|| Summary {
            frames: self.latency.len(),
            latency: percentiles(self.latency.iter().copied()),
            depth: percentiles(self.depth.iter().copied()),
            rules: percentiles(self.rules.iter().copied()),
        })
    }
}

/// The median and 95th percentile (nearest rank) of `values`, which must not be empty.
pub fn percentiles(values: impl IntoIterator<Item = Duration>) -> Percentiles {
    let mut sorted: Vec<Duration> = values.into_iter().collect();
    sorted.sort();
    let at = |p: f64| sorted[((p * (sorted.len() - 1) as f64).round()) as usize].as_secs_f64() * 1000.0;
    Percentiles { p50_ms: at(0.5), p95_ms: at(0.95) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_hundred_milliseconds() {
        let mut t = Timings::default();
        for ms in 1..=100 {
            t.record(Duration::from_millis(ms), Duration::from_millis(ms / 2), Duration::ZERO);
        }
        let s = t.summary().unwrap();
        assert_eq!((s.latency.p50_ms, s.latency.p95_ms), (51.0, 95.0));
        assert_eq!(s.frames, 100);
        assert!(Timings::default().summary().is_none());
    }
}
