//! Prometheus metrics: cumulative latency histograms ([`Histogram`], kept by each camera's
//! timings) and the text exposition format 0.0.4 ([`Exposition`]) that `/metrics` answers in
//! and `promtool check metrics` reads. (The Prometheus project's Rust client writes
//! OpenMetrics only, whose `_total` samples `promtool` takes for families without help.)

use std::fmt::Write;
use std::time::Duration;

/// The upper bounds of the histogram buckets, in seconds: a frame's stages take milliseconds
/// (the rules) to seconds (a large model on a Pi).
const BOUNDS_S: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Durations observed, by bucket, since the start.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Observations in each bucket of [`BOUNDS_S`] alone (not cumulative), then above them all.
    counts: [u64; BOUNDS_S.len() + 1],
    sum_s: f64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        self.counts[BOUNDS_S.iter().position(|&b| s <= b).unwrap_or(BOUNDS_S.len())] += 1;
        self.sum_s += s;
    }
}

#[derive(Clone, Copy)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A `/metrics` answer being written: each family's HELP and TYPE, then its samples.
#[derive(Default)]
pub struct Exposition(String);

impl Exposition {
    /// Starts the family `name` (for a counter, ending in `_total`).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// One sample of the family just started.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                let value = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = write!(self.0, "{}{key}=\"{value}\"", if i > 0 { "," } else { "" });
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// The samples of one histogram of the family `name` just started.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0;
        for (bound, count) in BOUNDS_S.iter().map(f64::to_string).chain(["+Inf".into()]).zip(h.counts) {
            cumulative += count;
            let le = [labels, &[("le", bound.as_str())]].concat();
            self.sample(&format!("{name}_bucket"), &le, cumulative as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_s);
        self.sample(&format!("{name}_count"), labels, cumulative as f64);
    }

    pub fn into_text(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_cumulative_and_labels_are_escaped() {
        let mut h = Histogram::default();
        for ms in [3, 40, 40, 60_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut e = Exposition::default();
        e.family("t_seconds", Kind::Histogram, "Test.");
        e.histogram("t_seconds", &[("camera", "a\"b")], &h);
        let text = e.into_text();
        assert!(text.starts_with("# HELP t_seconds Test.\n# TYPE t_seconds histogram\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{camera=\"a\\\"b\",le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{camera=\"a\\\"b\",le=\"0.05\"} 3\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{camera=\"a\\\"b\",le=\"30\"} 3\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{camera=\"a\\\"b\",le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("t_seconds_sum{camera=\"a\\\"b\"} 60.083\n"), "{text}");
        assert!(text.contains("t_seconds_count{camera=\"a\\\"b\"} 4\n"), "{text}");
    }
}
