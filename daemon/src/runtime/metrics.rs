//! The Prometheus endpoint (`[metrics] listen`, off unless set): `GET /metrics` answers what
//! the daemon is at that moment, read from the running pipeline's camera links (a reload
//! hands the new ones over with [`Scrape::watch`]), the outbox and the model's load time, in
//! the text format of [`crate::metrics`]. Counters of a camera's frames start again at a
//! reload (Prometheus' `rate` takes resets in its stride); a kept rule's alarm count does not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;

use crate::lock::lock;
use crate::metrics::{Exposition, Kind};
use crate::mqtt::Bus;
use crate::pipeline::{CameraLink, Pipeline};

/// What a scrape reads.
pub(super) struct Scrape {
    cameras: Mutex<Vec<Arc<CameraLink>>>,
    bus: Bus,
    model_load: Duration,
}

impl Scrape {
    pub(super) fn new(bus: Bus, model_load: Duration) -> Arc<Self> {
        Arc::new(Self { cameras: Mutex::default(), bus, model_load })
    }

    /// Follows the cameras of `pipeline`, the one now running.
    pub(super) fn watch(&self, pipeline: &Pipeline) {
        *lock(&self.cameras) = pipeline.cameras.iter().map(|c| c.link.clone()).collect();
    }

    fn render(&self) -> String {
        let cameras = lock(&self.cameras).clone();
        let mut e = Exposition::default();
        use std::sync::atomic::Ordering::Relaxed;
        type OfCamera = fn(&CameraLink) -> f64;
        let per_camera: [(&str, Kind, &str, OfCamera); 5] = [
            ("dinoedge_frames_captured_total", Kind::Counter, "Frames the source delivered.", |l| {
                l.captured.load(Relaxed) as f64
            }),
            ("dinoedge_frames_processed_total", Kind::Counter, "Frames through inference and rules.", |l| {
                l.processed.load(Relaxed) as f64
            }),
            (
                "dinoedge_frames_skipped_total",
                Kind::Counter,
                "Processed frames the model did not run on (the change gate found them unchanged).",
                |l| l.skipped.load(Relaxed) as f64,
            ),
            (
                "dinoedge_frames_dropped_total",
                Kind::Counter,
                "Frames a live source replaced before inference took them.",
                |l| l.cell.dropped() as f64,
            ),
            ("dinoedge_camera_up", Kind::Gauge, "1 while the camera's source delivers, else 0.", |l| {
                f64::from(u8::from(l.is_up()))
            }),
        ];
        for (name, kind, help, value) in per_camera {
            e.family(name, kind, help);
            for link in &cameras {
                e.sample(name, &[("camera", link.name.as_str())], value(link));
            }
        }
        let stage = "dinoedge_stage_seconds";
        e.family(
            stage,
            Kind::Histogram,
            "Time per frame: latency (capture to decision), depth (the model, on the frames it ran on), rules.",
        );
        for link in &cameras {
            let timings = lock(&link.timings);
            for (name, h) in ["latency", "depth", "rules"].iter().zip(&timings.histograms) {
                e.histogram(stage, &[("camera", link.name.as_str()), ("stage", name)], h);
            }
        }
        let rules: Vec<(String, crate::pipeline::RuleCounts)> =
            cameras.iter().flat_map(|l| lock(&l.rules).clone().into_iter().map(|r| (l.name.to_string(), r))).collect();
        type Field = fn(&crate::pipeline::RuleCounts) -> f64;
        let per_rule: [(&str, Kind, &str, Field); 3] = [
            ("dinoedge_alarms_started_total", Kind::Counter, "Alarms the rule started.", |r| r.started as f64),
            ("dinoedge_alarm_raised", Kind::Gauge, "1 while the rule's alarm is raised, else 0.", |r| {
                f64::from(u8::from(r.raised))
            }),
            ("dinoedge_rule_down", Kind::Gauge, "1 while the rule cannot measure, else 0.", |r| {
                f64::from(u8::from(r.down))
            }),
        ];
        for (name, kind, help, field) in per_rule {
            e.family(name, kind, help);
            for (camera, r) in &rules {
                e.sample(name, &[("camera", camera), ("rule", r.rule.as_str())], field(r));
            }
        }
        let trouble = self.bus.outbox_trouble();
        let single: [(&str, Kind, &str, f64); 4] = [
            (
                "dinoedge_outbox_pending_events",
                Kind::Gauge,
                "Events waiting for the broker's acknowledgement.",
                self.bus.pending_events() as f64,
            ),
            (
                "dinoedge_outbox_unsaved_events",
                Kind::Gauge,
                "Of those, events held in memory only: the disk refuses the outbox's writes.",
                trouble.map_or(0, |t| t.unsaved_events) as f64,
            ),
            (
                "dinoedge_outbox_dropped_updates_total",
                Kind::Counter,
                "Updates dropped from a full outbox (starts, ends and faults never are).",
                self.bus.dropped_updates() as f64,
            ),
            (
                "dinoedge_model_load_seconds",
                Kind::Gauge,
                "How long loading the model took at start-up.",
                self.model_load.as_secs_f64(),
            ),
        ];
        for (name, kind, help, value) in single {
            e.family(name, kind, help);
            e.sample(name, &[], value);
        }
        e.into_text()
    }
}

/// Answers `GET /metrics` on `listener` until the daemon stops.
pub(super) async fn serve(listener: tokio::net::TcpListener, scrape: Arc<Scrape>) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let scrape = scrape.clone();
            async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], scrape.render()) }
        }),
    );
    crate::http::serve(listener, app, crate::http::METRICS, std::future::pending()).await;
}
