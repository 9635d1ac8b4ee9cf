//! The `v4l2` source: USB and CSI cameras through nokhwa's V4L2 backend, asking for the
//! configured size, rate and pixel format (the closest the camera offers), converting each
//! frame to RGB8: MJPEG with the `image` crate's decoder, YUYV 4:2:2 with nokhwa's.
//! Built with the `v4l2` cargo feature (on by default; its raw bindings are committed, v4l2-sys/).

use anyhow::{Context, Result, bail};
use dinoedge_config::PixelFormat;
use image::RgbImage;
use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution};

use super::{Captured, Delivery, FrameSource};

pub struct V4l2 {
    camera: Camera,
    device: String,
}

/// `0`, `/dev/video0` → index 0; anything else is passed on as a device name.
fn index(device: &str) -> CameraIndex {
    let number = device.strip_prefix("/dev/video").unwrap_or(device);
    number.parse::<u32>().map_or_else(|_| CameraIndex::String(device.to_string()), CameraIndex::Index)
}

impl V4l2 {
    pub fn open(device: &str, width: u32, height: u32, fps: u32, format: PixelFormat) -> Result<Self> {
        let wanted = match format {
            PixelFormat::Mjpeg => FrameFormat::MJPEG,
            PixelFormat::Yuyv => FrameFormat::YUYV,
        };
        let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
            Resolution::new(width, height),
            wanted,
            fps,
        )));
        let mut camera = Camera::new(index(device), request).with_context(|| format!("opening camera {device}"))?;
        camera.open_stream().with_context(|| format!("starting the stream of {device}"))?;
        let got = camera.camera_format();
        log::info!("camera {device}: {} {}x{} at {} fps", got.format(), got.width(), got.height(), got.frame_rate());
        Ok(Self { camera, device: device.to_string() })
    }
}

impl FrameSource for V4l2 {
    fn next(&mut self) -> Result<Option<Captured>> {
        let buffer = self.camera.frame().with_context(|| format!("reading a frame from {}", self.device))?;
        let image = to_rgb(buffer.source_frame_format(), buffer.resolution(), buffer.buffer())
            .with_context(|| format!("converting a frame of {}", self.device))?;
        Ok(Some(Captured { image, file: None }))
    }

    fn delivery(&self) -> Delivery {
        Delivery::Live
    }
}

/// One camera buffer as RGB8.
pub fn to_rgb(format: FrameFormat, size: Resolution, data: &[u8]) -> Result<RgbImage> {
    let (w, h) = (size.width(), size.height());
    let image = match format {
        FrameFormat::MJPEG => image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
            .context("a corrupt MJPEG frame")?
            .into_rgb8(),
        FrameFormat::YUYV => {
            let expected = w as usize * h as usize * 2;
            if data.len() != expected {
                bail!("a YUYV frame of {} bytes, expected {expected} for {w}x{h}", data.len());
            }
            let rgb = nokhwa::utils::yuyv422_to_rgb(data, false)?;
            RgbImage::from_raw(w, h, rgb).expect("the size was checked")
        }
        FrameFormat::RAWRGB => RgbImage::from_raw(w, h, data.to_vec()).context("a short RGB frame")?,
        other => bail!("pixel format {other} is not supported; configure mjpeg or yuyv"),
    };
    if image.dimensions() != (w, h) {
        bail!("the frame is {}x{}, the camera said {w}x{h}", image.width(), image.height());
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_grey_red_and_white_become_their_rgb() {
        // Two pixels per 4 bytes (Y0 U Y1 V). BT.601 limited range: Y=16 black, Y=235 white;
        // red is about (Y 81, U 90, V 240).
        let data = [16, 128, 235, 128, 81, 90, 81, 240];
        let rgb = to_rgb(FrameFormat::YUYV, Resolution::new(4, 1), &data).unwrap();
        let px = |x| rgb.get_pixel(x, 0).0;
        assert!(px(0).iter().all(|&c| c < 10), "black: {:?}", px(0));
        assert!(px(1).iter().all(|&c| c > 245), "white: {:?}", px(1));
        assert!(px(2)[0] > 230 && px(2)[1] < 30 && px(2)[2] < 30, "red: {:?}", px(2));
        assert!(to_rgb(FrameFormat::YUYV, Resolution::new(4, 2), &data).is_err(), "a short frame is an error");
    }

    #[test]
    fn an_mjpeg_frame_decodes_to_its_size_and_colours() {
        let original =
            RgbImage::from_fn(
                64,
                48,
                |x, _| if x < 32 { image::Rgb([200, 30, 30]) } else { image::Rgb([30, 30, 200]) },
            );
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&original).unwrap();
        let rgb = to_rgb(FrameFormat::MJPEG, Resolution::new(64, 48), &jpeg).unwrap();
        assert_eq!(rgb.dimensions(), (64, 48));
        let (left, right) = (rgb.get_pixel(8, 24).0, rgb.get_pixel(56, 24).0);
        assert!(left[0] > 170 && left[2] < 60 && right[2] > 170 && right[0] < 60, "{left:?} {right:?}");
        assert!(to_rgb(FrameFormat::MJPEG, Resolution::new(64, 48), &jpeg[..100]).is_err(), "a cut frame is an error");
        assert!(
            to_rgb(FrameFormat::MJPEG, Resolution::new(32, 48), &jpeg).is_err(),
            "a frame of another size is an error"
        );
    }
}
