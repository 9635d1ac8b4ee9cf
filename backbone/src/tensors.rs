//! Weight files as named tensors: a Hugging Face safetensors file or a PyTorch checkpoint
//! (`.pth`, `torch.save`'s zip of a pickle and its storages), told apart by their bytes, not
//! their names. Nothing in a file is executed or trusted: the pickle is parsed by
//! `pytorch-reader`, which accepts only the opcodes and classes a state dict is made of
//! (dicts, tensors, parameters) and refuses any other class; every shape is checked against
//! what the caller expects before a value is read, and values come out as f32.
//!
//! Checkpoints nest their tensors under keys (`state_dict.decode_head.conv_depth.weight`,
//! `backbone.encoder.layer.0…`); a [`Scope`] is the part of a file below the prefix where an
//! anchor tensor is found, and reads tensors by their names inside it.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use safetensors::SafeTensors;

use crate::error::{ModelError, Result};
use crate::files::{f32_from_le, sha256_bytes, sha256_file};

/// A tensor's element type, as far as reading weights cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F16,
    BF16,
    /// Any other type (integers, f64, bool), named for the error message.
    Other(&'static str),
}

enum Bytes {
    /// A range of the safetensors file held in [`TensorFile`].
    Range(Range<usize>),
    /// Read from the checkpoint when asked for.
    Pytorch(pytorch_reader::Tensor),
}

struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Bytes,
}

/// An opened weight file: its tensors' names, types and shapes, values read on demand.
pub struct TensorFile {
    path: PathBuf,
    sha256: String,
    /// The whole file for safetensors (the tensors are ranges of it); empty for a checkpoint.
    data: Vec<u8>,
    entries: HashMap<String, Entry>,
}

impl TensorFile {
    /// Opens `path`, a safetensors file or a PyTorch checkpoint (a zip archive).
    pub fn open(path: &Path) -> Result<Self> {
        let mut magic = [0u8; 4];
        {
            use std::io::Read;
            let mut file = std::fs::File::open(path).map_err(ModelError::io(path))?;
            let read = file.read(&mut magic).map_err(ModelError::io(path))?;
            if read < magic.len() {
                return Err(not_weights(path, "the file is too short to be a weight file"));
            }
        }
        if magic == *b"PK\x03\x04" { Self::open_pytorch(path) } else { Self::open_safetensors(path) }
    }

    fn open_safetensors(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(ModelError::io(path))?;
        let (header, metadata) = SafeTensors::read_metadata(&data).map_err(|e| {
            not_weights(path, &format!("neither a PyTorch checkpoint (zip) nor a safetensors file ({e})"))
        })?;
        // deserialize validates offsets against the buffer, which read_metadata alone does not.
        SafeTensors::deserialize(&data).map_err(|e| not_weights(path, &format!("safetensors: {e}")))?;
        let start = 8 + header;
        let entries = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| {
                let (from, to) = info.data_offsets;
                let entry = Entry {
                    dtype: safetensors_dtype(info.dtype),
                    shape: info.shape.clone(),
                    bytes: Bytes::Range(start + from..start + to),
                };
                (name, entry)
            })
            .collect();
        Ok(Self { path: path.to_path_buf(), sha256: sha256_bytes(&data), data, entries })
    }

    fn open_pytorch(path: &Path) -> Result<Self> {
        use pytorch_reader::PytorchReader;
        let checkpoint = |e: pytorch_reader::PytorchError| not_weights(path, &format!("PyTorch checkpoint: {e}"));
        // The reader keeps objects it does not interpret as opaque leaves; a weight file has
        // none (what torch.load(weights_only=True) accepts), so one is refused by name.
        let tree = PytorchReader::read_pickle_data(path, None).map_err(checkpoint)?;
        if let Some((at, class)) = foreign_object(&tree, "") {
            return Err(not_weights(
                path,
                &format!(
                    "PyTorch checkpoint: `{at}` is a `{class}` object; a weight file holds only tensors, \
                     numbers, strings, lists and dicts (nothing in it was run)"
                ),
            ));
        }
        let reader = PytorchReader::new(path).map_err(checkpoint)?;
        let entries = reader
            .into_tensors()
            .into_iter()
            .map(|(name, tensor)| {
                let entry = Entry {
                    dtype: pytorch_dtype(tensor.dtype()),
                    shape: tensor.shape().to_vec(),
                    bytes: Bytes::Pytorch(tensor),
                };
                (name, entry)
            })
            .collect();
        Ok(Self { path: path.to_path_buf(), sha256: sha256_file(path)?, data: Vec::new(), entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lowercase hex sha256 of the file's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The names of every tensor in the file, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The tensor `name` as f32, in the shape the file gives it (a [`Scope`] checks the shape a
    /// caller expects first; this reads whatever the file holds, as checking a whole file does).
    pub fn tensor(&self, name: &str) -> Result<ArrayD<f32>> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor { path: self.path.clone(), tensor: name.to_string() })?;
        filled(&self.path, name, &entry.shape, self.read(name, entry)?)
    }

    /// The part of the file below the prefix where `anchor` is found (`""` when the file
    /// holds it at the top level), the shortest such prefix when several are.
    pub fn scope(&self, anchor: &str) -> Result<Scope<'_>> {
        let prefix = self
            .entries
            .keys()
            .filter_map(|name| name.strip_suffix(anchor))
            .filter(|prefix| prefix.is_empty() || prefix.ends_with('.'))
            .min_by_key(|prefix| prefix.len())
            .ok_or_else(|| ModelError::MissingTensor { path: self.path.clone(), tensor: anchor.to_string() })?;
        Ok(Scope { file: self, prefix: prefix.to_string() })
    }

    fn read(&self, name: &str, entry: &Entry) -> Result<Vec<f32>> {
        let owned;
        let bytes: &[u8] = match &entry.bytes {
            Bytes::Range(range) => &self.data[range.clone()],
            Bytes::Pytorch(tensor) => {
                owned = tensor.read().map_err(|e| not_weights(&self.path, &format!("tensor `{name}`: {e}")))?;
                &owned
            }
        };
        Ok(match entry.dtype {
            Dtype::F32 => f32_from_le(bytes),
            Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::Other(found) => {
                return Err(ModelError::TensorDtype {
                    path: self.path.clone(),
                    tensor: name.to_string(),
                    found: found.to_string(),
                });
            }
        })
    }
}

