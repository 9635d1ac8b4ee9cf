//! The frame path of every camera: a capture thread per camera (`capture`, over a
//! `source::FrameSource`) fills a
//! one-slot frame cell (`handoff`: the newest frame of a live source, every frame of a
//! replay); an inference thread per camera (`worker`) takes it through depth (`depth`) —
//! unless the camera's change gate (`gate`) finds nothing changed — and the camera's rules.
//! The threads of a camera share a [`CameraLink`] (`camera`), with its timing statistics
//! (`timings`). The depth model is one instance shared by all cameras (its run state is
//! locked per frame), and tract's matrix products use the configured thread count.

pub mod camera;
pub mod capture;
pub mod depth;
pub mod gate;
pub mod handoff;
pub mod snapshot;
pub mod timings;
pub mod worker;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use dinoedge_calibration::Calibration;
use dinoedge_config::{Config, Name, Rule, Source};

pub use camera::{CameraLink, RuleCounts};
use depth::DepthProvider;
use gate::ChangeGate;
pub use worker::{Outlet, Processed, Recorder, RuleRunner};
use worker::{Pace, Worker};

use crate::internal::Died;
use crate::mqtt::Bus;
use crate::rules::measure::resolve_zone;

pub struct Pipeline {
    pub cameras: Vec<Camera>,
    stop: Arc<AtomicBool>,
    bus: Bus,
    capture: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<Worker>>,
}

/// A running camera: what its threads share, its source, and how long it may stay silent.
pub struct Camera {
    pub link: Arc<CameraLink>,
    pub source: Source,
    pub stall_timeout: Duration,
}

/// How long a stopping pipeline waits for the capture threads to leave their sources (they are
/// interrupted first); one whose read does not return is left behind, so that a stop takes
/// no longer than this whatever a source is doing.
const CAPTURE_STOP: Duration = Duration::from_secs(3);

impl Camera {
    /// Starts a capture thread on the camera's source.
    fn capture(&self, bus: &Bus, stop: &Arc<AtomicBool>) -> Result<JoinHandle<()>> {
        let (source, l, b, s) = (self.source.clone(), self.link.clone(), bus.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("capture-{}", self.link.name))
            .spawn(move || capture::run(&source, &l, &|state| l.set_state(state, &b), &s))
            .context("starting a capture thread")
    }
}

/// A rule's identity across reloads: its camera's name and its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    pub camera: Name,
    pub rule: Name,
}

impl RuleKey {
    pub fn of(rule: &Rule) -> Self {
        RuleKey { camera: rule.camera.clone(), rule: rule.name.clone() }
    }
}

/// `camera/rule`.
impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.camera, self.rule)
    }
}

/// The rules' alarm states, handed from a stopped pipeline to the next.
pub type Carried = HashMap<RuleKey, RuleRunner>;

