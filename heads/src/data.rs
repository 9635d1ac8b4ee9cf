//! RGB-D folders, the training and evaluation data of the heads:
//!
//! ```text
//! rgb/NAME.png|jpg    the frame
//! depth/NAME.png      16-bit depth in `scale` units per metre (1000: millimetres, the
//!                     simulator's and NYU's convention); 0 = no measurement
//! labels/NAME.png     8-bit, each pixel's object class as 1 + its index (`ObjectClass`),
//!                     0 = unlabelled: what class heads learn from
//! meta/NAME.json      optional: `intrinsics` and anything else
//! ```
//!
//! A folder for a depth head ([`RgbdFolder::open`]) needs depth for every frame, labels
//! optional; one for a class head ([`RgbdFolder::open_labelled`]: the simulator's, or the
//! labels an integrator painted in `dinoedge calibrate --ui`) needs labels, depth optional.
//!
//! Invalid depth (0, and NaN or infinity after scaling) is kept as 0 and masked by every
//! consumer through [`is_valid`]; it is never treated as a distance.

use std::path::{Path, PathBuf};

use dinoedge_config::ObjectClass;
use image::RgbImage;
use ndarray::Array2;

use dinoedge_backbone::error::{ModelError, Result};

/// Depth samples that count: finite and above zero.
pub fn is_valid(depth: f32) -> bool {
    depth.is_finite() && depth > 0.0
}

/// One frame of a folder: its name and files.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub rgb: PathBuf,
    pub depth: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub meta: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RgbdFolder {
    pub root: PathBuf,
    pub samples: Vec<Sample>,
    /// Depth PNG units per metre.
    pub scale: f32,
}

/// What every frame of a folder must have beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Depth,
    Labels,
}

impl RgbdFolder {
    /// Lists the frames of `root`; every frame must have its depth file.
    pub fn open(root: &Path, scale: f32) -> Result<Self> {
        Self::open_for(root, scale, Needs::Depth)
    }

    /// Lists the frames of `root`; every frame must have its labels file.
    pub fn open_labelled(root: &Path, scale: f32) -> Result<Self> {
        Self::open_for(root, scale, Needs::Labels)
    }

