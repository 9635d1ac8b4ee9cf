//! The `ffmpeg` source: RTSP/HTTP streams and video files decoded by an `ffmpeg` child process
//! (found on PATH) that writes raw RGB24 frames of a fixed size to a pipe, as NVRs such as
//! Frigate do. ffmpeg's own errors go to the log; a stall is broken by killing the child.

use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use image::RgbImage;

use super::{Captured, FrameSource};

pub struct Ffmpeg {
    child: Arc<Mutex<Child>>,
    stdout: ChildStdout,
    width: u32,
    height: u32,
    url: String,
}

impl Ffmpeg {
    pub fn spawn(url: &str, width: u32, height: u32, realtime: bool, input_args: &[String]) -> Result<Self> {
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
        Ok(Self { child: Arc::new(Mutex::new(child)), stdout, width, height, url: url.to_string() })
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
            let status = self.child.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.wait().ok();
            bail!("ffmpeg stopped delivering frames from {} ({e}; exit: {status:?})", self.url);
        }
        let image = RgbImage::from_raw(self.width, self.height, buf).expect("the buffer is one frame");
        Ok(Some(Captured { image, file: None }))
    }

    fn interrupter(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let child = self.child.clone();
        Some(Box::new(move || {
            if let Ok(mut child) = child.lock() {
                let _ = child.kill();
            }
        }))
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
