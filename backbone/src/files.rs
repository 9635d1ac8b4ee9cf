//! File helpers shared by the model code: writes that never leave a half-written file
//! behind, sha256 digests of files, and f32 arrays as little-endian bytes (the layout of
//! safetensors, ONNX raw data and the feature cache).

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed into place
/// only once complete: a reader sees the old file or the new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp =
        tempfile::Builder::new().prefix(".dinoedge-").suffix(".part").tempfile_in(dir).map_err(ModelError::io(dir))?;
    tmp.write_all(bytes).map_err(ModelError::io(path))?;
    // tempfile makes private files; models are ordinary readable files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(ModelError::io(path))?;
    }
    tmp.as_file().sync_all().map_err(ModelError::io(path))?;
    tmp.persist(path).map_err(|e| ModelError::Io { path: path.to_path_buf(), source: e.error })?;
    Ok(())
}

/// The lowercase hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(ModelError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buf).map_err(ModelError::io(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The lowercase hex sha256 of bytes already in memory.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// f32 values as little-endian bytes.
pub fn f32_to_le<'a>(values: impl IntoIterator<Item = &'a f32>) -> Vec<u8> {
    values.into_iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Little-endian bytes as f32 values (a trailing partial value is ignored).
pub fn f32_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}
