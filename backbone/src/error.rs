//! The one error type of the model code. Every variant names the file it is about and,
//! where there is one, the tensor, field or size that is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{}: not a readable weight file: {reason}", path.display())]
    NotWeights { path: PathBuf, reason: String },

    #[error("{}: tensor `{tensor}` is missing; the file is not a model of the expected architecture", path.display())]
    MissingTensor { path: PathBuf, tensor: String },

    #[error("{}: tensor `{tensor}` has shape {found:?}, expected {expected}", path.display())]
    TensorShape { path: PathBuf, tensor: String, found: Vec<usize>, expected: String },

    #[error("{}: tensor `{tensor}` has dtype {found}, expected F32, F16 or BF16", path.display())]
    TensorDtype { path: PathBuf, tensor: String, found: String },

    #[error("{}: {field}: {reason}", path.display())]
    Config { path: PathBuf, field: String, reason: String },

    #[error("input size {size}: {reason}")]
    InputSize { size: String, reason: String },

    #[error("{}: not a usable dinoedge backbone ONNX file: {reason}", path.display())]
    Onnx { path: PathBuf, reason: String },

    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    #[error("{}: sha256 is {found}, expected {expected}; the file was removed", path.display())]
    Checksum { path: PathBuf, expected: String, found: String },

    #[error("{}: {reason}", path.display())]
    Data { path: PathBuf, reason: String },

    #[error("inference failed: {0}")]
    Inference(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
        let path = path.into();
        move |source| ModelError::Io { path, source }
    }
}
