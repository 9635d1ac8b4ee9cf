//! The daemon's runtime, apart from the command line that starts it: loading a [`Site`]
//! (`site`), the control loop and reloads (`running`, with the reload's [`Diff`] in `diff` and
//! the [`Signal`]s in `signal`), and the periodic statistics (`stats`).
//!
//! Start-up ([`run`]): config → calibrations → model → outbox → publisher task → pipeline
//! threads → the control loop, until SIGTERM/SIGINT or the end of every (finite) source.
//! `dinoedge run`, the demo and `bench pipeline` all run the daemon through [`run`]; the demo
//! and the benchmark watch it through [`Hooks`].

mod diff;
mod left_open;
mod metrics;
mod running;
mod signal;
mod site;
mod stats;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

pub use diff::{Changes, Diff};
pub use signal::Signal;
pub use site::{Site, load_provider, load_site, model_hashes};

use crate::mqtt::bus::Echo;
use crate::mqtt::{Bus, Topics};
use crate::outbox::Outbox;
use crate::pipeline::Recorder;

/// What the demo and the benchmark hook into a run: events as they are queued, every
/// processed frame, and a time to stop.
#[derive(Default)]
pub struct Hooks {
    pub echo: Option<Echo>,
    pub recorder: Option<Recorder>,
    /// Stop as if by SIGTERM after this long (the benchmark).
    pub stop_after: Option<Duration>,
}

/// Runs the daemon on the config at `path` until SIGTERM/SIGINT or until every source has
/// ended.
pub fn run(path: &Path, hooks: Hooks) -> Result<()> {
    let site = load_site(path)?;
    let loading = std::time::Instant::now();
    let provider = load_provider(&site.config)?;
    let model_load = loading.elapsed();
    let config = &site.config;
    let outbox = Outbox::open(&site::state_dir(config).join("outbox"), config.outbox.max_events)?;
    if outbox.pending_count() > 0 {
        log::info!("{} events from an earlier run wait in the outbox", outbox.pending_count());
    }
    let topics = Topics { prefix: config.topic_prefix() };
    let options = crate::mqtt::options::mqtt_options(config, &topics)?;
    let mut hooks = hooks;
    let bus = Bus::new(topics.clone(), outbox, hooks.echo.take());
    left_open::end(&bus);
    if config.mqtt.home_assistant {
        for (topic, payload) in crate::mqtt::discovery::messages(config, &topics) {
            bus.retain_json(topic, &payload);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("dinoedge-io")
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    runtime.block_on(running::serve(path, site, Arc::new(provider), bus, options, hooks, model_load))
}
