//! Frozen features for head training and evaluation: the backbone's per-patch features of
//! each frame of an RGB-D folder, with the frame's depth brought to the patch grid, cached
//! on disk by backbone and image hash so a second run does not run the backbone again.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use sha2::{Digest, Sha256};

use crate::data::{RgbdFolder, is_valid};
use crate::head::linear::{HeadLayers, features};
use crate::head::pixels::patch_pixels;
use dinoedge_backbone::error::{ModelError, Result};
use dinoedge_backbone::files::{f32_from_le, f32_to_le, write_atomically};
use dinoedge_backbone::preprocess;
use dinoedge_backbone::runtime::Backbone;

/// A patch needs at least this share of valid depth pixels to be a training target.
const MIN_VALID_SHARE: f32 = 0.25;

/// One frame on the patch grid.
#[derive(Debug, Clone)]
pub struct PatchFrame {
    pub name: String,
    /// [N, F]
    pub features: Array2<f32>,
    /// [N] mean valid depth of each patch's pixels, metres; 0 where too few are valid.
    pub target: Array1<f32>,
    /// [N, 3·p·p] each patch's normalised input pixels (for the pixel baseline).
    pub pixels: Array2<f32>,
}

/// The mean valid depth over each patch's rectangle of the frame (which the stretch
/// resize maps onto that patch), row-major; 0 where under a quarter of the pixels are valid.
pub fn patch_targets(depth: &Array2<f32>, rows: usize, cols: usize) -> Array1<f32> {
    let (h, w) = depth.dim();
    let mut out = Array1::zeros(rows * cols);
    for r in 0..rows {
        let (y0, y1) = (r * h / rows, ((r + 1) * h / rows).max(r * h / rows + 1));
        for c in 0..cols {
            let (x0, x1) = (c * w / cols, ((c + 1) * w / cols).max(c * w / cols + 1));
            let (mut sum, mut valid, mut total) = (0.0f64, 0usize, 0usize);
            for y in y0..y1.min(h) {
                for x in x0..x1.min(w) {
                    total += 1;
                    let d = depth[[y, x]];
                    if is_valid(d) {
                        sum += d as f64;
                        valid += 1;
                    }
                }
            }
            if valid > 0 && valid as f32 >= MIN_VALID_SHARE * total as f32 {
                out[r * cols + c] = (sum / valid as f64) as f32;
            }
        }
    }
    out
}

/// Where features are cached: one file per (backbone, layers, image).
pub struct FeatureCache {
    pub dir: PathBuf,
}

impl FeatureCache {
    fn path(&self, backbone: &Backbone, layers: HeadLayers, image: &[u8]) -> PathBuf {
        let meta = backbone.meta();
        let mut h = Sha256::new();
        h.update(meta.weights_sha256.as_bytes());
        h.update(meta.input.to_string().as_bytes());
        h.update(format!("{layers:?}").as_bytes());
        h.update(image);
        self.dir.join(format!("{}.f32", hex::encode(h.finalize())))
    }

    fn read(path: &Path, n: usize, f: usize) -> Option<Array2<f32>> {
        let bytes = std::fs::read(path).ok()?;
        (bytes.len() == 4 * n * f).then(|| Array2::from_shape_vec((n, f), f32_from_le(&bytes)).expect("length checked"))
    }
}

/// Runs (or reads from `cache`) the features of every frame; `progress(done, total)`.
pub fn extract(
    backbone: &Backbone,
    folder: &RgbdFolder,
    layers: HeadLayers,
    cache: Option<&FeatureCache>,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<PatchFrame>> {
    let meta = backbone.meta();
    let (rows, cols) = meta.input.grid(meta.spec.patch)?;
    let (n, f) = (rows * cols, layers.feature_dim(meta.spec.hidden));
    if let Some(cache) = cache {
        std::fs::create_dir_all(&cache.dir).map_err(ModelError::io(&cache.dir))?;
    }
    let mut frames = Vec::with_capacity(folder.len());
    for i in 0..folder.len() {
        // A labelled folder's frame may have no depth: its patches have no depth target.
        let (rgb, depth) = folder.frame(i)?;
        // Resized and normalised once, for the pixel baseline and (on a cache miss) the backbone.
        let input = preprocess::to_input(&rgb, meta.input);
        let pixels = patch_pixels(&input, meta.spec.patch);
        let cached = cache.map(|c| c.path(backbone, layers, rgb.as_raw()));
        let features = match cached.as_deref().and_then(|p| FeatureCache::read(p, n, f)) {
            Some(features) => features,
            None => {
                let features = features(&backbone.run(input)?, layers)?;
                if let Some(path) = &cached {
                    write_atomically(path, &f32_to_le(&features))?;
                }
                features
            }
        };
        frames.push(PatchFrame {
            name: folder.samples[i].name.clone(),
            features,
            target: depth.map_or_else(|| Array1::zeros(n), |d| patch_targets(&d, rows, cols)),
            pixels,
        });
        progress(i + 1, folder.len());
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn patch_targets_average_valid_pixels_and_mask_mostly_invalid_patches() {
        // A 2x4 frame on a 1x2 grid: the left patch has depths 1, 3, 2 and one invalid pixel;
        // the right patch has only one valid pixel of four.
        let depth = array![[1.0f32, 3.0, 0.0, 0.0], [2.0, 0.0, 5.0, 0.0]];
        let t = patch_targets(&depth, 1, 2);
        assert_eq!(t.to_vec(), vec![2.0, 5.0]);
        let sparse = array![[1.0f32, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]];
        assert_eq!(patch_targets(&sparse, 1, 1).to_vec(), vec![0.0], "1 valid pixel of 10 is not a target");
    }
}
