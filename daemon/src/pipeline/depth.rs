//! What the model sees in a frame: depth from the DINOv2 backbone and depth head (the product:
//! metres, or a relative model's inverse depth until the calibration aligns it), or — for
//! tests, the demo and `bench alarms` only, and named so — the simulator's exact depth and
//! classes stored beside each frame, with a depth model's errors drawn over them and its time
//! taken when the config asks (`noise`, `model_time`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dinoedge_config::{DepthKind, ObjectClass};
use dinoedge_heads::classes::ClassHead;
use dinoedge_heads::head::DepthModel;
use dinoedge_sim::noise::DepthNoise;
use ndarray::Array2;

use crate::source::Frame;

pub enum DepthProvider {
    /// The depth model and, when configured, a class head on its backbone's outputs.
    Model { model: Box<DepthModel>, classes: Option<ClassHead> },
    /// `depth/NAME.png` (millimetres) and `class/NAME.png` (the simulator's class numbers)
    /// beside `rgb/NAME.png`: the simulator's truth.
    SimTruth(SimTruth),
}

/// The simulator's truth as a model would give it: with its errors (none at level 0), taking
/// its time.
pub struct SimTruth {
    noise: DepthNoise,
    model_time: Duration,
}

impl SimTruth {
    pub fn new(config: &dinoedge_config::SimTruth) -> Self {
        Self { noise: DepthNoise { level: config.noise, seed: config.noise_seed }, model_time: config.model_time }
    }

    /// The exact truth, at once.
    pub fn exact() -> Self {
        Self::new(&dinoedge_config::SimTruth::default())
    }
}

/// One frame as the model sees it, [height, width] each.
pub struct Perceived {
    /// Of the provider's [`kind`](DepthProvider::kind).
    pub depth: Array2<f32>,
    /// Each pixel's class, when the provider gives classes.
    pub classes: Option<Array2<ObjectClass>>,
}

impl DepthProvider {
    /// What [`depth`](Self::depth) returns: metres, or a relative model's inverse depth.
    pub fn kind(&self) -> DepthKind {
        match self {
            DepthProvider::Model { model, .. } => model.kind(),
            DepthProvider::SimTruth(_) => DepthKind::Metric,
        }
    }

    pub fn perceive(&self, frame: &Frame) -> Result<Perceived> {
        match self {
            DepthProvider::Model { model, classes } => {
                let (height, width) = (frame.image.height() as usize, frame.image.width() as usize);
                let (depth, classes) = model.depth_and(&frame.image, |outputs| {
                    classes.as_ref().map(|head| head.class_map(outputs, height, width)).transpose()
                })?;
                Ok(Perceived { depth, classes })
            }
            DepthProvider::SimTruth(truth) => {
                let started = Instant::now();
                let file = frame.file.as_deref().context("sim-truth depth needs frames from files")?;
                let size = (frame.image.height() as usize, frame.image.width() as usize);
                let not_the_size = |truth: &Path| format!("{}: not the size of {}", truth.display(), file.display());
                let depth_file = truth_path(file, "depth")?;
                let depth = dinoedge_calibration::file::read_depth_mm(&depth_file).map_err(anyhow::Error::msg)?;
                if depth.dim() != size {
                    bail!(not_the_size(&depth_file));
                }
                let class_file = truth_path(file, "class")?;
                let mask = image::open(&class_file).with_context(|| format!("reading {}", class_file.display()))?;
                let mask =
                    mask.as_luma8().with_context(|| format!("{}: not an 8-bit grey mask", class_file.display()))?;
                if (mask.height() as usize, mask.width() as usize) != size {
                    bail!(not_the_size(&class_file));
                }
                let mut classes = Array2::from_shape_fn(size, |(y, x)| {
                    dinoedge_sim::Class::object_class_of_mask(mask.get_pixel(x as u32, y as u32).0[0])
                });
                let mut depth = depth;
                truth.noise.apply(frame.seq, &mut depth, &mut classes);
                std::thread::sleep(truth.model_time.saturating_sub(started.elapsed()));
                Ok(Perceived { depth, classes: Some(classes) })
            }
        }
    }
}

/// `…/rgb/NAME.ext` → `…/KIND/NAME.png` (`depth`, `class`).
fn truth_path(rgb: &Path, kind: &str) -> Result<std::path::PathBuf> {
    let folder = rgb.parent().filter(|p| p.file_name().is_some_and(|n| n == "rgb"));
    let (Some(folder), Some(stem)) = (folder, rgb.file_stem()) else {
        bail!("{}: sim-truth frames must be in an rgb/ folder with {kind}/ beside it", rgb.display());
    };
    Ok(folder.with_file_name(kind).join(stem).with_extension("png"))
}
