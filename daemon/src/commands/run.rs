//! `dinoedge run --config FILE`: the daemon. `dinoedge check-config FILE`: the same checks
//! without starting. A bad config or calibration file exits with 78 (EX_CONFIG), which the
//! systemd unit does not restart on.
//!
//! Start-up: config → calibrations → model → outbox → publisher task → pipeline threads.
//! Then once a second: stalled sources are restarted, the watchdog is fed if inference is
//! alive, READY=1 is sent once every camera has a processed frame (or the ready timeout
//! passed), and every `stats_interval` the statistics go out. SIGHUP: the config and
//! calibration files are read again; if they are good the cameras and rules are restarted
//! on them (unchanged rules keep their alarm state; a removed or changed rule's alarm ends)
//! while the MQTT session and the outbox go on; a bad file is logged and the running
//! configuration stays. SIGTERM/SIGINT, or the end of every (finite) source: finish the
//! current frames, deliver the outbox for up to 3 s, publish `offline`, exit 0.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use dinoedge_calibration::Calibration;
use dinoedge_calibration::file::FittedFor;
use dinoedge_config::{Config, ConfigError, Measure, Model, Name, ZoneRef};
use dinoedge_heads::head::DepthModel;
use tokio::signal::unix::{SignalKind, signal};

use crate::mqtt::bus::Echo;
use crate::mqtt::wire::{self, CameraStats, round};
use crate::mqtt::{Bus, Topics};
use crate::outbox::Outbox;
use crate::pipeline::depth::DepthProvider;
use crate::pipeline::{CameraLink, Carried, Outlet, Pipeline, Recorder};
use crate::systemd;

/// Everything a config refers to, loaded and checked against each other.
pub struct Site {
    pub config: Config,
    pub calibrations: HashMap<Name, Arc<Calibration>>,
}

/// The hashes of the model's files, as a calibration records what it was fitted for; `None`
/// for the simulator's truth, which has no files.
pub fn model_hashes(model: &Model) -> Result<Option<FittedFor>> {
    Ok(match model {
        Model::Dinov2 { backbone, head } => Some(hash_files(backbone, head)?),
        Model::SimTruth => None,
    })
}

fn hash_files(backbone: &Path, head: &Path) -> Result<FittedFor> {
    Ok(FittedFor {
        backbone_sha256: dinoedge_heads::files::sha256_file(backbone)?,
        head_sha256: dinoedge_heads::files::sha256_file(head)?,
    })
}

/// Loads the config and each camera's calibration, and checks what lies between them: the
/// planes, zones and backgrounds the rules need, and the models the depth alignment was fitted for.
pub fn load_site(path: &Path) -> Result<Site> {
    let config = dinoedge_config::load(path)?;
    // The model files are hashed once, when the first calibration that records hashes asks.
    let mut hashes: Option<FittedFor> = None;
    let mut calibrations = HashMap::new();
    for camera in &config.cameras {
        let Some(file) = &camera.calibration else { continue };
        let calibration = Calibration::load(file)?;
        if calibration.camera_name != camera.name {
            log::warn!(
                "{}: calibrated as camera `{}`, used for `{}`",
                file.display(),
                calibration.camera_name,
                camera.name
            );
        }
        if let (Some(fitted), Model::Dinov2 { backbone, head }) = (&calibration.fitted_for, &config.model) {
            let current = match &hashes {
                Some(known) => known,
                None => hashes.insert(hash_files(backbone, head)?),
            };
            for (what, model_file, expected, actual) in [
                ("backbone", backbone, &fitted.backbone_sha256, &current.backbone_sha256),
                ("head", head, &fitted.head_sha256, &current.head_sha256),
            ] {
                if actual != expected {
                    return Err(ConfigError::unlocated(
                        file,
                        format!(
                            "the depth alignment was fitted for another {what} than {}; run `dinoedge calibrate` again",
                            model_file.display()
                        ),
                    )
                    .into());
                }
            }
        }
        calibrations.insert(camera.name.clone(), Arc::new(calibration));
    }
    for rule in &config.rules {
        if let ZoneRef::Named(zone) = &rule.zone {
            let calibration = &calibrations[&rule.camera];
            if calibration.zone(zone).is_none() {
                return Err(ConfigError::unlocated(
                    &calibration.file,
                    format!("no zone `{zone}`, which rule `{}` watches (draw it with `dinoedge calibrate`)", rule.name),
                )
                .into());
            }
        }
        if let Measure::PlaneDistance { plane, .. } = &rule.measure {
            let calibration = &calibrations[&rule.camera];
            let fail = |msg: String| ConfigError::unlocated(&calibration.file, msg);
            if calibration.plane(plane).is_none() {
                return Err(fail(format!("no plane `{plane}`, which rule `{}` measures to", rule.name)).into());
            }
            if calibration.background.is_none() {
                return Err(fail(format!("no background depth, which rule `{}` needs", rule.name)).into());
            }
        }
    }
    Ok(Site { config, calibrations })
}

