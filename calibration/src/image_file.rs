//! Image files as dinoedge reads them (camera frames from an `images` source or for
//! `calibrate`, a calibration's background depth): the format guessed from the bytes, and
//! the decoder held to a frame's bounds before it allocates, so a small file declaring a
//! huge picture (a 481 KB PNG of 13000 × 13000 pixels decodes to 2.6 GB) is refused by its
//! header instead of exhausting a 4 GB board. Only a regular file is read: a pipe, a device or
//! a socket named like a frame is refused without waiting on it (it is opened non-blocking and
//! checked before any read), so a FIFO in a frames folder cannot hang a camera.

use std::fs::OpenOptions;
use std::io::BufReader;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use dinoedge_config::MAX_FRAME_SIDE;
use image::{DynamicImage, ImageReader, Limits};

/// The most a decoder may allocate: an 8192 × 8192 RGBA picture with room to spare.
const MAX_ALLOC: u64 = 512 << 20;

/// Decodes `path`; the error names the file and why (not an image, truncated, too large).
pub fn open(path: &Path) -> Result<DynamicImage, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| fail(&e))?;
    if !file.metadata().map_err(|e| fail(&e))?.is_file() {
        return Err(fail(&"not a regular file (a pipe, a device or a socket): not read"));
    }
    // (O_NONBLOCK means nothing to a regular file's reads.)
    let reader = ImageReader::new(BufReader::new(file));
    let mut reader = reader.with_guessed_format().map_err(|e| fail(&e))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_FRAME_SIDE);
    limits.max_image_height = Some(MAX_FRAME_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            fail(&format!("larger than dinoedge reads ({MAX_FRAME_SIDE} × {MAX_FRAME_SIDE} pixels at most): {e}"))
        }
        e => fail(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_named_like_a_frame_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("000001.png");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // Nobody writes to it: a blocking open would wait for ever.
        let err = open(&fifo).unwrap_err();
        assert!(err.contains("000001.png: not a regular file"), "{err}");
    }

    #[test]
    fn a_picture_wider_than_a_frame_is_refused_by_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let wide = dir.path().join("wide.png");
        image::GrayImage::new(MAX_FRAME_SIDE + 1, 1).save(&wide).unwrap();
        let err = open(&wide).unwrap_err();
        assert!(err.starts_with(&wide.display().to_string()) && err.contains("larger than dinoedge reads"), "{err}");
        let fits = dir.path().join("fits.png");
        image::GrayImage::new(MAX_FRAME_SIDE, 1).save(&fits).unwrap();
        assert_eq!(open(&fits).unwrap().width(), MAX_FRAME_SIDE);
    }

    #[test]
    fn a_truncated_or_foreign_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("frame.png");
        image::RgbImage::new(64, 48).save(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
        assert!(open(&png).unwrap_err().starts_with(&png.display().to_string()));
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "not a picture").unwrap();
        assert!(open(&text).unwrap_err().starts_with(&text.display().to_string()));
    }
}
