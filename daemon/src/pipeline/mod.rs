//! The frame path of every camera: a capture thread per camera (`source::capture`) fills a
//! one-slot frame cell (`handoff`: the newest frame of a live source, every frame of a
//! replay); an inference thread per camera (`worker`) takes it through depth (`depth`) and
//! the camera's rules. The threads of a camera share
//! a [`CameraLink`] (`camera`), with its timing statistics (`stats`). The depth model is one
//! instance shared by all cameras (its run state is locked per frame), and tract's matrix
//! products use the configured thread count.

pub mod camera;
pub mod depth;
pub mod handoff;
pub mod snapshot;
pub mod stats;
pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use dinoedge_calibration::Calibration;
use dinoedge_config::{Config, Name};

pub use camera::CameraLink;
use depth::DepthProvider;
use worker::Worker;
pub use worker::{Outlet, Processed, Recorder, RuleRunner};

use crate::mqtt::Bus;

pub struct Pipeline {
    pub cameras: Vec<(Arc<CameraLink>, Duration)>,
    stop: Arc<AtomicBool>,
    capture: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<Worker>>,
}

/// The rules' alarm states, by (camera, rule), handed from a stopped pipeline to the next.
pub type Carried = HashMap<(Name, Name), RuleRunner>;

impl Pipeline {
    /// Starts the threads of every camera of `config`. A rule found unchanged in `carried`
    /// keeps its alarm state (taken out of `carried`); what is left there is for the caller.
    pub fn start(
        config: &Config,
        provider: Arc<DepthProvider>,
        calibrations: &HashMap<Name, Arc<Calibration>>,
        bus: &Bus,
        recorder: Option<&Recorder>,
        carried: &mut Carried,
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
                .map(|r| match carried.remove(&(camera.name.clone(), r.name.clone())) {
                    Some(mut runner) if runner.rule == *r => {
                        runner.rebind();
                        runner
                    }
                    Some(changed) => {
                        carried.insert((camera.name.clone(), r.name.clone()), changed);
                        RuleRunner::new(r.clone(), config.mqtt.update_interval)
                    }
                    None => RuleRunner::new(r.clone(), config.mqtt.update_interval),
                })
                .collect();
            let worker = Worker {
                link: link.clone(),
                provider: provider.clone(),
                calibration: calibrations.get(&camera.name).cloned(),
                rules,
                bus: bus.clone(),
                device_id: config.device_id.clone(),
                snapshots: config.mqtt.snapshots,
                recorder: recorder.cloned(),
            };
            let (source, l, b, s) = (camera.source.clone(), link.clone(), bus.clone(), stop.clone());
            capture.push(
                std::thread::Builder::new()
                    .name(format!("capture-{}", camera.name))
                    .spawn(move || crate::source::capture::run(&source, &l, &|state| l.set_state(state, &b), &s))
                    .context("starting a capture thread")?,
            );
            let s = stop.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("infer-{}", camera.name))
                    .spawn(move || worker.run(&s))
                    .context("starting an inference thread")?,
            );
            cameras.push((link, camera.stall_timeout));
        }
        Ok(Self { cameras, stop, capture, workers })
    }

    /// Every camera's source has ended and its last frame is processed.
    pub fn finished(&self) -> bool {
        self.workers.iter().all(JoinHandle::is_finished)
    }

    /// Stops the threads (each inference thread finishes the frame it is on) and returns
    /// the rules' alarm states.
    pub fn stop(self) -> Carried {
        self.stop.store(true, Ordering::Relaxed);
        for (link, _) in &self.cameras {
            link.cell.close();
            crate::source::capture::interrupt(link);
        }
        let mut carried = Carried::new();
        for (thread, (link, _)) in self.workers.into_iter().zip(&self.cameras) {
            match thread.join() {
                Ok(worker) => {
                    carried.extend(worker.rules.into_iter().map(|r| ((link.name.clone(), r.rule.name.clone()), r)))
                }
                Err(_) => log::error!("camera {}: the inference thread panicked", link.name),
            }
        }
        for thread in self.capture {
            if thread.join().is_err() {
                log::error!("a capture thread panicked");
            }
        }
        carried
    }
}
