//! The calibration preview: the frame with what was clicked (floor marks, floor regions,
//! zones, the dock plane's trace on the floor, the references with their measured and read
//! distances), beside the colour-mapped aligned depth of the empty scene.

use dinoedge_calibration::workflow::{Outcome, PointsFile};
use glam::DVec3;
use image::{Rgb, RgbImage};

use super::report;
use crate::pipeline::snapshot::{ZONE_COLOUR, beside_depth, draw_cross, draw_line, draw_text, draw_zone};

const FLOOR_MARK: Rgb<u8> = Rgb([255, 0, 255]);
const FLOOR_REGION: Rgb<u8> = Rgb([40, 220, 40]);
const REFERENCE: Rgb<u8> = Rgb([0, 230, 255]);
const DOCK: Rgb<u8> = Rgb([255, 220, 0]);

pub fn draw(frame: &RgbImage, points: &PointsFile, outcome: &Outcome) -> RgbImage {
    let mut left = frame.clone();
    for region in &points.floor_regions {
        draw_zone(&mut left, &region.points, FLOOR_REGION);
    }
    for zone in &points.zones {
        draw_zone(&mut left, &zone.points, ZONE_COLOUR);
        let first = zone.points.points()[0];
        let at = [first[0] * frame.width() as f64 + 4.0, first[1] * frame.height() as f64 + 4.0];
        draw_text(&mut left, at, zone.name.as_str());
    }
    for p in &points.floor_points {
        draw_cross(&mut left, p.pixel, FLOOR_MARK);
    }
    let camera = report::camera(outcome);
    for (_, plane) in report::planes(outcome) {
        // The plane's line on the floor, from 30 m to one side to 30 m to the other.
        let along = plane.normal.cross(DVec3::Z);
        let pixels: Vec<Option<[f64; 2]>> = (-60..=60)
            .map(|i| camera.project(plane.point + along * (i as f64 * 0.5)).map(|(p, _)| p.to_array()))
            .collect();
        for pair in pixels.windows(2) {
            if let [Some(a), Some(b)] = pair {
                draw_line(&mut left, *a, *b, DOCK);
            }
        }
    }
    for (r, (measured, read)) in points.references.iter().zip(&outcome.readings) {
        draw_cross(&mut left, r.pixel, REFERENCE);
        draw_text(&mut left, [r.pixel[0] + 6.0, r.pixel[1] - 12.0], &format!("{measured:.2}/{read:.2} m"));
    }
    beside_depth(&left, &outcome.background.depth)
}
