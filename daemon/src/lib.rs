//! The dinoedge daemon as a library: everything the `dinoedge` binary does, reachable from
//! in-process tests. `main.rs` parses the command line and calls [`commands::run`].
//!
//! How a frame moves, and the principal type of each step:
//!
//! - [`source`]: a [`source::FrameSource`] per camera kind (image folder, ffmpeg, V4L2), kept
//!   alive by the camera's capture thread, which fills the camera's one-slot frame cell.
//! - [`pipeline`]: a [`pipeline::Pipeline`] is the threads of every camera; its inference
//!   thread (a `Worker`) runs depth ([`pipeline::depth::DepthProvider`]) and the camera's
//!   rules, and shares a [`pipeline::CameraLink`] (counters, state, timings) with capture.
//! - [`rules`]: what a rule measures in its zone ([`rules::Measurer`]) and when that raises,
//!   updates or clears an alarm ([`rules::Tracker`], a [`rules::Transition`]). Pure.
//! - [`outbox`]: alarm events on disk ([`outbox::Outbox`]) until the broker acknowledged them.
//! - [`mqtt`]: the [`mqtt::Bus`] the pipeline hands events and states to, and the publisher
//!   task that owns the connection and delivers the outbox.
//! - [`http`]: how the HTTP endpoints are served, within [`http::Bounds`] whatever clients do.
//! - [`metrics`]: latency [`metrics::Histogram`]s and the Prometheus text format
//!   ([`metrics::Exposition`]) of `/metrics`.
//! - [`runtime`]: the daemon itself: a [`runtime::Site`] (config and calibrations, checked
//!   together), the control loop beside the publisher, reloads as a [`runtime::Diff`],
//!   signals as a [`runtime::Signal`], and [`systemd`] notifications.
//! - [`internal`]: what a panic does (a caught one costs a frame or a source restart; any
//!   other stops the daemon with [`internal::Died`], exit 70).
//! - [`commands`]: one module per subcommand, each a short entry function over the modules
//!   above; errors become [`exit`] codes after sysexits(3).

pub mod cli;
pub mod commands;
pub mod exit;
pub mod http;
pub mod internal;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod outbox;
pub mod percentile;
pub mod pipeline;
pub mod rules;
pub mod runtime;
pub mod source;
pub mod systemd;
