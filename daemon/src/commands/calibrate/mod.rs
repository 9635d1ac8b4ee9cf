//! `dinoedge calibrate`, two ways to the same files: scripted (a points file and frames of
//! the empty scene, for fleets and tests) and the browser UI (`ui`: the live camera, points
//! clicked on the page). Both fit with `dinoedge_calibration::workflow::calibrate` and write
//! through [`save`]: the calibration file, its background depth, a preview image and the
//! points file — or, on any mistake, one error and nothing written. The page also fits a
//! class head on classes brushed on held frames ([`labels`]), saved beside the calibration.

mod labels;
mod preview;
mod report;
mod ui;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dinoedge_calibration::file::{FittedFor, write_depth_mm};
use dinoedge_calibration::image_file;
use dinoedge_calibration::workflow::{Outcome, PointsFile, calibrate};
use dinoedge_config::{Camera, ConfigError, Name};
use image::RgbImage;
use serde::Serialize;

use crate::exit::{InputError, UsageError};
use crate::pipeline::depth::DepthProvider;
use crate::source::Frame;
pub use report::Report;

pub struct Args {
    pub config: PathBuf,
    pub camera: Name,
    pub out: PathBuf,
    pub how: How,
}

pub enum How {
    Scripted { frames: Vec<PathBuf>, points: PathBuf },
    Ui { listen: SocketAddr, allow_remote: bool },
}

/// What both ways need: the camera to calibrate and the model that reads its depth.
pub struct Setup {
    pub camera: Camera,
    pub provider: DepthProvider,
    /// The model files' hashes, recorded in the calibration (the alignment holds for them only).
    pub fitted_for: Option<FittedFor>,
}

impl Setup {
    pub fn load(config_path: &Path, camera: &Name) -> Result<Setup> {
        let config = dinoedge_config::load(config_path)?;
        let camera = config
            .camera(camera)
            .cloned()
            .ok_or_else(|| ConfigError::unlocated(config_path, format!("no camera named `{camera}` to calibrate")))?;
        let fitted_for = crate::runtime::model_hashes(&config.model)?;
        Ok(Setup { camera, provider: crate::runtime::load_provider(&config)?, fitted_for })
    }
}

pub fn run(args: Args) -> Result<()> {
    if let How::Ui { listen, allow_remote: false } = args.how
        && !listen.ip().is_loopback()
    {
        return Err(UsageError(format!(
            "--listen {listen} is reachable from the network, and the calibrate UI has no login; \
             use the default (127.0.0.1:8090) through an SSH tunnel, or add --allow-remote"
        ))
        .into());
    }
    // Before any work: a calibration fitted, or a page's session drawn, only to find it
    // cannot be saved would be lost.
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(
            UsageError(format!("--out {}: the folder {} does not exist", args.out.display(), dir.display())).into()
        );
    }
    let setup = Setup::load(&args.config, &args.camera)?;
    match args.how {
        How::Scripted { frames, points } => scripted(&setup, &frames, &points, &args.out),
        How::Ui { listen, .. } => ui::serve(setup, &args.out, listen),
    }
}

fn scripted(setup: &Setup, frames: &[PathBuf], points_path: &Path, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(points_path).with_context(|| format!("reading {}", points_path.display()))?;
    let points: PointsFile = dinoedge_config::from_toml(&text, points_path)?;
    let mut depths = Vec::new();
    let mut first: Option<Frame> = None;
    for path in frames {
        let image = image_file::open(path).map_err(|e| InputError(format!("reading the frame {e}")))?.into_rgb8();
        if first.as_ref().is_some_and(|f| f.image.dimensions() != image.dimensions()) {
            return Err(InputError(format!("{}: not the size of the first frame", path.display())).into());
        }
        let frame = Frame {
            seq: 0,
            captured: std::time::Instant::now(),
            wall: std::time::SystemTime::now(),
            delivery: crate::source::Delivery::Live,
            image,
            file: Some(path.clone()),
        };
        depths.push(setup.provider.perceive(&frame)?.depth);
        first.get_or_insert(frame);
    }
    let outcome = calibrate(&setup.camera.name, &points, &depths, setup.provider.kind())
        .map_err(|e| InputError(format!("{}: {e}", points_path.display())))?;
    let written = save(setup, out, &first.expect("clap asks for a frame").image, &points, &outcome)?;
    println!("{written}");
    print!("{}", Report::new(&outcome));
    Ok(())
}

/// The files a calibration is saved as.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub calibration: PathBuf,
    pub background: PathBuf,
    /// The background's spread, when the frames were enough to tell it.
    pub background_spread: Option<PathBuf>,
    pub preview: PathBuf,
    pub points: PathBuf,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spread = self.background_spread.as_ref().map(|s| format!(", its spread {}", s.display()));
        write!(
            f,
            "wrote {} (background {}{}, preview {}, points {})",
            self.calibration.display(),
            self.background.display(),
            spread.unwrap_or_default(),
            self.preview.display(),
            self.points.display()
        )
    }
}

/// Writes `out` and the files beside it (`<stem>.background.png`, `.background-spread.png`
/// when known, `.preview.png`, `.points.toml`). All of them are written to temporary files
/// first and renamed into place only when every one was written, the calibration file last: a
/// failure leaves the old files, and a daemon reloading meanwhile reads the old calibration or
/// the new one whole.
pub fn save(setup: &Setup, out: &Path, frame: &RgbImage, points: &PointsFile, outcome: &Outcome) -> Result<Written> {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("calibration");
    let beside = |suffix: &str| out.with_file_name(format!("{stem}.{suffix}"));
    let written = Written {
        calibration: out.to_path_buf(),
        background: beside("background.png"),
        background_spread: outcome.background.spread.is_some().then(|| beside("background-spread.png")),
        preview: beside("preview.png"),
        points: beside("points.toml"),
    };
    let mut file = outcome.file.clone();
    file.background = Some(written.background.file_name().expect("a file name").into());
    file.background_spread = written.background_spread.as_ref().map(|p| p.file_name().expect("a file name").into());
    file.fitted_for = setup.fitted_for.clone();
    let points_text = format!(
        "# The points `dinoedge calibrate` fitted {} from; re-run with --points.\n{}",
        out.display(),
        toml::to_string_pretty(points).context("the points as TOML")?
    );

    let staged =
        |path: &Path| path.with_extension(format!("{}.new", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let order: Vec<&PathBuf> = [Some(&written.background), written.background_spread.as_ref()]
        .into_iter()
        .flatten()
        .chain([&written.preview, &written.points, &written.calibration])
        .collect();
    let result = (|| -> Result<()> {
        let depths = [Some((&written.background, &outcome.background.depth))]
            .into_iter()
            .chain([written.background_spread.as_ref().zip(outcome.background.spread.as_ref())]);
        for (path, depth) in depths.flatten() {
            write_depth_mm(&staged(path), depth).with_context(|| format!("writing {}", path.display()))?;
        }
        preview::draw(frame, points, outcome)
            .save_with_format(staged(&written.preview), image::ImageFormat::Png)
            .with_context(|| format!("writing {}", written.preview.display()))?;
        for (path, text) in [(&written.points, &points_text), (&written.calibration, &file.to_toml())] {
            std::fs::write(staged(path), text).with_context(|| format!("writing {}", path.display()))?;
        }
        for path in &order {
            std::fs::rename(staged(path), path).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        for path in &order {
            let _ = std::fs::remove_file(staged(path));
        }
    }
    result.map(|()| written)
}
