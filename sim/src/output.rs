//! Writing frames to disk in the RGB-D folder format that `dinoedge heads train` reads:
//!
//! ```text
//! rgb/NAME.png        8-bit RGB
//! depth/NAME.png      16-bit grey, z-depth in millimetres, 0 = no depth
//! depth/NAME.npy      float32 [H, W], z-depth in metres, 0 = no depth
//! instance/NAME.png   16-bit grey, 1 + object index in meta's `objects`, 0 = none
//! class/NAME.png      8-bit grey, class number (meta's `classes`), 0 = none
//! labels/NAME.png     8-bit grey, 1 + the `ObjectClass` index the class heads learn
//!                     (forklift 1, person 2, load 3, floor 4, other 5), 0 = unlabelled
//! meta/NAME.json      camera (intrinsics, pose), objects, ground truth
//! ```

use std::io::Write;
use std::path::Path;

use image::{ImageBuffer, Luma};

use crate::render::Frame;
use crate::scene::Class;

/// Writes one frame's images and `meta` under `dir`, each file through a temporary name.
pub fn write_frame(dir: &Path, name: &str, frame: &Frame, meta: &serde_json::Value) -> std::io::Result<()> {
    let (w, h) = (frame.width(), frame.height());
    for sub in ["rgb", "depth", "instance", "class", "labels", "meta"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let to_io = |e: image::ImageError| std::io::Error::other(e.to_string());
    save_atomically(&dir.join("rgb").join(format!("{name}.png")), |p| frame.rgb.save(p).map_err(to_io))?;
    let mm: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_raw(
        w,
        h,
        frame.depth.iter().map(|d| (d * 1000.0).round().clamp(0.0, u16::MAX as f32) as u16).collect(),
    )
    .expect("one value per pixel");
    save_atomically(&dir.join("depth").join(format!("{name}.png")), |p| mm.save(p).map_err(to_io))?;
    save_atomically(&dir.join("depth").join(format!("{name}.npy")), |p| write_npy(p, &frame.depth, h, w))?;
    let instance: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_raw(w, h, frame.instance.clone()).expect("one value per pixel");
    save_atomically(&dir.join("instance").join(format!("{name}.png")), |p| instance.save(p).map_err(to_io))?;
    let class: ImageBuffer<Luma<u8>, Vec<u8>> =
        ImageBuffer::from_raw(w, h, frame.class.clone()).expect("one value per pixel");
    save_atomically(&dir.join("class").join(format!("{name}.png")), |p| class.save(p).map_err(to_io))?;
    let labels: ImageBuffer<Luma<u8>, Vec<u8>> =
        ImageBuffer::from_raw(w, h, frame.class.iter().map(|&c| 1 + Class::object_class_of_mask(c).index()).collect())
            .expect("one value per pixel");
    save_atomically(&dir.join("labels").join(format!("{name}.png")), |p| labels.save(p).map_err(to_io))?;
    let json = serde_json::to_string_pretty(meta).expect("JSON values serialise");
    save_atomically(&dir.join("meta").join(format!("{name}.json")), |p| std::fs::write(p, &json))
}

/// Runs `write` on a temporary path beside `path`, then renames it into place.
fn save_atomically(path: &Path, write: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    // Keep the extension last: the image crate picks the format from it.
    let tmp = path.with_file_name(format!(".part-{file_name}"));
    write(&tmp)?;
    std::fs::rename(&tmp, path)
}

/// A float32 array as a NumPy `.npy` file (version 1.0, little-endian, C order).
fn write_npy(path: &Path, values: &[f32], rows: u32, cols: u32) -> std::io::Result<()> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for v in values {
        out.write_all(&v.to_le_bytes())?;
    }
    out.flush()
}
