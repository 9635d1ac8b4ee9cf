//! The daemon at work: the configuration in force and the pipeline running it, driven by the
//! control loop (`serve`) on tokio beside the MQTT publisher. Once a second (`tick`): stalled
//! sources are restarted, systemd hears READY=1 and the watchdog, events the disk refused are
//! written again, and the statistics go out when due. A [`Signal`]: SIGTERM/SIGINT stop; SIGHUP reloads (`reload`): the files are read
//! again, and if they are good the pipeline restarts on them, the rules the [`Diff`] finds
//! unchanged keeping their alarm state, a removed or changed rule's alarm ending; the MQTT
//! session and the outbox go on. A bad file is logged and the running configuration stays.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use dinoedge_calibration::Calibration;
use dinoedge_config::{Config, Name};

use super::Hooks;
use super::diff::Diff;
use super::metrics::Scrape;
use super::signal::{Signal, Signals};
use super::site::{Site, load_provider, load_site};
use super::stats::Stats;
use crate::internal::Died;
use crate::mqtt::{Bus, discovery};
use crate::pipeline::depth::DepthProvider;
use crate::pipeline::{CameraLink, Carried, Outlet, Pipeline, Recorder};
use crate::systemd::{self, Health};

/// Why an alarm ends when a reload removes or changes its rule (the `end` event's `reason`).
const RETIRED: &str = "rule removed or changed by a reload";
/// Why an alarm ends when the daemon stops.
const STOPPED: &str = "dinoedge stopped";

