//! `dinoedge sim …`: rendering simulated loading-dock scenes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use dinoedge_calibration::{Camera, Intrinsics, Pose};
use dinoedge_sim::clip::{self, Scenario};
use dinoedge_sim::dataset;
use dinoedge_sim::dock::{DockLayout, build};
use dinoedge_sim::{RenderOptions, colormap, output, record, render, truth};
use glam::DVec3;
use indicatif::ProgressBar;

use super::progress;
use crate::cli::{SimCommand, ViewArgs};

pub fn run(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Frame { out, view, noise, seed } => {
            let camera = camera(&view);
            let layout = DockLayout::example();
            let scene = build(&layout);
            let started = std::time::Instant::now();
            let frame = render(&scene, &camera, &RenderOptions { noise, seed });
            let took = started.elapsed();
            let truth = truth::truth(&layout, &scene);
            let meta = record::frame_record(&camera, &layout, &scene, &truth);
            output::write_frame(&out, "000000", &frame, &meta)
                .with_context(|| format!("writing into {}", out.display()))?;
            let preview = colormap::depth_image(&frame.depth, frame.width(), frame.height(), 0.5, 20.0);
            let preview_path = out.join("depth_preview.png");
            preview.save(&preview_path).with_context(|| format!("writing {}", preview_path.display()))?;
            println!(
                "rendered {}x{} in {:.0} ms into {}; forklift to dock face {:.3} m",
                frame.width(),
                frame.height(),
                took.as_secs_f64() * 1e3,
                out.display(),
                truth.forklift_to_dock_face_m.unwrap_or(f64::NAN)
            );
            Ok(())
        }
        SimCommand::Dataset { n, seed, out, size, threads } => {
            dataset(n, seed, &out, (size.width, size.height), threads)
        }
        SimCommand::Clip { scenario, fps, out, size, mp4 } => clip(scenario, fps, &out, (size.width, size.height), mp4),
    }
}

fn dataset(n: usize, seed: u64, out: &Path, size: (u32, u32), threads: usize) -> anyhow::Result<()> {
    let bar = progress::bar(n, "rendering", "{pos}/{len} frames, eta {eta}");
    let started = std::time::Instant::now();
    dataset::write_dataset(out, n, seed, size, threads, &|| bar.inc(1))
        .with_context(|| format!("writing the dataset into {}", out.display()))?;
    bar.finish_and_clear();
    println!("wrote {n} frames (seed {seed}) into {} in {:.1} s", out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

fn clip(scenario: Scenario, fps: f64, out: &Path, size: (u32, u32), mp4: bool) -> anyhow::Result<()> {
    if !(fps > 0.0 && fps <= 120.0) {
        bail!("--fps {fps}: expected a frame rate between 0 and 120");
    }
    if mp4 && which("ffmpeg").is_none() {
        bail!("--mp4 needs ffmpeg on PATH (Debian: apt-get install ffmpeg)");
    }
    let bar = ProgressBar::hidden().with_style(progress::style("rendering", "{pos}/{len} frames, eta {eta}"));
    let truth = clip::write_clip(out, scenario, fps, size, &|done, total| {
        if bar.is_hidden() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
    })
    .with_context(|| format!("writing the clip into {}", out.display()))?;
    bar.finish_and_clear();
    if mp4 {
        let video = out.join("clip.mp4");
        let status = Command::new("ffmpeg")
            .args(["-y", "-loglevel", "error", "-framerate", &fps.to_string(), "-i"])
            .arg(out.join("rgb").join("%06d.png"))
            .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18"])
            .arg(&video)
            .status()
            .context("running ffmpeg")?;
        if !status.success() {
            bail!("ffmpeg failed ({status}) encoding {}", video.display());
        }
    }
    let crossing = match truth.first_frame_below_alarm_distance {
        Some(i) => format!("forklift within {} m of the dock face from frame {i}", truth.alarm_distance_m),
        None => format!("forklift never within {} m of the dock face", truth.alarm_distance_m),
    };
    println!("wrote {} frames of {} into {}; {crossing}", truth.frames.len(), scenario.name(), out.display());
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(program)).find(|p| p.is_file())
}

fn camera(view: &ViewArgs) -> Camera {
    Camera {
        intrinsics: Intrinsics::from_hfov(view.size.width, view.size.height, view.hfov),
        pose: Pose::from_angles(
            DVec3::new(view.camera_x, view.camera_y, view.camera_height),
            view.yaw,
            view.pitch,
            view.roll,
        ),
    }
}
