//! `dinoedge sim …`: rendering simulated loading-dock scenes.

use anyhow::Context;
use dinoedge_calibration::{Camera, Intrinsics, Pose};
use dinoedge_sim::dock::{DockLayout, build};
use dinoedge_sim::{RenderOptions, colormap, output, record, render, truth};
use glam::DVec3;

use crate::cli::{SimCommand, ViewArgs};

pub fn run(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Frame {
            out,
            view,
            noise,
            seed,
        } => {
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
            let preview =
                colormap::depth_image(&frame.depth, frame.width(), frame.height(), 0.5, 20.0);
            let preview_path = out.join("depth_preview.png");
            preview
                .save(&preview_path)
                .with_context(|| format!("writing {}", preview_path.display()))?;
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
    }
}

fn camera(view: &ViewArgs) -> Camera {
    Camera {
        intrinsics: Intrinsics::from_hfov(view.width, view.height, view.hfov),
        pose: Pose::from_angles(
            DVec3::new(view.camera_x, view.camera_y, view.camera_height),
            view.yaw,
            view.pitch,
            view.roll,
        ),
    }
}
