//! The file format both heads use (`head::file`, `classes::file`): safetensors of F32 tensors
//! and one metadata entry, a JSON header under the head's key. Written whole or not at all;
//! read without trusting it: each tensor's dtype and shape checked against what the header
//! says, errors naming the file and the tensor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::Serialize;
use serde::de::DeserializeOwned;

use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::files::{f32_from_le, f32_to_le, write_atomically};

/// Writes `tensors` (name, shape, values in row-major order) with `header` as JSON under `key`.
pub fn save<'a, H: Serialize>(
    path: &Path,
    key: &str,
    header: &H,
    tensors: impl IntoIterator<Item = (&'a str, Vec<usize>, Vec<f32>)>,
) -> Result<()> {
    let tensors: Vec<(&str, Vec<usize>, Vec<u8>)> =
        tensors.into_iter().map(|(name, shape, values)| (name, shape, f32_to_le(&values))).collect();
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| (*name, TensorView::new(Dtype::F32, shape.clone(), bytes).expect("sizes agree")));
    let metadata = HashMap::from([(key.to_string(), serde_json::to_string(header).expect("serialisable"))]);
    let encoded = safetensors::serialize(views, Some(metadata)).expect("in-memory serialisation cannot fail");
    write_atomically(path, &encoded)
}

/// A head file read into memory; `what` names the kind of head in errors ("head", "class head").
pub struct HeadFileBytes {
    path: PathBuf,
    what: &'static str,
    bytes: Vec<u8>,
}

impl HeadFileBytes {
    pub fn read(path: &Path, what: &'static str) -> Result<Self> {
        Ok(Self { path: path.to_path_buf(), what, bytes: std::fs::read(path).map_err(ModelError::io(path))? })
    }

    /// An error about this file.
    pub fn fail(&self, reason: String) -> ModelError {
        ModelError::Data { path: self.path.clone(), reason }
    }

    /// The JSON header under `key`.
    pub fn header<H: DeserializeOwned>(&self, key: &str) -> Result<H> {
        let (_, metadata) =
            SafeTensors::read_metadata(&self.bytes).map_err(|e| self.fail(format!("not a {} file: {e}", self.what)))?;
        let header = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(key))
            .ok_or_else(|| self.fail(format!("not a dinoedge {} file (no `{key}` metadata)", self.what)))?;
        serde_json::from_str(header).map_err(|e| self.fail(format!("`{key}` metadata: {e}")))
    }

    pub fn tensors(&self) -> Result<Tensors<'_>> {
        let tensors =
            SafeTensors::deserialize(&self.bytes).map_err(|e| self.fail(format!("not a {} file: {e}", self.what)))?;
        Ok(Tensors { file: self, tensors })
    }
}

/// The tensors of a [`HeadFileBytes`].
pub struct Tensors<'a> {
    file: &'a HeadFileBytes,
    tensors: SafeTensors<'a>,
}

impl Tensors<'_> {
    /// The values of tensor `name`, which must be F32 of `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self.tensors.tensor(name).map_err(|_| self.file.fail(format!("tensor `{name}` is missing")))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(self.file.fail(format!(
                "tensor `{name}` is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(f32_from_le(t.data()))
    }

    /// The shape of tensor `name`, if the file has it.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.tensor(name).ok().map(|t| t.shape().to_vec())
    }
}
