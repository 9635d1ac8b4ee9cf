//! Depth to colour for people to look at: the turbo colour map (a polynomial fit of
//! Google's "Turbo"), near = red, far = blue, nothing = black.

use image::RgbImage;

/// Turbo colour of t in [0, 1].
pub fn turbo(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0) as f64;
    let channel = |c: [f64; 6]| {
        let v = c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    [
        channel([0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943]),
        channel([0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604]),
        channel([0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]),
    ]
}

/// A depth map (row-major, metres, 0 = none) as an image, `near`..`far` mapped red..blue.
pub fn depth_image(depth: &[f32], width: u32, height: u32, near: f32, far: f32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let d = depth[(y * width + x) as usize];
        if d <= 0.0 || !d.is_finite() {
            return image::Rgb([0, 0, 0]);
        }
        image::Rgb(turbo(1.0 - (d - near) / (far - near)))
    })
}
