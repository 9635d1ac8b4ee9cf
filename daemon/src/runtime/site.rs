//! A site: the config and every camera's calibration, loaded and checked against each other
//! (the planes, zones and backgrounds the rules name; the model files a depth alignment was
//! fitted for), and the depth model the config names. Loading a site only reads files: the
//! daemon, `check-config`, a reload, `calibrate` and the demo all start here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use dinoedge_backbone::{ModelError, Precision, Settings};
use dinoedge_calibration::Calibration;
use dinoedge_calibration::file::FittedFor;
use dinoedge_config::{Config, ConfigError, DepthKind, Measure, Model, Name, ZoneRef};
use dinoedge_heads::head::DepthModel;

use crate::exit::UnusableModel;
use crate::pipeline::depth::{DepthProvider, SimTruth};

/// Everything a config refers to, loaded and checked against each other.
pub struct Site {
    pub config: Config,
    pub calibrations: HashMap<Name, Arc<Calibration>>,
}

/// The hashes of the model's files, as a calibration records what it was fitted for; `None`
/// for the simulator's truth, which has no files.
pub fn model_hashes(model: &Model) -> Result<Option<FittedFor>> {
    Ok(match model {
        Model::Dinov2 { backbone, head, .. } => Some(hash_files(backbone, head.as_deref())?),
        Model::SimTruth(_) => None,
    })
}

fn hash_files(backbone: &Path, head: Option<&Path>) -> Result<FittedFor> {
    Ok(FittedFor {
        backbone_sha256: dinoedge_backbone::files::sha256_file(backbone)?,
        head_sha256: head.map(dinoedge_backbone::files::sha256_file).transpose()?,
    })
}

/// What the model's depth output is, from the files' metadata: a trained head and the
/// simulator give metres; an imported depth model says in its metadata.
pub fn model_output(model: &Model) -> Result<DepthKind> {
    Ok(match model {
        Model::Dinov2 { backbone, head: None, .. } => {
            dinoedge_backbone::runtime::read_meta(backbone)?.depth.map_or(DepthKind::Metric, |d| d.kind)
        }
        Model::Dinov2 { head: Some(_), .. } | Model::SimTruth(_) => DepthKind::Metric,
    })
}

/// Loads the config (saying in the log what it says that no longer applies) and each camera's
/// calibration, and checks what lies between them: the planes, zones and backgrounds the rules
/// need, and the models the depth alignment was fitted for.
pub fn load_site(path: &Path) -> Result<Site> {
    let config = dinoedge_config::load(path)?;
    for note in config.rules.iter().flat_map(|r| &r.deprecated) {
        log::warn!("{}: {note}", path.display());
    }
    let output = model_output(&config.model)?;
    // The model files are hashed once, when the first calibration that records hashes asks.
    let mut hashes: Option<FittedFor> = None;
    let mut calibrations = HashMap::new();
    for camera in &config.cameras {
        let Some(file) = &camera.calibration else {
            if output == DepthKind::Relative {
                return Err(ConfigError::unlocated(
                    path,
                    format!(
                        "camera `{}` has no calibration, and the model's depth is relative: it is not metres \
                         until `dinoedge calibrate` aligns it for the camera",
                        camera.name
                    ),
                )
                .into());
            }
            continue;
        };
        let calibration = Calibration::load(file)?;
        if calibration.alignment.output != output {
            return Err(ConfigError::unlocated(
                file,
                format!(
                    "the depth alignment was fitted for a model with {} output, and the config's model gives {} \
                     depth; run `dinoedge calibrate` again",
                    calibration.alignment.output, output
                ),
            )
            .into());
        }
        if calibration.camera_name != camera.name {
            log::warn!(
                "{}: calibrated as camera `{}`, used for `{}`",
                file.display(),
                calibration.camera_name,
                camera.name
            );
        }
        if let (Some(fitted), Model::Dinov2 { backbone, head, .. }) = (&calibration.fitted_for, &config.model) {
            let current = match &hashes {
                Some(known) => known,
                None => hashes.insert(hash_files(backbone, head.as_deref())?),
            };
            let no_head = Path::new("(no head file)");
            for (what, model_file, expected, actual) in [
                ("backbone", backbone.as_path(), Some(&fitted.backbone_sha256), Some(&current.backbone_sha256)),
                ("head", head.as_deref().unwrap_or(no_head), fitted.head_sha256.as_ref(), current.head_sha256.as_ref()),
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

/// The state folder: the config's `state_dir`, systemd's `$STATE_DIRECTORY`, or /var/lib/dinoedge.
pub fn state_dir(config: &Config) -> PathBuf {
    config
        .state_dir
        .clone()
        .or_else(|| std::env::var_os("STATE_DIRECTORY").map(|v| PathBuf::from(v).components().collect()))
        .unwrap_or_else(|| PathBuf::from("/var/lib/dinoedge"))
}

/// The model's precision: `auto` is f16 where the CPU computes in half precision.
fn precision(setting: dinoedge_config::Precision) -> Precision {
    let native = Precision::native();
    let chosen = match setting {
        dinoedge_config::Precision::Auto => native,
        dinoedge_config::Precision::F32 => Precision::F32,
        dinoedge_config::Precision::F16 => Precision::F16,
    };
    match (setting, chosen) {
        (dinoedge_config::Precision::Auto, _) => log::info!(
            "precision: {chosen} (auto: this CPU {} in half precision)",
            if chosen == Precision::F16 { "computes" } else { "does not compute" }
        ),
        (_, Precision::F16) if native != Precision::F16 => log::warn!(
            "precision: f16 on a CPU without half-precision arithmetic: slower than f32, for accuracy checks only"
        ),
        _ => log::info!("precision: {chosen}"),
    }
    chosen
}

/// The depth model of `config`, loaded. A file that is there and cannot be used is an
/// [`UnusableModel`] (exit 78); one that cannot be read stays an I/O error (74), which a
/// restart may mend.
pub fn load_provider(config: &Config) -> Result<DepthProvider> {
    let unusable = |e: ModelError| match e {
        ModelError::Io { .. } => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(UnusableModel),
    };
    Ok(match &config.model {
        Model::Dinov2 { backbone, head, classes } => {
            let settings = Settings {
                precision: precision(config.pipeline.precision),
                ..Settings::threads(config.pipeline.threads)
            };
            let model = DepthModel::load(backbone, head.as_deref(), settings).map_err(unusable)?;
            let class_head = match classes {
                Some(path) => {
                    log::info!("classes: {}", path.display());
                    Some(dinoedge_heads::classes::file::load(path, Some(model.backbone.meta())).map_err(unusable)?.head)
                }
                None => None,
            };
            let described = match (head, &model.backbone.meta().depth) {
                (Some(head), _) => format!("with head {}", head.display()),
                (None, Some(d)) => format!("(the depth model {}, {} depth)", d.model, d.kind),
                (None, None) => String::new(),
            };
            log::info!("model: {} {described}", backbone.display());
            DepthProvider::Model { model: Box::new(model), classes: class_head }
        }
        Model::SimTruth(truth) => {
            log::warn!(
                "model: sim-truth — depth is read from the simulator's files; this is for tests and the demo only"
            );
            if truth.noise > 0.0 || !truth.model_time.is_zero() {
                log::info!(
                    "sim-truth: a depth model's errors at {} % (seed {}), {} s per frame",
                    truth.noise * 100.0,
                    truth.noise_seed,
                    truth.model_time.as_secs_f64()
                );
            }
            DepthProvider::SimTruth(SimTruth::new(truth))
        }
    })
}