/// Runs until a stop signal, the end of every source, or `stop_after`; then stops the
/// pipeline (each camera finishes its frame), ends every raised alarm (`STOPPED`; its retained
/// state then says `clear`), and stops the publisher (which delivers for up to 3 s and
/// publishes `offline`).
pub(super) async fn serve(
    path: &Path,
    site: Site,
    provider: Arc<DepthProvider>,
    bus: Bus,
    options: rumqttc::MqttOptions,
    hooks: Hooks,
    model_load: Duration,
) -> Result<()> {
    let metrics = match site.config.metrics.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("[metrics] listen = \"{addr}\": cannot listen there"))?,
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut publisher = tokio::spawn(crate::mqtt::publisher::run(options, bus.clone(), stop_rx));
    let mut running = Running::start(site, provider, &bus, hooks.recorder)?;
    // The tasks that run until the daemon stops: one that ends before is a defect.
    let mut serving = tokio::task::JoinSet::new();
    let scrape = metrics.map(|listener| {
        let scrape = Scrape::new(bus.clone(), model_load);
        scrape.watch(&running.pipeline);
        log::info!(
            "metrics: http://{}/metrics",
            listener.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string())
        );
        serving.spawn(super::metrics::serve(listener, scrape.clone()));
        scrape
    });
    let config = &running.config;
    log::info!(
        "running: {} cameras, {} rules, MQTT {} under {}",
        config.cameras.len(),
        config.rules.len(),
        config.mqtt.url,
        config.topic_prefix()
    );
    let mut signals = Signals::install()?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut health = Health::default();
    let started = Instant::now();
    // Why the daemon stops other than as asked: a thread or task that died, or the error the
    // publisher ended early with; and whether the publisher has ended (it is awaited once).
    let mut died: Option<Died> = None;
    let mut failed: Option<anyhow::Error> = None;
    let mut published = false;
    loop {
        tokio::select! {
            signal = signals.next() => match signal {
                Signal::Terminate | Signal::Interrupt => {
                    log::info!("{signal}: stopping");
                    break;
                }
                Signal::Reload => {
                    running = running.reload(path, &bus).await?;
                    if let Some(scrape) = &scrape {
                        scrape.watch(&running.pipeline);
                    }
                }
            },
            ended = &mut publisher => {
                match ended {
                    Ok(Ok(())) => died = Some(Died("the MQTT publisher ended".into())),
                    Ok(Err(e)) => failed = Some(e),
                    Err(e) => died = Some(died_of("the MQTT publisher", e)),
                }
                published = true;
                break;
            }
            Some(ended) = serving.join_next() => {
                died = Some(match ended {
                    Ok(()) => Died("the metrics endpoint ended".into()),
                    Err(e) => died_of("the metrics endpoint", e),
                });
                break;
            }
            _ = tick.tick() => {
                match running.tick(&bus, &mut health) {
                    Ok(Sources::Running) => {}
                    Ok(Sources::Ended) => {
                        log::info!("every source has ended");
                        break;
                    }
                    Err(e) => {
                        died = Some(e);
                        break;
                    }
                }
                if hooks.stop_after.is_some_and(|d| started.elapsed() >= d) {
                    break;
                }
            }
        }
    }
    systemd::stopping();
    if let Some(e) = &died {
        log::error!("{e}: stopping (exit 70; systemd restarts the service)");
    }
    let Running { config, pipeline, .. } = running;
    let (carried, lost) =
        tokio::task::spawn_blocking(move || pipeline.stop()).await.context("stopping the pipeline")?;
    for (key, runner) in carried {
        runner.stand_down(&Outlet { bus: &bus, device_id: &config.device_id, camera: &key.camera }, STOPPED);
    }
    serving.abort_all();
    let _ = stop_tx.send(true);
    if let Some(e) = failed {
        return Err(e);
    }
    if !published {
        publisher.await.map_err(|e| died_of("the MQTT publisher", e))??;
    }
    // The join of a dead thread tells its panic, which the tick that found it could not.
    match lost.or(died) {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The task `what` ended that should not have: its panic's message, or that it was cancelled.
fn died_of(what: &str, e: tokio::task::JoinError) -> Died {
    match e.try_into_panic() {
        Ok(panic) => Died(format!("{what}: panicked: {}", crate::internal::message(panic.as_ref()))),
        Err(e) => Died(format!("{what}: {e}")),
    }
}

/// Whether any camera's source still delivers.
#[derive(PartialEq)]
enum Sources {
    Running,
    Ended,
}

/// The configuration in force and the pipeline running it; the recorder goes to every
/// pipeline a reload starts.
struct Running {
    config: Config,
    provider: Arc<DepthProvider>,
    pipeline: Pipeline,
    stats: Stats,
    recorder: Option<Recorder>,
}

impl Running {
    fn start(site: Site, provider: Arc<DepthProvider>, bus: &Bus, recorder: Option<Recorder>) -> Result<Self> {
        let Site { config, calibrations } = site;
        let pipeline =
            Pipeline::start(&config, provider.clone(), &calibrations, bus, recorder.as_ref(), Carried::new())?;
        Ok(Running { config, provider, stats: Stats::new(&pipeline), pipeline, recorder })
    }

    /// The once-a-second chores; a pipeline thread that died is an error.
    fn tick(&mut self, bus: &Bus, health: &mut Health) -> Result<Sources, Died> {
        if let Err(e) = self.pipeline.check_stalls() {
            return Err(Died(format!("{e:#}")));
        }
        let links: Vec<&CameraLink> = self.pipeline.cameras.iter().map(|c| c.link.as_ref()).collect();
        health.report(&links, self.config.pipeline.ready_timeout);
        bus.retry_outbox();
        if self.stats.due(self.config.pipeline.stats_interval) {
            self.stats.publish(&self.pipeline, bus);
        }
        self.pipeline.dead()?;
        Ok(if self.pipeline.finished() { Sources::Ended } else { Sources::Running })
    }

    /// SIGHUP: the running configuration, replaced by the files' if they are good.
    async fn reload(self, path: &Path, bus: &Bus) -> Result<Self> {
        // Reading the files (and a new model) blocks: let the publisher move elsewhere.
        let next = match tokio::task::block_in_place(|| read_again(path, &self.config, &self.provider)) {
            Ok(next) => next,
            Err(e) => {
                log::error!("SIGHUP: {e:#}; the running configuration stays");
                return Ok(self);
            }
        };
        let diff = Diff::between(&self.config, &next.config);
        let Running { config, pipeline, recorder, .. } = self;
        let (mut carried, lost) =
            tokio::task::spawn_blocking(move || pipeline.stop()).await.context("stopping the pipeline")?;
        if let Some(e) = lost {
            return Err(e.into());
        }
        for key in diff.rules.ended() {
            if let Some(runner) = carried.remove(key) {
                runner.retire(&Outlet { bus, device_id: &config.device_id, camera: &key.camera }, RETIRED);
            }
        }
        for camera in &diff.cameras.removed {
            bus.retain(bus.topics().camera_status(camera), Vec::new());
        }
        if config.mqtt.home_assistant {
            for (topic, message) in discovery::changes(&config, &next.config, bus.topics()) {
                match message {
                    Some(message) => bus.retain_json(topic, &message),
                    None => bus.retain(topic, Vec::new()),
                }
            }
        }
        let Reloaded { config, calibrations, provider } = next;
        let pipeline = Pipeline::start(&config, provider.clone(), &calibrations, bus, recorder.as_ref(), carried)?;
        log::info!(
            "SIGHUP: reloaded {}: {} cameras, {} rules ({diff})",
            path.display(),
            config.cameras.len(),
            config.rules.len()
        );
        Ok(Running { config, provider, stats: Stats::new(&pipeline), pipeline, recorder })
    }
}

/// A reloaded configuration, ready to start.
struct Reloaded {
    config: Config,
    calibrations: HashMap<Name, Arc<Calibration>>,
    provider: Arc<DepthProvider>,
}

/// Reads the config and calibrations again. The cameras, rules, calibrations and model are
/// taken from the new files; the device, state folder, broker, outbox and pipeline settings
/// stay as they are until a restart (a warning says so if they changed).
fn read_again(path: &Path, running: &Config, provider: &Arc<DepthProvider>) -> Result<Reloaded> {
    let Site { config: new, calibrations } = load_site(path)?;
    let fixed = [
        ("device_id", new.device_id != running.device_id),
        ("state_dir", new.state_dir != running.state_dir),
        ("[mqtt]", new.mqtt != running.mqtt),
        ("[outbox]", new.outbox != running.outbox),
        ("[pipeline]", new.pipeline != running.pipeline),
    ];
    for (what, _) in fixed.iter().filter(|(_, changed)| *changed) {
        log::warn!("SIGHUP: a change to {what} takes effect at the next restart");
    }
    let provider = if new.model == running.model { provider.clone() } else { Arc::new(load_provider(&new)?) };
    let config = Config { model: new.model, cameras: new.cameras, rules: new.rules, ..running.clone() };
    Ok(Reloaded { config, calibrations, provider })
}