impl Pipeline {
    /// Starts the threads of every camera of `config`. A rule in `carried` keeps the alarm
    /// state it has there: the caller hands over only rules that are unchanged in `config`.
    pub fn start(
        config: &Config,
        provider: Arc<DepthProvider>,
        calibrations: &HashMap<Name, Arc<Calibration>>,
        bus: &Bus,
        recorder: Option<&Recorder>,
        mut carried: Carried,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut cameras, mut capture, mut workers) = (Vec::new(), Vec::new(), Vec::new());
        for camera in &config.cameras {
            let link = Arc::new(CameraLink::new(camera.name.clone()));
            link.publish_status(bus, None);
            let rules = config
                .rules
                .iter()
                .filter(|r| r.camera == camera.name)
                .map(|r| match carried.remove(&RuleKey::of(r)) {
                    Some(mut runner) => {
                        runner.rebind();
                        runner
                    }
                    None => RuleRunner::new(r.clone(), config.mqtt.update_interval),
                })
                .collect::<Vec<RuleRunner>>();
            let calibration = calibrations.get(&camera.name).cloned();
            let zones =
                rules.iter().map(|r| resolve_zone(&r.rule.zone, calibration.as_deref()).ok().cloned()).collect();
            let worker = Worker {
                link: link.clone(),
                provider: provider.clone(),
                calibration,
                rules,
                bus: bus.clone(),
                device_id: config.device_id.clone(),
                snapshots: config.mqtt.snapshots,
                recorder: recorder.cloned(),
                gate: ChangeGate::new(camera.gate, zones),
                last: None,
                pace: Pace::default(),
            };
            let camera_ =
                Camera { link: link.clone(), source: camera.source.clone(), stall_timeout: camera.stall_timeout };
            capture.push(camera_.capture(bus, &stop)?);
            let s = stop.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("infer-{}", camera.name))
                    .spawn(move || worker.run(&s))
                    .context("starting an inference thread")?,
            );
            cameras.push(camera_);
        }
        Ok(Self { cameras, stop, bus: bus.clone(), capture, workers })
    }

    /// Breaks the read of each camera's source that has delivered nothing for its
    /// `stall_timeout`; a capture thread whose read cannot be broken is left behind, its camera
    /// is `down`, and a new thread opens the source again.
    pub fn check_stalls(&mut self) -> Result<()> {
        for (camera, thread) in self.cameras.iter().zip(&mut self.capture) {
            if capture::check_stall(&camera.link, camera.stall_timeout) == capture::Stall::Abandoned {
                let why = format!(
                    "no frame for {:.0?} and the source's read does not return: opening it again on a new thread",
                    camera.stall_timeout
                );
                camera.link.set_state(camera::State::Down(why), &self.bus);
                *thread = camera.capture(&self.bus, &self.stop)?;
            }
        }
        Ok(())
    }

    /// Every camera's source has ended and its last frame is processed.
    pub fn finished(&self) -> bool {
        self.workers.iter().all(JoinHandle::is_finished)
    }

    /// A camera's thread that has ended though its source has not (and nothing stopped it):
    /// it died of a panic that nothing caught, and its camera is silent.
    pub fn dead(&self) -> Result<(), Died> {
        for (n, Camera { link, .. }) in self.cameras.iter().enumerate() {
            let threads = [("capture", self.capture[n].is_finished()), ("inference", self.workers[n].is_finished())];
            if let Some((which, _)) = threads.into_iter().find(|&(_, finished)| finished)
                && !link.ended()
            {
                return Err(Died(format!("camera {}: its {which} thread has ended", link.name)));
            }
        }
        Ok(())
    }

    /// Stops the threads (each inference thread finishes the frame it is on) and returns
    /// the rules' alarm states, and whether a thread had died (its camera's rules are lost:
    /// the next run ends their open alarms).
    pub fn stop(self) -> (Carried, Option<Died>) {
        self.stop.store(true, Ordering::Relaxed);
        for Camera { link, .. } in &self.cameras {
            link.cell.close();
            capture::interrupt(link);
        }
        let mut carried = Carried::new();
        let mut died = None;
        // One deadline for all the sources, whatever number of them hangs.
        let deadline = Instant::now() + CAPTURE_STOP;
        let threads = self.workers.into_iter().zip(self.capture);
        for ((inference, capture), Camera { link, .. }) in threads.zip(&self.cameras) {
            match inference.join() {
                Ok(worker) => carried.extend(worker.rules.into_iter().map(|r| (RuleKey::of(&r.rule), r))),
                Err(panic) => {
                    let why = crate::internal::message(panic.as_ref());
                    died = Some(Died(format!("camera {}: the inference thread panicked: {why}", link.name)));
                }
            }
            while !capture.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !capture.is_finished() {
                log::warn!("camera {}: the source's read does not return: left behind", link.name);
            } else if let Err(panic) = capture.join() {
                let why = crate::internal::message(panic.as_ref());
                died = Some(Died(format!("camera {}: the capture thread panicked: {why}", link.name)));
            }
        }
        (carried, died)
    }
}
