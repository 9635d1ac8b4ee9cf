//! Helpers shared by the heads crate's integration tests.

use std::path::Path;

use dinoedge_backbone::files::f32_from_le;
use ndarray::{ArrayD, IxDyn};
use safetensors::SafeTensors;

/// Every tensor of an F32 safetensors file, by name.
pub fn read_tensors(path: &Path) -> Vec<(String, ArrayD<f32>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| (name, ArrayD::from_shape_vec(IxDyn(view.shape()), f32_from_le(view.data())).unwrap()))
        .collect()
}

pub fn tensor(tensors: &[(String, ArrayD<f32>)], name: &str) -> ArrayD<f32> {
    tensors.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no tensor {name}")).1.clone()
}

pub fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>, what: &str) -> f32 {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes differ");
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
