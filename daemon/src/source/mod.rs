//! Where frames come from: one [`FrameSource`] per camera kind (`images`, `ffmpeg`, and
//! `v4l2`), opened by [`open`] and kept alive by the camera's capture thread
//! (`pipeline::capture`), which restarts a failed or stalled source with backoff and reports
//! the camera up or down. Sources know nothing of the pipeline. Each source says
//! its [`Delivery`]: live (newest frame wins) or a replay (every frame, on the recording's
//! own clock).

pub mod ffmpeg;
pub mod images;
#[cfg(feature = "v4l2")]
pub mod v4l2;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use dinoedge_config::Source;
use image::RgbImage;

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Counts the camera's frames from 0 (across source restarts).
    pub seq: u64,
    /// When the frame was taken: the clock at capture for a live source; for a replay, the
    /// frame's place in the recording (the first frame at the replay's start, then one
    /// period apart), so the rules' timing does not depend on how fast inference runs.
    pub captured: Instant,
    /// The same moment on the wall clock (the time in events and states).
    pub wall: SystemTime,
    /// How the source delivers: live (`captured` is the clock at capture, and the time since
    /// is the frame's latency) or replayed (`captured` is its place in the recording).
    pub delivery: Delivery,
    pub image: RgbImage,
    /// The file the frame was read from (`images` sources).
    pub file: Option<PathBuf>,
}

/// What a source hands over: an image, and the file it came from if any.
pub struct Captured {
    pub image: RgbImage,
    pub file: Option<PathBuf>,
}

/// How a source's frames reach inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    /// A camera, a stream or a file played in real time: frames come at their own pace, and
    /// those that inference cannot keep up with are dropped (the newest frame wins).
    Live,
    /// A recording read as fast as inference takes it: every frame is processed, in order,
    /// and frame `n` is stamped `n × period` after the first.
    Replay { period: Duration },
}

impl Delivery {
    /// When frame `n` of a source opened at `opened` (monotonic, wall) was taken: now for a
    /// live source; for a replay, its place in the recording.
    pub fn stamp(self, n: u32, opened: (Instant, SystemTime)) -> (Instant, SystemTime) {
        match self {
            Delivery::Live => (Instant::now(), SystemTime::now()),
            Delivery::Replay { period } => {
                let offset = period.mul_f64(f64::from(n));
                (opened.0 + offset, opened.1 + offset)
            }
        }
    }
}

/// A running source. `next` blocks until a frame is there; `Ok(None)` means the source has
/// ended for good (a finite, non-looping image sequence). A source lives and dies on its
/// camera's capture thread (nokhwa's cameras cannot move between threads).
pub trait FrameSource {
    fn next(&mut self) -> Result<Option<Captured>>;

    fn delivery(&self) -> Delivery;

    /// Something another thread can call to make a stalled `next` return (with an error).
    fn interrupter(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        None
    }
}

/// Opens the source a camera's config describes.
pub fn open(source: &Source) -> Result<Box<dyn FrameSource>> {
    match source {
        Source::Images { path, fps, looping, realtime } => {
            Ok(Box::new(images::Images::open(path, *fps, *looping, *realtime)?))
        }
        Source::Ffmpeg { url, width, height, realtime, input_args } => {
            Ok(Box::new(ffmpeg::Ffmpeg::spawn(url, *width, *height, *realtime, input_args)?))
        }
        #[cfg(feature = "v4l2")]
        Source::V4l2 { device, width, height, fps, format } => {
            Ok(Box::new(v4l2::V4l2::open(device, *width, *height, *fps, *format)?))
        }
        #[cfg(not(feature = "v4l2"))]
        Source::V4l2 { .. } => anyhow::bail!("this build of dinoedge has no V4L2 support (cargo feature `v4l2`)"),
    }
}
