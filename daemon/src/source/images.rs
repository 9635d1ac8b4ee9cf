//! The `images` source: PNG/JPEG files from a folder (sorted by name) or a glob, optionally
//! looping. Played in real time (live: at a fixed frame rate on a deadline schedule, where a
//! slow decode does not shift later frames), or replayed: every frame, as fast as inference
//! takes them, stamped `1/fps` apart. The tests and the demo run on it.
//!
//! A file that cannot be decoded (truncated, not an image, larger than a frame) is skipped
//! with a warning, its time slot passing as a dropped frame's would: restarting the source
//! would only meet the same file again. Only when no file of a whole pass can be read does
//! the source fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dinoedge_calibration::image_file;

use super::{Captured, Delivery, FrameSource};

pub struct Images {
    files: Vec<PathBuf>,
    next: usize,
    period: Duration,
    looping: bool,
    realtime: bool,
    due: Option<Instant>,
}

impl Images {
    pub fn open(path: &str, fps: f64, looping: bool, realtime: bool) -> Result<Self> {
        let files = list(path)?;
        if files.is_empty() {
            bail!("{path}: no PNG or JPEG frames");
        }
        Ok(Self { files, next: 0, period: Duration::from_secs_f64(1.0 / fps), looping, realtime, due: None })
    }
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn list(path: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = if Path::new(path).is_dir() {
        std::fs::read_dir(path)
            .with_context(|| format!("listing {path}"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("listing {path}"))?
    } else {
        glob::glob(path).with_context(|| format!("{path}: not a glob pattern"))?.filter_map(|p| p.ok()).collect()
    };
    files.retain(|p| is_image(p));
    files.sort();
    Ok(files)
}

impl FrameSource for Images {
    fn next(&mut self) -> Result<Option<Captured>> {
        let mut unreadable = 0;
        loop {
            if self.next == self.files.len() {
                if !self.looping {
                    return Ok(None);
                }
                self.next = 0;
            }
            if self.realtime {
                let due = self.due.map_or_else(Instant::now, |d| d + self.period);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                self.due = Some(due.max(Instant::now() - self.period));
            }
            let file = self.files[self.next].clone();
            self.next += 1;
            match image_file::open(&file) {
                Ok(image) => return Ok(Some(Captured { image: image.into_rgb8(), file: Some(file) })),
                Err(e) => {
                    unreadable += 1;
                    if unreadable == self.files.len() {
                        bail!("none of the {unreadable} frames can be read; the last: {e}");
                    }
                    log::warn!("skipping frame {e}");
                }
            }
        }
    }

    fn delivery(&self) -> Delivery {
        if self.realtime { Delivery::Live } else { Delivery::Replay { period: self.period } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames 0-3 in a folder: 1 truncated, 2 wider than any frame.
    fn folder_with_bad_frames() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4 {
            image::RgbImage::from_pixel(8, 6, image::Rgb([i * 60, 0, 0]))
                .save(dir.path().join(format!("{i}.png")))
                .unwrap();
        }
        let one = dir.path().join("1.png");
        let bytes = std::fs::read(&one).unwrap();
        std::fs::write(&one, &bytes[..bytes.len() / 2]).unwrap();
        image::GrayImage::new(dinoedge_config::MAX_FRAME_SIDE + 1, 1).save(dir.path().join("2.png")).unwrap();
        dir
    }

    fn names(source: &mut Images, count: usize) -> Vec<Option<String>> {
        (0..count)
            .map(|_| {
                source.next().unwrap().map(|c| c.file.unwrap().file_name().unwrap().to_string_lossy().into_owned())
            })
            .collect()
    }

    #[test]
    fn unreadable_frames_are_skipped_and_a_replay_still_ends() {
        let dir = folder_with_bad_frames();
        let mut once = Images::open(dir.path().to_str().unwrap(), 10.0, false, false).unwrap();
        let got = names(&mut once, 3);
        assert_eq!(got, [Some("0.png".into()), Some("3.png".into()), None]);
        let mut looping = Images::open(dir.path().to_str().unwrap(), 10.0, true, false).unwrap();
        assert_eq!(names(&mut looping, 4), ["0.png", "3.png", "0.png", "3.png"].map(|n| Some(n.to_string())));
    }

    #[test]
    fn a_folder_of_nothing_readable_fails_the_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.png"), "not a picture").unwrap();
        std::fs::write(dir.path().join("b.jpg"), "nor this").unwrap();
        let mut source = Images::open(dir.path().to_str().unwrap(), 10.0, true, false).unwrap();
        let err = source.next().err().unwrap().to_string();
        assert!(err.contains("none of the 2 frames can be read") && err.contains("b.jpg"), "{err}");
    }
}
