//! The `images` source: PNG/JPEG files from a folder (sorted by name) or a glob, optionally
//! looping. Played in real time (live: at a fixed frame rate on a deadline schedule, where a
//! slow decode does not shift later frames), or replayed: every frame, as fast as inference
//! takes them, stamped `1/fps` apart. The tests and the demo run on it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

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
        let image = image::open(&file).with_context(|| format!("reading frame {}", file.display()))?.into_rgb8();
        Ok(Some(Captured { image, file: Some(file) }))
    }

    fn delivery(&self) -> Delivery {
        if self.realtime { Delivery::Live } else { Delivery::Replay { period: self.period } }
    }
}
