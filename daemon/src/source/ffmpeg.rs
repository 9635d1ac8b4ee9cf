//! The `ffmpeg` source: RTSP/HTTP streams and video files decoded by an `ffmpeg` child process
//! (found on PATH) that writes raw RGB24 frames of a fixed size to a pipe, as NVRs such as
//! Frigate do. ffmpeg's own errors go to the log; a stall is broken by killing the child.
//! Streams (`rtsp://`, `http://`, …) and `realtime` files (`-re`) are live; a file read
//! without `realtime` is a replay, read as fast as inference takes it, with its frame rate
//! (from `ffprobe`) as its clock.

use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use image::RgbImage;

use super::{Captured, Delivery, FrameSource};
use crate::lock::lock;

pub struct Ffmpeg {
    child: Arc<Mutex<Child>>,
    /// The interrupter killed ffmpeg (a stall): the read that fails then says so.
    stalled: Arc<AtomicBool>,
    stdout: ChildStdout,
    width: u32,
    height: u32,
    url: String,
    delivery: Delivery,
}

impl Ffmpeg {
    pub fn spawn(url: &str, width: u32, height: u32, realtime: bool, input_args: &[String]) -> Result<Self> {
        let replay = !realtime && url.split_once("://").is_none_or(|(scheme, _)| scheme == "file");
        let delivery =
            if replay { Delivery::Replay { period: frame_period(url, input_args)? } } else { Delivery::Live };
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
        if realtime {
            cmd.arg("-re");
        }
        cmd.args(input_args)
            .args([
                "-i",
                url,
                "-an",
                "-vf",
                &format!("scale={width}:{height}"),
                "-pix_fmt",
                "rgb24",
                "-f",
                "rawvideo",
                "pipe:1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting ffmpeg (is it installed and on PATH?)")?;
        let stdout = child.stdout.take().expect("piped");
        if let Some(stderr) = child.stderr.take() {
            let url = url.to_string();
            std::thread::spawn(move || forward_log(&url, stderr));
        }
        Ok(Self {
            child: Arc::new(Mutex::new(child)),
            stalled: Arc::default(),
            stdout,
            width,
            height,
            url: url.to_string(),
            delivery,
        })
    }
}

/// The time between two frames of the first video stream of `url`, as `ffprobe` reads it.
fn frame_period(url: &str, input_args: &[String]) -> Result<Duration> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=avg_frame_rate,r_frame_rate"])
        .args(["-of", "default=noprint_wrappers=1"])
        .args(input_args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .context("starting ffprobe, to read the frame rate of a replay (is ffmpeg installed?)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = |key: &str| {
        let value = text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('='))?;
        let (num, den) = value.trim().split_once('/')?;
        let fps = num.parse::<f64>().ok()? / den.parse::<f64>().ok()?;
        (fps.is_finite() && fps > 0.0).then_some(fps)
    };
    match rate("avg_frame_rate").or_else(|| rate("r_frame_rate")) {
        Some(fps) => Ok(Duration::from_secs_f64(1.0 / fps)),
        None => bail!(
            "ffprobe found no frame rate in {url} ({}); a stream without one can only be played live \
             (realtime = true)",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// ffmpeg's error lines, into our log.
fn forward_log(url: &str, stderr: std::process::ChildStderr) {
    use std::io::BufRead;
    for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
        log::warn!("ffmpeg ({url}): {line}");
    }
}

impl FrameSource for Ffmpeg {
    fn next(&mut self) -> Result<Option<Captured>> {
        let mut buf = vec![0u8; self.width as usize * self.height as usize * 3];
        if let Err(e) = self.stdout.read_exact(&mut buf) {
            if self.stalled.load(Ordering::SeqCst) {
                bail!("ffmpeg delivered no frame from {} within the stall timeout: stopped, to start again", self.url);
            }
            let status = lock(&self.child).wait().ok();
            bail!("ffmpeg stopped delivering frames from {} ({e}; exit: {status:?})", self.url);
        }
        let image = RgbImage::from_raw(self.width, self.height, buf).expect("the buffer is one frame");
        Ok(Some(Captured { image, file: None }))
    }

    fn interrupter(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let (child, stalled) = (self.child.clone(), self.stalled.clone());
        Some(Box::new(move || {
            stalled.store(true, Ordering::SeqCst);
            let _ = lock(&child).kill();
        }))
    }

    fn delivery(&self) -> Delivery {
        self.delivery
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
    }
}