pub fn check_config(path: &Path) -> Result<()> {
    let site = load_site(path)?;
    println!(
        "{}: OK ({} cameras, {} rules, publishing to {} under {})",
        path.display(),
        site.config.cameras.len(),
        site.config.rules.len(),
        site.config.mqtt.url,
        site.config.topic_prefix()
    );
    Ok(())
}

/// The state folder: the config's `state_dir`, systemd's `$STATE_DIRECTORY`, or /var/lib/dinoedge.
fn state_dir(config: &Config) -> PathBuf {
    config
        .state_dir
        .clone()
        .or_else(|| std::env::var_os("STATE_DIRECTORY").map(|v| PathBuf::from(v).components().collect()))
        .unwrap_or_else(|| PathBuf::from("/var/lib/dinoedge"))
}

pub(super) fn load_provider(config: &Config) -> Result<DepthProvider> {
    Ok(match &config.model {
        Model::Dinov2 { backbone, head } => {
            let model = DepthModel::load(backbone, head, config.pipeline.threads)?;
            log::info!("model: {} with head {}", backbone.display(), head.display());
            DepthProvider::Model(Box::new(model))
        }
        Model::SimTruth => {
            log::warn!(
                "model: sim-truth — depth is read from the simulator's files; this is for tests and the demo only"
            );
            DepthProvider::SimTruth
        }
    })
}

/// What the demo and the benchmark hook into a run: events as they are queued, every
/// processed frame, and a time to stop.
#[derive(Default)]
pub struct Hooks {
    pub echo: Option<Echo>,
    pub recorder: Option<Recorder>,
    /// Stop as if by SIGTERM after this long (the benchmark).
    pub stop_after: Option<Duration>,
}