/// Tensors of a [`TensorFile`] below one prefix, read by their names inside it.
pub struct Scope<'a> {
    file: &'a TensorFile,
    prefix: String,
}

impl Scope<'_> {
    pub fn file(&self) -> &TensorFile {
        self.file
    }

    /// The full name of `name` in the file.
    pub fn full_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.file.entries.contains_key(&self.full_name(name))
    }

    /// The first of `names` the file holds.
    pub fn first_of<'n>(&self, names: &'n [String]) -> Option<&'n str> {
        names.iter().find(|n| self.contains(n)).map(String::as_str)
    }

    pub fn shape_if_present(&self, name: &str) -> Option<Vec<usize>> {
        self.file.entries.get(&self.full_name(name)).map(|e| e.shape.clone())
    }

    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        self.shape_if_present(name).ok_or_else(|| self.missing(name))
    }

    pub fn missing(&self, name: &str) -> ModelError {
        ModelError::MissingTensor { path: self.file.path.clone(), tensor: self.full_name(name) }
    }

    pub fn shape_error(&self, name: &str, found: Vec<usize>, expected: &str) -> ModelError {
        ModelError::TensorShape {
            path: self.file.path.clone(),
            tensor: self.full_name(name),
            found,
            expected: expected.to_string(),
        }
    }

    /// The tensor as f32, after checking its shape is exactly `expected`.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<ArrayD<f32>> {
        let full = self.full_name(name);
        let entry = self.file.entries.get(&full).ok_or_else(|| self.missing(name))?;
        if entry.shape != expected {
            return Err(self.shape_error(name, entry.shape.clone(), &format!("{expected:?}")));
        }
        filled(&self.file.path, &full, expected, self.file.read(&full, entry)?)
    }
}

/// `values` of the tensor `name` in `shape`, or the error that they do not fill it.
fn filled(path: &Path, name: &str, shape: &[usize], values: Vec<f32>) -> Result<ArrayD<f32>> {
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map_err(|_| not_weights(path, &format!("tensor `{name}`: its data does not fill its shape")))
}

/// The first value of a checkpoint's pickle that is neither plain data nor a tensor: its
/// dotted key path and Python class.
fn foreign_object(value: &pytorch_reader::PickleValue, at: &str) -> Option<(String, String)> {
    use pytorch_reader::PickleValue as V;
    let child = |key: &str| if at.is_empty() { key.to_string() } else { format!("{at}.{key}") };
    match value {
        V::Unsupported(class) if class == "torch.Tensor" => None,
        V::Unsupported(class) => Some((if at.is_empty() { "the root".into() } else { at.to_string() }, class.clone())),
        V::List(items) => items.iter().enumerate().find_map(|(i, v)| foreign_object(v, &child(&i.to_string()))),
        V::Dict(entries) => {
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|k| foreign_object(&entries[k], &child(k)))
        }
        V::None | V::Bool(_) | V::Int(_) | V::Float(_) | V::String(_) | V::Bytes(_) => None,
    }
}

fn not_weights(path: &Path, reason: &str) -> ModelError {
    ModelError::NotWeights { path: path.to_path_buf(), reason: reason.to_string() }
}

fn safetensors_dtype(dtype: safetensors::Dtype) -> Dtype {
    use safetensors::Dtype as S;
    match dtype {
        S::F32 => Dtype::F32,
        S::F16 => Dtype::F16,
        S::BF16 => Dtype::BF16,
        S::F64 => Dtype::Other("F64"),
        S::I64 | S::U64 => Dtype::Other("a 64-bit integer"),
        S::BOOL => Dtype::Other("BOOL"),
        _ => Dtype::Other("an integer or 8-bit float"),
    }
}

fn pytorch_dtype(dtype: pytorch_reader::DType) -> Dtype {
    use pytorch_reader::DType as P;
    match dtype {
        P::F32 => Dtype::F32,
        P::F16 => Dtype::F16,
        P::BF16 => Dtype::BF16,
        P::F64 => Dtype::Other("F64"),
        P::I64 | P::U64 => Dtype::Other("a 64-bit integer"),
        P::Bool => Dtype::Other("BOOL"),
        P::I32 | P::I16 | P::I8 | P::U32 | P::U16 | P::U8 => Dtype::Other("an integer"),
    }
}
