//! Frames to backbone input: resize to the model's fixed input size, scale to [0, 1] and
//! normalise with the ImageNet mean and std DINOv2 was trained with, as NCHW f32.
//!
//! Resize policy: the whole frame is resized to the input size (bilinear), stretching it
//! if the aspect ratios differ, so that every pixel of the frame is seen and a depth map
//! maps back onto the frame by a per-axis scale. Import the backbone at an input size of
//! the camera's aspect ratio (e.g. 224x294 for a 640x480 camera) to avoid distortion.

use image::RgbImage;
use image::imageops::{FilterType, resize};
use ndarray::Array4;

use crate::size::InputSize;

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The normalised [1, 3, H, W] tensor of a frame.
pub fn to_input(frame: &RgbImage, size: InputSize) -> Array4<f32> {
    let (w, h) = (size.width as u32, size.height as u32);
    let resized;
    let image = if frame.dimensions() == (w, h) {
        frame
    } else {
        resized = resize(frame, w, h, FilterType::Triangle);
        &resized
    };
    let mut out = Array4::<f32>::zeros((1, 3, size.height, size.width));
    for (x, y, pixel) in image.enumerate_pixels() {
        for c in 0..3 {
            out[[0, c, y as usize, x as usize]] = (pixel[c] as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_with_imagenet_statistics_in_channel_order() {
        let frame = RgbImage::from_pixel(28, 14, image::Rgb([255, 0, 128]));
        let x = to_input(&frame, InputSize::new(14, 28));
        assert_eq!(x.dim(), (1, 3, 14, 28));
        assert!((x[[0, 0, 3, 5]] - (1.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((x[[0, 1, 3, 5]] - (0.0 - 0.456) / 0.224).abs() < 1e-6);
        assert!((x[[0, 2, 3, 5]] - (128.0 / 255.0 - 0.406) / 0.225).abs() < 1e-6);
    }

    #[test]
    fn stretches_other_aspect_ratios_to_the_input_size() {
        let frame = RgbImage::from_pixel(640, 480, image::Rgb([10, 20, 30]));
        let x = to_input(&frame, InputSize::new(224, 224));
        assert_eq!(x.dim(), (1, 3, 224, 224));
        let expected = (10.0 / 255.0 - 0.485) / 0.229;
        assert!(x.index_axis(ndarray::Axis(1), 0).iter().all(|v| (v - expected).abs() < 1e-5));
    }
}
