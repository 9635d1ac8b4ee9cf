//! `dinoedge model pull`: downloading official weight files into the model cache, checked
//! against a pinned sha256 or, where none could be learned in advance, against the sha256 of
//! the first good download, recorded beside the file (`<file>.sha256`, sha256sum's format).
//! A partial download is resumed with an HTTP range request; a file whose checksum is wrong
//! is deleted, never kept.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ModelError, Result};
use crate::files::{sha256_file, write_atomically};
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

/// What a downloaded file is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// A sha256 pinned in the code (or given for a mirror's own file).
    Pinned(&'a str),
    /// None known in advance: the first good download's sha256 is recorded beside the file,
    /// and every later download and use of it is checked against that record.
    FirstUse,
}

/// How a fetch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The file was already there, with the right checksum.
    AlreadyPresent,
    /// Downloaded, `resumed_from` bytes of it from an earlier partial download.
    Downloaded { bytes: u64, resumed_from: u64 },
    /// Downloaded for the first time with no pinned sha256: this one is now recorded.
    Recorded { bytes: u64, sha256: String },
}

/// Where the sha256 of a file's first download is recorded.
pub fn record_path(dest: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sha256", dest.display()))
}

/// Downloads `url` to `dest`, checks its sha256 as `expect` says and only then moves it into
/// place. `progress(done, total)` is called as bytes arrive (`total` when the server says it).
pub fn fetch(url: &str, expect: Expect, dest: &Path, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<Fetched> {
    let record = record_path(dest);
    let expected = match expect {
        Expect::Pinned(sha) => Some(sha.to_lowercase()),
        Expect::FirstUse => read_record(&record)?,
    };
    if dest.is_file() {
        if expected.as_deref() == Some(sha256_file(dest)?.as_str()) {
            return Ok(Fetched::AlreadyPresent);
        }
        // A wrong checksum, or a file nothing vouches for: fetched again, never trusted.
        std::fs::remove_file(dest).map_err(ModelError::io(dest))?;
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(ModelError::io(dir))?;
    }
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let resumed_from = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let bytes = download(url, &part, resumed_from, progress)?;
    let found = sha256_file(&part)?;
    let fetched = match expected {
        Some(sha) if sha != found => {
            let _ = std::fs::remove_file(&part);
            return Err(ModelError::Checksum { path: dest.to_path_buf(), expected: sha, found });
        }
        Some(_) => Fetched::Downloaded { bytes, resumed_from: bytes.min(resumed_from) },
        None => {
            let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            write_atomically(&record, format!("{found}  {name}\n").as_bytes())?;
            Fetched::Recorded { bytes, sha256: found }
        }
    };
    std::fs::rename(&part, dest).map_err(ModelError::io(dest))?;
    Ok(fetched)
}

/// The sha256 recorded at a file's first download, if there is a record.
fn read_record(record: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(record) {
        Ok(text) => {
            let sha = text.split_whitespace().next().unwrap_or_default().to_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ModelError::Data {
                    path: record.to_path_buf(),
                    reason: "not a sha256 record (64 hex digits, then the file name); delete it to record anew".into(),
                });
            }
            Ok(Some(sha))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::Io { path: record.to_path_buf(), source: e }),
    }
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
