//! `dinoedge calibrate` (scripted): a points file and frames of the empty scene in, the
//! camera's calibration file, its background depth and a preview image out — or, on any
//! mistake, one error and nothing written. The fits live in `dinoedge_calibration::workflow`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dinoedge_calibration::file::{FittedFor, write_depth_mm};
use dinoedge_calibration::workflow::{PointsFile, calibrate};
use dinoedge_config::ConfigError;
use glam::DVec2;

use crate::exit::InputError;
use crate::source::Frame;

pub struct Args<'a> {
    pub config: &'a Path,
    pub camera: &'a str,
    pub frames: &'a [PathBuf],
    pub points: &'a Path,
    pub out: &'a Path,
}

pub fn run(a: &Args) -> Result<()> {
    let config = dinoedge_config::load(a.config)?;
    let camera = config
        .cameras
        .iter()
        .find(|c| c.name.as_str() == a.camera)
        .ok_or_else(|| ConfigError::unlocated(a.config, format!("no camera named `{}` to calibrate", a.camera)))?;
    let text = std::fs::read_to_string(a.points).with_context(|| format!("reading {}", a.points.display()))?;
    let points: PointsFile = dinoedge_config::from_toml(&text, a.points)?;
    let provider = super::run::load_provider(&config)?;
    let mut depths = Vec::new();
    let mut first = None;
    for path in a.frames {
        let image = image::open(path).with_context(|| format!("reading the frame {}", path.display()))?.into_rgb8();
        let frame = Frame {
            seq: 0,
            captured: std::time::Instant::now(),
            wall: std::time::SystemTime::now(),
            image,
            file: Some(path.clone()),
        };
        if first.as_ref().is_some_and(|f: &Frame| f.image.dimensions() != frame.image.dimensions()) {
            return Err(InputError(format!("{}: not the size of the first frame", path.display())).into());
        }
        depths.push(provider.depth(&frame)?);
        first.get_or_insert(frame);
    }
    let outcome =
        calibrate(&camera.name, &points, &depths).map_err(|e| InputError(format!("{}: {e}", a.points.display())))?;

    let stem = a.out.file_stem().and_then(|s| s.to_str()).unwrap_or("calibration");
    let background = a.out.with_file_name(format!("{stem}.background.png"));
    let mut file = outcome.file.clone();
    file.background = Some(background.file_name().expect("a file name").into());
    // The alignment holds for this model only: the daemon refuses the file with another.
    if let dinoedge_config::Model::Dinov2 { backbone, head } = &config.model {
        file.fitted_for = Some(FittedFor {
            backbone_sha256: dinoedge_heads::files::sha256_file(backbone)?,
            head_sha256: dinoedge_heads::files::sha256_file(head)?,
        });
    }
    write_depth_mm(&background, &outcome.background).with_context(|| format!("writing {}", background.display()))?;
    let tmp = a.out.with_extension("toml.partial");
    std::fs::write(&tmp, file.to_toml()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, a.out).with_context(|| format!("writing {}", a.out.display()))?;
    let preview = a.out.with_file_name(format!("{stem}.preview.png"));
    preview_image(first.as_ref().expect("at least one frame"), &outcome, &points).save(&preview)?;

    let (yaw, pitch, roll) = outcome.pose.pose.angles();
    println!("wrote {} (background {}, preview {})", a.out.display(), background.display(), preview.display());
    println!(
        "camera    height {:.3} m, pitch {pitch:.2}°, roll {roll:.2}°, heading {yaw:.2}°; reprojection {:.2} px rms, {:.2} px max",
        outcome.pose.pose.position.z, outcome.pose.rms_px, outcome.pose.max_px
    );
    let al = outcome.alignment;
    println!(
        "depth     metric = {:.4} · predicted {:+.4} m; held-out residual {:.3} m rms, {:.3} m max ({} fitted, {} held out)",
        al.alignment.a, al.alignment.b, al.holdout_rmse_m, al.holdout_max_m, al.fitted, al.held_out
    );
    for (i, (measured, read)) in outcome.readings.iter().enumerate() {
        println!("reference {}: measured {measured:.2} m, reads {read:.2} m", i + 1);
    }
    for plane in &outcome.file.planes {
        let p = dinoedge_calibration::Plane {
            point: glam::DVec3::from_array(plane.point),
            normal: glam::DVec3::from_array(plane.normal),
        };
        println!("plane     {}: {:.2} m from the camera", plane.name, p.distance(outcome.pose.pose.position));
    }
    Ok(())
}

/// The frame beside the aligned depth, with the floor points marked.
fn preview_image(
    frame: &Frame,
    outcome: &dinoedge_calibration::workflow::Outcome,
    points: &PointsFile,
) -> image::RgbImage {
    let (w, h) = frame.image.dimensions();
    let mut both = crate::pipeline::snapshot::beside_depth(&frame.image, &outcome.background);
    for p in &points.floor_points {
        let c = DVec2::from_array(p.pixel);
        for d in -4i64..=4 {
            for (x, y) in [(c.x as i64 + d, c.y as i64), (c.x as i64, c.y as i64 + d)] {
                if (0..w as i64).contains(&x) && (0..h as i64).contains(&y) {
                    both.put_pixel(x as u32, y as u32, image::Rgb([255, 0, 255]));
                }
            }
        }
    }
    both
}
