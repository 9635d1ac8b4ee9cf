//! Frames for people to look at: the alarm snapshot (the frame as a JPEG with the rule's
//! zone outlined, published on `<camera>/snapshot` when an alarm starts, with
//! `mqtt.snapshots = true`), and a frame beside its colour-mapped depth and its class map
//! (the demo's frames, the calibration preview).

use dinoedge_config::{ObjectClass, Zone};
use image::{Rgb, RgbImage};
use ndarray::Array2;

/// The depth range of the colour map, metres: red at the near end, blue at the far one.
const DEPTH_RANGE: (f32, f32) = (0.5, 20.0);

pub const ZONE_COLOUR: Rgb<u8> = Rgb([255, 40, 40]);

/// `frame` with `zone` outlined, as JPEG bytes.
pub fn jpeg(frame: &RgbImage, zone: &Zone) -> Vec<u8> {
    let mut img = frame.clone();
    draw_zone(&mut img, zone, ZONE_COLOUR);
    encode_jpeg(&img)
}

pub fn encode_jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(img)
        .expect("JPEG encoding of an RGB image");
    out
}

/// Outlines `zone` on `img` with 3-pixel lines.
pub fn draw_zone(img: &mut RgbImage, zone: &Zone, colour: Rgb<u8>) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let points = zone.points();
    for (i, a) in points.iter().enumerate() {
        let b = points[(i + 1) % points.len()];
        draw_line(img, [a[0] * w, a[1] * h], [b[0] * w, b[1] * h], colour);
    }
}

/// A 3-pixel line between two pixel positions; what falls outside `img` is cut.
pub fn draw_line(img: &mut RgbImage, from: [f64; 2], to: [f64; 2], colour: Rgb<u8>) {
    let ([x0, y0], [x1, y1]) = (from, to);
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().clamp(1.0, 1e5) as usize;
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (0, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
            let (px, py) = (x as i64 + dx, y as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, colour);
            }
        }
    }
}

/// A cross of 9 pixels' span centred on `at`.
pub fn draw_cross(img: &mut RgbImage, at: [f64; 2], colour: Rgb<u8>) {
    draw_line(img, [at[0] - 4.0, at[1]], [at[0] + 4.0, at[1]], colour);
    draw_line(img, [at[0], at[1] - 4.0], [at[0], at[1] + 4.0], colour);
}

/// `text` in 8x8 glyphs, white on a dark box, its top left at `at` (cut at the edges).
pub fn draw_text(img: &mut RgbImage, at: [f64; 2], text: &str) {
    use font8x8::UnicodeFonts;
    let (x0, y0) = (at[0].round() as i64, at[1].round() as i64);
    for (i, c) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS.get(c).unwrap_or([0; 8]);
        for gy in -1..9i64 {
            for gx in 0..8i64 {
                let (px, py) = (x0 + 8 * i as i64 + gx, y0 + gy);
                if px < 0 || py < 0 || px >= img.width() as i64 || py >= img.height() as i64 {
                    continue;
                }
                let on = (0..8).contains(&gy) && glyph[gy as usize] >> gx & 1 == 1;
                let colour = if on { Rgb([255, 255, 255]) } else { Rgb([20, 20, 20]) };
                img.put_pixel(px as u32, py as u32, colour);
            }
        }
    }
}

/// Metric depth colour-mapped (black where unknown).
pub fn depth_colours(depth: &Array2<f32>) -> RgbImage {
    let (h, w) = depth.dim();
    let slice = depth.as_standard_layout();
    let slice = slice.as_slice().expect("a standard-layout array is contiguous");
    dinoedge_sim::colormap::depth_image(slice, w as u32, h as u32, DEPTH_RANGE.0, DEPTH_RANGE.1)
}

/// `frame` on the left, its metric depth (same size) colour-mapped on the right.
pub fn beside_depth(frame: &RgbImage, depth: &Array2<f32>) -> RgbImage {
    side_by_side(&[frame, &depth_colours(depth)])
}

/// Images of one height, left to right.
pub fn side_by_side(images: &[&RgbImage]) -> RgbImage {
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let mut all = RgbImage::new(images.iter().map(|i| i.width()).sum(), height);
    let mut x = 0;
    for image in images {
        image::imageops::replace(&mut all, *image, x, 0);
        x += i64::from(image.width());
    }
    all
}

/// The colour a class is painted in, on the demo's frames and the calibration page.
pub fn class_colour(class: ObjectClass) -> Rgb<u8> {
    Rgb(match class {
        ObjectClass::Forklift => [255, 140, 0],
        ObjectClass::Person => [235, 40, 200],
        ObjectClass::Load => [240, 225, 40],
        ObjectClass::Floor => [50, 170, 80],
        ObjectClass::Other => [80, 110, 190],
    })
}

/// `frame` with each pixel tinted by its class (`classes`, same size), and a legend of the
/// classes' colours in the top left corner.
pub fn class_overlay(frame: &RgbImage, classes: &Array2<ObjectClass>) -> RgbImage {
    const TINT: f32 = 0.55;
    let mut out = frame.clone();
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let Some(class) = classes.get((y as usize, x as usize)) else { continue };
        let colour = class_colour(*class);
        for (c, t) in pixel.0.iter_mut().zip(colour.0) {
            *c = (f32::from(*c) * (1.0 - TINT) + f32::from(t) * TINT).round() as u8;
        }
    }
    for (row, class) in ObjectClass::ALL.into_iter().enumerate() {
        let y = 6 + 12 * row as u32;
        for dy in 0..9 {
            for dx in 0..9 {
                if 6 + dx < out.width() && y + dy < out.height() {
                    out.put_pixel(6 + dx, y + dy, class_colour(class));
                }
            }
        }
        draw_text(&mut out, [18.0, f64::from(y)], class.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_outline_is_drawn_on_a_decodable_jpeg() {
        let frame = RgbImage::from_pixel(100, 80, Rgb([0, 0, 0]));
        let zone = Zone::try_from(vec![[0.2, 0.25], [0.8, 0.25], [0.8, 0.75], [0.2, 0.75]]).unwrap();
        let back = image::load_from_memory(&jpeg(&frame, &zone)).unwrap().into_rgb8();
        assert_eq!(back.dimensions(), (100, 80));
        assert!(back.get_pixel(50, 20)[0] > 150, "the top edge is red");
        assert!(back.get_pixel(50, 40)[0] < 60, "the inside is untouched");
    }

    #[test]
    fn each_class_is_tinted_in_its_colour_and_named_in_the_legend() {
        let frame = RgbImage::from_pixel(160, 120, Rgb([0, 0, 0]));
        let mut classes = Array2::from_elem((120, 160), ObjectClass::Floor);
        classes.slice_mut(ndarray::s![80.., 100..]).fill(ObjectClass::Person);
        let out = class_overlay(&frame, &classes);
        let tinted = |class| class_colour(class).0.map(|c| (f32::from(c) * 0.55).round() as u8);
        assert_eq!(out.get_pixel(120, 100).0, tinted(ObjectClass::Person));
        assert_eq!(out.get_pixel(120, 40).0, tinted(ObjectClass::Floor));
        for (row, class) in ObjectClass::ALL.into_iter().enumerate() {
            assert_eq!(*out.get_pixel(8, 8 + 12 * row as u32), class_colour(class), "legend swatch of {class:?}");
        }
        let panels = side_by_side(&[&frame, &out]);
        assert_eq!(panels.dimensions(), (320, 120));
        assert_eq!(panels.get_pixel(280, 100).0, tinted(ObjectClass::Person));
    }
}