    fn open_for(root: &Path, scale: f32, needs: Needs) -> Result<Self> {
        let fail = |path: &Path, reason: String| ModelError::Data { path: path.to_path_buf(), reason };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(fail(root, format!("depth scale {scale}: expected units per metre above 0 (1000 for mm)")));
        }
        let rgb_dir = root.join("rgb");
        let entries = std::fs::read_dir(&rgb_dir)
            .map_err(|e| fail(&rgb_dir, format!("{e}; an RGB-D folder has rgb/, depth/ and optionally meta/")))?;
        let mut samples = Vec::new();
        for entry in entries {
            let path = entry.map_err(ModelError::io(&rgb_dir))?.path();
            let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            if !matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
                continue;
            }
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let beside =
                |dir: &str, ext: &str| Some(root.join(dir).join(format!("{name}.{ext}"))).filter(|f| f.is_file());
            let (depth, labels, meta) = (beside("depth", "png"), beside("labels", "png"), beside("meta", "json"));
            let missing = match needs {
                Needs::Depth => depth.is_none().then_some("depth"),
                Needs::Labels => labels.is_none().then_some("labels"),
            };
            if let Some(what) = missing {
                let file = root.join(what).join(format!("{name}.png"));
                return Err(fail(&file, format!("missing: frame {} has no {what}", path.display())));
            }
            samples.push(Sample { name, rgb: path, depth, labels, meta });
        }
        if samples.is_empty() {
            return Err(fail(&rgb_dir, "no frames (.png or .jpg) in it".into()));
        }
        samples.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { root: root.to_path_buf(), samples, scale })
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The frame and its depth in metres (0 where invalid), checked to be the same size
    /// and to have at least one valid depth.
    pub fn load(&self, index: usize) -> Result<(RgbImage, Array2<f32>)> {
        let (rgb, depth) = self.frame(index)?;
        let sample = &self.samples[index];
        let depth = depth.ok_or_else(|| ModelError::Data {
            path: self.root.join("depth").join(format!("{}.png", sample.name)),
            reason: format!("missing: frame {} has no depth", sample.rgb.display()),
        })?;
        Ok((rgb, depth))
    }

    /// The frame and, if it has any, its depth as [`load`](Self::load) checks it.
    pub fn frame(&self, index: usize) -> Result<(RgbImage, Option<Array2<f32>>)> {
        let sample = &self.samples[index];
        let fail = |path: &Path, reason: String| ModelError::Data { path: path.to_path_buf(), reason };
        let rgb = image::open(&sample.rgb).map_err(|e| fail(&sample.rgb, e.to_string()))?.into_rgb8();
        let Some(depth_path) = &sample.depth else { return Ok((rgb, None)) };
        let depth = image::open(depth_path).map_err(|e| fail(depth_path, e.to_string()))?;
        if !matches!(depth.color(), image::ColorType::L16 | image::ColorType::L8) {
            return Err(fail(depth_path, format!("depth is {:?}; expected a 16-bit grey PNG", depth.color())));
        }
        let depth = depth.into_luma16();
        if depth.dimensions() != rgb.dimensions() {
            return Err(fail(
                depth_path,
                format!("depth is {}x{}, its frame {}x{}", depth.width(), depth.height(), rgb.width(), rgb.height()),
            ));
        }
        let (w, h) = depth.dimensions();
        let metres = Array2::from_shape_fn((h as usize, w as usize), |(y, x)| {
            let d = depth.get_pixel(x as u32, y as u32)[0] as f32 / self.scale;
            if is_valid(d) { d } else { 0.0 }
        });
        if !metres.iter().any(|d| is_valid(*d)) {
            return Err(fail(depth_path, "no valid depth: every pixel is 0".into()));
        }
        Ok((rgb, Some(metres)))
    }

    /// The frame's class labels, [height, width] (`None` where unlabelled), if it has a
    /// labels file; checked to be 8-bit grey, of the frame's `size` (width, height), with no
    /// value above the last class.
    pub fn labels(&self, index: usize, size: (u32, u32)) -> Result<Option<Array2<Option<ObjectClass>>>> {
        let Some(path) = &self.samples[index].labels else { return Ok(None) };
        let fail = |reason: String| ModelError::Data { path: path.clone(), reason };
        let image = image::open(path).map_err(|e| fail(e.to_string()))?;
        let image =
            image.as_luma8().ok_or_else(|| fail(format!("labels are {:?}; expected 8-bit grey", image.color())))?;
        if image.dimensions() != size {
            let (w, h) = image.dimensions();
            return Err(fail(format!("labels are {w}x{h}, the frame {}x{}", size.0, size.1)));
        }
        if let Some((x, y, bad)) =
            image.enumerate_pixels().find(|(_, _, p)| usize::from(p.0[0]) > ObjectClass::ALL.len())
        {
            return Err(fail(format!(
                "pixel ({x}, {y}) is {}: labels are 0 (none) or 1 + a class index, at most {} ({})",
                bad.0[0],
                ObjectClass::ALL.len(),
                ObjectClass::names()
            )));
        }
        let (w, h) = (size.0 as usize, size.1 as usize);
        Ok(Some(Array2::from_shape_fn((h, w), |(y, x)| {
            image.get_pixel(x as u32, y as u32).0[0].checked_sub(1).and_then(ObjectClass::from_index)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma};

    fn write_frame(root: &Path, name: &str, size: (u32, u32), depth_size: (u32, u32), mm: u16) {
        std::fs::create_dir_all(root.join("rgb")).unwrap();
        std::fs::create_dir_all(root.join("depth")).unwrap();
        RgbImage::new(size.0, size.1).save(root.join("rgb").join(format!("{name}.png"))).unwrap();
        let d: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_pixel(depth_size.0, depth_size.1, Luma([mm]));
        d.save(root.join("depth").join(format!("{name}.png"))).unwrap();
    }

    #[test]
    fn reads_depth_in_metres_and_keeps_zero_as_invalid() {
        let tmp = tempfile::tempdir().unwrap();
        write_frame(tmp.path(), "b", (4, 3), (4, 3), 2500);
        write_frame(tmp.path(), "a", (4, 3), (4, 3), 1000);
        let folder = RgbdFolder::open(tmp.path(), 1000.0).unwrap();
        assert_eq!(folder.samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let (_, depth) = folder.load(1).unwrap();
        assert_eq!(depth.dim(), (3, 4));
        assert!(depth.iter().all(|d| *d == 2.5));
        assert!(!is_valid(0.0) && !is_valid(f32::NAN) && !is_valid(f32::INFINITY) && is_valid(0.001));
    }

    #[test]
    fn bad_folders_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let err = RgbdFolder::open(tmp.path(), 1000.0).unwrap_err().to_string();
        assert!(err.contains("rgb") && err.contains("an RGB-D folder has rgb/"), "{err}");

        write_frame(tmp.path(), "small", (4, 3), (2, 2), 1000);
        let folder = RgbdFolder::open(tmp.path(), 1000.0).unwrap();
        let err = folder.load(0).unwrap_err().to_string();
        assert!(err.contains("small.png") && err.contains("depth is 2x2, its frame 4x3"), "{err}");

        write_frame(tmp.path(), "small", (4, 3), (4, 3), 0);
        let err = folder.load(0).unwrap_err().to_string();
        assert!(err.contains("no valid depth"), "{err}");

        std::fs::create_dir_all(tmp.path().join("labels")).unwrap();
        let labels = tmp.path().join("labels/small.png");
        let with = |values: Vec<u8>, size: (u32, u32)| {
            ImageBuffer::<Luma<u8>, Vec<u8>>::from_raw(size.0, size.1, values).unwrap().save(&labels).unwrap();
            RgbdFolder::open(tmp.path(), 1000.0).unwrap().labels(0, (4, 3))
        };
        let read = with(vec![0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 1], (4, 3)).unwrap().unwrap();
        assert_eq!(
            (read[[0, 0]], read[[0, 1]], read[[1, 1]]),
            (None, Some(ObjectClass::Forklift), Some(ObjectClass::Other))
        );
        let err = with(vec![6; 12], (4, 3)).unwrap_err().to_string();
        assert!(err.contains("labels/small.png") && err.contains("pixel (0, 0) is 6"), "{err}");
        let err = with(vec![1; 4], (2, 2)).unwrap_err().to_string();
        assert!(err.contains("labels are 2x2, the frame 4x3"), "{err}");

        std::fs::remove_file(tmp.path().join("depth/small.png")).unwrap();
        let err = RgbdFolder::open(tmp.path(), 1000.0).unwrap_err().to_string();
        assert!(err.contains("depth/small.png") && err.contains("has no depth"), "{err}");
    }

    #[test]
    fn a_labelled_folder_needs_labels_and_not_depth() {
        let tmp = tempfile::tempdir().unwrap();
        write_frame(tmp.path(), "a", (4, 3), (4, 3), 1000);
        let err = RgbdFolder::open_labelled(tmp.path(), 1000.0).unwrap_err().to_string();
        assert!(err.contains("labels/a.png") && err.contains("has no labels"), "{err}");
        std::fs::create_dir_all(tmp.path().join("labels")).unwrap();
        ImageBuffer::<Luma<u8>, Vec<u8>>::from_pixel(4, 3, Luma([2])).save(tmp.path().join("labels/a.png")).unwrap();
        std::fs::remove_dir_all(tmp.path().join("depth")).unwrap();
        let folder = RgbdFolder::open_labelled(tmp.path(), 1000.0).unwrap();
        let (rgb, depth) = folder.frame(0).unwrap();
        assert_eq!((rgb.dimensions(), depth), ((4, 3), None));
        assert!(folder.labels(0, (4, 3)).unwrap().unwrap().iter().all(|c| *c == Some(ObjectClass::Person)));
        let err = folder.load(0).unwrap_err().to_string();
        assert!(err.contains("depth/a.png") && err.contains("has no depth"), "a depth head cannot read it: {err}");
    }
}
