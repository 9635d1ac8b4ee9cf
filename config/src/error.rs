//! The configuration's one error: the file, the line and column where known, and what is
//! wrong and expected. Displayed as `FILE:LINE:COLUMN: message`, the form editors jump to.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column (in characters), where the mistake can be pointed at.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl ConfigError {
    pub fn new(file: &Path, at: Option<(usize, usize)>, message: String) -> Self {
        Self { file: file.to_path_buf(), at, message }
    }

    pub fn unlocated(file: &Path, message: String) -> Self {
        Self::new(file, None, message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
