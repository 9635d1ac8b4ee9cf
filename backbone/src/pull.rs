//! `dinoedge model pull`: downloading official weight files at a pinned revision, checked
//! against a pinned sha256, into the model cache. A partial download is resumed with an
//! HTTP range request; a file whose checksum is wrong is deleted, never kept.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ModelError, Result};
use crate::files::sha256_file;
use crate::size::InputSize;

/// A file on the Hugging Face hub, pinned to a revision and a checksum.
#[derive(Debug, Clone, Copy)]
pub struct Pinned {
    pub repo: &'static str,
    pub revision: &'static str,
    pub file: &'static str,
    pub sha256: &'static str,
}

/// `facebook/dinov2-small` (ViT-S/14), 88.2 MB.
pub const DINOV2_SMALL: Pinned = Pinned {
    repo: "facebook/dinov2-small",
    revision: "ed25f3a31f01632728cabb09d1542f84ab7b0056",
    file: "model.safetensors",
    sha256: "ae1e99fcefd534ed978cdeb8326f08030c96e28b7a81ffcbc98a857c84d14be1",
};

pub const HUGGING_FACE: &str = "https://huggingface.co";

impl Pinned {
    /// The download URL on `endpoint` (the hub, or a mirror with the same paths).
    pub fn url(&self, endpoint: &str) -> String {
        format!("{}/{}/resolve/{}/{}", endpoint.trim_end_matches('/'), self.repo, self.revision, self.file)
    }

    /// The file's name in the cache: `facebook--dinov2-small--<revision>.safetensors`.
    pub fn cache_name(&self) -> String {
        let stem = self.file.strip_suffix(".safetensors").unwrap_or(self.file);
        let suffix = if stem == "model" { String::new() } else { format!("--{stem}") };
        format!("{}--{}{suffix}.safetensors", self.repo.replace('/', "--"), self.revision)
    }
}

/// The model cache: `$DINOEDGE_CACHE_DIR`; else, under systemd's `StateDirectory=`,
/// `$STATE_DIRECTORY/models` (`/var/lib/dinoedge/models`); else `$XDG_CACHE_HOME/dinoedge`
/// or `~/.cache/dinoedge`.
pub fn cache_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("DINOEDGE_CACHE_DIR") {
        return dir;
    }
    if let Some(state) = var("STATE_DIRECTORY") {
        // systemd may list several directories separated by ':'; the first is ours.
        let first = state.to_string_lossy().split(':').next().unwrap_or_default().to_string();
        return PathBuf::from(first).join("models");
    }
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("dinoedge")
}

/// Where the imported backbone for an input size lives in the cache.
pub fn cached_backbone(cache: &Path, input: InputSize) -> PathBuf {
    cache.join(format!("dinov2-small_{input}.onnx"))
}

/// How a fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The file was already there, with the right checksum.
    AlreadyPresent,
    /// Downloaded, `resumed_from` bytes of it from an earlier partial download.
    Downloaded { bytes: u64, resumed_from: u64 },
}

/// Downloads `url` to `dest`, checks its sha256 and only then moves it into place.
/// `progress(done, total)` is called as bytes arrive (`total` when the server says it).
pub fn fetch(url: &str, sha256: &str, dest: &Path, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<Fetched> {
    if dest.is_file() {
        if sha256_file(dest)? == sha256 {
            return Ok(Fetched::AlreadyPresent);
        }
        std::fs::remove_file(dest).map_err(ModelError::io(dest))?;
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(ModelError::io(dir))?;
    }
    let part = dest.with_extension("safetensors.part");
    let resumed_from = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let bytes = download(url, &part, resumed_from, progress)?;
    let found = sha256_file(&part)?;
    if found != sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(ModelError::Checksum { path: dest.to_path_buf(), expected: sha256.to_string(), found });
    }
    std::fs::rename(&part, dest).map_err(ModelError::io(dest))?;
    Ok(Fetched::Downloaded { bytes, resumed_from: bytes.min(resumed_from) })
}

/// Appends the rest of `url` to `part` (from `offset`, or from 0 if the server ignores the
/// range); returns the final size of `part`.
fn download(url: &str, part: &Path, offset: u64, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<u64> {
    let fail = |reason: String| ModelError::Download { url: url.to_string(), reason };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(Duration::from_secs(10)))
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    if offset > 0 {
        request = request.header("Range", format!("bytes={offset}-"));
    }
    let response = request.call().map_err(|e| fail(e.to_string()))?;
    let status = response.status().as_u16();
    let length = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let (append, start) = match status {
        206 => (true, offset),
        200 => (false, 0),
        // The range starts at the end: the earlier download was complete.
        416 if offset > 0 => return Ok(offset),
        _ => return Err(fail(format!("the server answered HTTP {status}"))),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .map_err(ModelError::io(part))?;
    let total = length.map(|l| l + start);
    let mut reader = response.into_body().into_reader();
    let mut done = start;
    let mut buf = vec![0u8; 1 << 16];
    progress(done, total);
    loop {
        let read = reader.read(&mut buf).map_err(|e| fail(format!("{e} after {done} bytes; run again to resume")))?;
        if read == 0 {
            break;
        }
        file.write_all(&buf[..read]).map_err(ModelError::io(part))?;
        done += read as u64;
        progress(done, total);
    }
    file.sync_all().map_err(ModelError::io(part))?;
    if let Some(total) = total.filter(|t| *t != done) {
        return Err(fail(format!("the connection closed after {done} of {total} bytes; run again to resume")));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_hub_resolve_form() {
        assert_eq!(
            DINOV2_SMALL.url(HUGGING_FACE),
            "https://huggingface.co/facebook/dinov2-small/resolve/ed25f3a31f01632728cabb09d1542f84ab7b0056/model.safetensors"
        );
        assert_eq!(
            DINOV2_SMALL.url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/facebook/dinov2-small/resolve/ed25f3a31f01632728cabb09d1542f84ab7b0056/model.safetensors"
        );
        assert_eq!(
            DINOV2_SMALL.cache_name(),
            "facebook--dinov2-small--ed25f3a31f01632728cabb09d1542f84ab7b0056.safetensors"
        );
    }
}