/// Runs the daemon until SIGTERM/SIGINT or until every source has ended.
pub fn run(path: &Path, hooks: Hooks) -> Result<()> {
    let Site { config, calibrations } = load_site(path)?;
    let provider = load_provider(&config)?;
    let state = state_dir(&config);
    let outbox = Outbox::open(&state.join("outbox"), config.outbox.max_events)?;
    if outbox.pending_count() > 0 {
        log::info!("{} events from an earlier run wait in the outbox", outbox.pending_count());
    }
    let topics = Topics { prefix: config.topic_prefix() };
    let options = crate::mqtt::options::mqtt_options(&config, &topics)?;
    let bus = Bus::new(topics.clone(), outbox, hooks.echo);
    if config.mqtt.home_assistant {
        for (topic, payload) in crate::mqtt::discovery::messages(&config, &topics) {
            bus.retain_json(topic, &payload);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("dinoedge-io")
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let site = Site { config, calibrations };
    runtime.block_on(serve(path, site, Arc::new(provider), bus, options, hooks.recorder, hooks.stop_after))
}

async fn serve(
    path: &Path,
    site: Site,
    mut provider: Arc<DepthProvider>,
    bus: Bus,
    options: rumqttc::MqttOptions,
    recorder: Option<Recorder>,
    stop_after: Option<Duration>,
) -> Result<()> {
    let Site { mut config, calibrations } = site;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let publisher = tokio::spawn(crate::mqtt::publisher::run(options, bus.clone(), stop_rx));
    let mut pipeline =
        Pipeline::start(&config, provider.clone(), &calibrations, &bus, recorder.as_ref(), &mut Carried::new())?;
    log::info!(
        "running: {} cameras, {} rules, MQTT {} under {}",
        config.cameras.len(),
        config.rules.len(),
        config.mqtt.url,
        config.topic_prefix()
    );

    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let watchdog = systemd::watchdog_interval();
    let started = Instant::now();
    let mut ready = false;
    let mut stats = Stats::new(&pipeline);
    loop {
        tokio::select! {
            _ = term.recv() => { log::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { log::info!("SIGINT: stopping"); break; }
            _ = hup.recv() => {
                // Reading the files (and a new model) blocks: let the publisher move elsewhere.
                let next = match tokio::task::block_in_place(|| reload(path, &config, &provider)) {
                    Ok(next) => next,
                    Err(e) => {
                        log::error!("SIGHUP: {e:#}; the running configuration stays");
                        continue;
                    }
                };
                let mut carried = tokio::task::spawn_blocking(move || pipeline.stop()).await.context("stopping the pipeline")?;
                provider = next.provider;
                pipeline = Pipeline::start(&next.config, provider.clone(), &next.calibrations, &bus, recorder.as_ref(), &mut carried)?;
                for ((camera, _), runner) in carried {
                    runner.retire(&Outlet { bus: &bus, device_id: &config.device_id, camera: &camera }, "rule removed or changed by a reload");
                }
                for gone in config.cameras.iter().filter(|c| next.config.camera(&c.name).is_none()) {
                    bus.retain(bus.topics().camera_status(&gone.name), Vec::new());
                }
                config = next.config;
                stats = Stats::new(&pipeline);
                log::info!("SIGHUP: reloaded {}: {} cameras, {} rules", path.display(), config.cameras.len(), config.rules.len());
            }
            _ = tick.tick() => {
                for (link, stall) in &pipeline.cameras {
                    crate::source::capture::check_stall(link, *stall);
                }
                let links: Vec<&CameraLink> = pipeline.cameras.iter().map(|(l, _)| l.as_ref()).collect();
                if let Some(interval) = watchdog {
                    systemd::watchdog(interval, &links);
                }
                if !ready
                    && (links.iter().all(|l| l.processed.load(Ordering::Relaxed) > 0)
                        || started.elapsed() >= config.pipeline.ready_timeout)
                {
                    ready = true;
                    systemd::ready();
                }
                if stats.due(config.pipeline.stats_interval) {
                    stats.publish(&pipeline, &bus);
                }
                if pipeline.finished() {
                    log::info!("every source has ended");
                    break;
                }
                if stop_after.is_some_and(|d| started.elapsed() >= d) {
                    break;
                }
            }
        }
    }
    systemd::stopping();
    tokio::task::spawn_blocking(move || drop(pipeline.stop())).await.context("stopping the pipeline")?;
    let _ = stop_tx.send(true);
    publisher.await.context("the MQTT task")??;
    Ok(())
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
fn reload(path: &Path, running: &Config, provider: &Arc<DepthProvider>) -> Result<Reloaded> {
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

/// The periodic statistics: frame rates since the last report, drops, latency percentiles.
struct Stats {
    last: Instant,
    counts: Vec<(u64, u64)>,
}

impl Stats {
    fn new(pipeline: &Pipeline) -> Self {
        Self { last: Instant::now(), counts: vec![(0, 0); pipeline.cameras.len()] }
    }

    fn due(&self, interval: Duration) -> bool {
        self.last.elapsed() >= interval
    }

    fn publish(&mut self, pipeline: &Pipeline, bus: &Bus) {
        let seconds = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        let mut cameras = BTreeMap::new();
        let (mut fps_total, mut alarms) = (0.0, 0);
        for ((link, _), last) in pipeline.cameras.iter().zip(&mut self.counts) {
            let now = (link.captured.load(Ordering::Relaxed), link.processed.load(Ordering::Relaxed));
            let fps = (now.1 - last.1) as f64 / seconds;
            let capture_fps = round((now.0 - last.0) as f64 / seconds, 2);
            *last = now;
            fps_total += fps;
            alarms += link.alarms.load(Ordering::Relaxed);
            link.publish_status(bus, Some(capture_fps));
            cameras.insert(
                link.name.clone(),
                CameraStats {
                    fps: round(fps, 2),
                    capture_fps,
                    frames: now.1,
                    dropped: link.cell.dropped(),
                    timings_ms: link.timings.lock().expect("timings lock").summary(),
                },
            );
        }
        let stats = wire::Stats {
            time: SystemTime::now().into(),
            cameras,
            outbox_pending: bus.pending_events(),
            outbox_dropped_updates: bus.dropped_updates(),
        };
        let payload = crate::mqtt::bus::to_json(&stats);
        log::info!("stats: {}", String::from_utf8_lossy(&payload));
        systemd::status(&format!("{fps_total:.1} fps, {alarms} alarms, {} events pending", bus.pending_events()));
        bus.transient(bus.topics().stats(), payload);
    }
}
