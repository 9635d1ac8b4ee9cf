//! Change-gated inference (`[camera.gate]`): whether a frame goes through the model, or the
//! rules measure again on the depth and classes of the last frame that did.
//!
//! The change measure is cheap and made on a downscaled frame: each 4×4-pixel block's mean
//! luma ([`Thumbnail`]), compared block by block with the thumbnail of the last frame the model
//! ran on (not the previous frame, so a slow drift adds up). A cell of 4×4 blocks (16×16
//! pixels) has changed when its blocks moved by more than `level` on average. Averaging the
//! blocks first keeps a sensor's noise under the level; a person covering a quarter of a cell
//! moves it by several times the level.
//!
//! The model runs ([`Why`]) on the first frame and after a size change, when the last run is
//! `max_skip` old, while any rule is in alarm or counting frames towards a start or an end
//! (so no alarm ever starts or ends on a re-measured depth), when a cell that holds a pixel
//! of any rule's zone changed (only those pixels are ever measured), and when `area` of all
//! cells changed. Otherwise the frame is skipped: nothing a rule measures can have moved.

use std::time::Instant;

use dinoedge_config::{Gate, Zone};
use image::RgbImage;

use crate::rules::measure::ZoneMask;

/// Pixels per side of a block of the thumbnail.
const BLOCK: usize = 4;
/// Blocks per side of a cell.
const CELL: usize = 4;

/// Why the model runs on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The gate is off (`enabled = false`): every frame runs.
    Off,
    /// No frame ran yet at this size.
    First,
    /// The last run is `max_skip` old.
    Refresh,
    /// A rule is in alarm, or counting frames towards a start or an end.
    Unsettled,
    /// A cell of a rule's zone changed.
    Zone,
    /// `area` of the frame changed.
    Area,
}

/// What the gate decides for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Run(Why),
    Skip,
}

/// A frame's mean luma per 4×4-pixel block (the last row and column of blocks may be cut).
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    /// The frame's size, pixels.
    size: (usize, usize),
    /// Blocks per row.
    columns: usize,
    luma: Vec<f32>,
}

impl Thumbnail {
    pub fn of(image: &RgbImage) -> Self {
        let (width, height) = (image.width() as usize, image.height() as usize);
        let (columns, rows) = (width.div_ceil(BLOCK), height.div_ceil(BLOCK));
        let mut sums = vec![0u32; columns * rows];
        for (y, row) in image.as_raw().chunks_exact(width * 3).enumerate() {
            let sums = &mut sums[(y / BLOCK) * columns..][..columns];
            for (x, p) in row.chunks_exact(3).enumerate() {
                // BT.601 luma in 1/256 levels.
                sums[x / BLOCK] += 77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]);
            }
        }
        let pixels = |i: usize| {
            let (bx, by) = (i % columns, i / columns);
            ((width - bx * BLOCK).min(BLOCK) * (height - by * BLOCK).min(BLOCK)) as f32
        };
        let luma = sums.iter().enumerate().map(|(i, &s)| s as f32 / 256.0 / pixels(i)).collect();
        Self { size: (width, height), columns, luma }
    }
}

/// The cells of a frame size, and which of them hold a pixel of a rule's zone.
struct Cells {
    size: (usize, usize),
    columns: usize,
    in_zone: Vec<bool>,
}

impl Cells {
    /// `zones`: each rule's zone, `None` for a rule whose zone cannot be resolved (then every
    /// cell counts as in a zone).
    fn new(size: (usize, usize), zones: &[Option<Zone>]) -> Self {
        let (width, height) = size;
        let side = BLOCK * CELL;
        let columns = width.div_ceil(side);
        let mut in_zone = vec![false; columns * height.div_ceil(side)];
        for zone in zones {
            let Some(zone) = zone else {
                in_zone.fill(true);
                break;
            };
            for pixel in ZoneMask::new(zone, width, height).pixels {
                let (x, y) = (pixel % width, pixel / width);
                in_zone[(y / side) * columns + x / side] = true;
            }
        }
        Self { size, columns, in_zone }
    }

    /// The change of each cell between two thumbnails of this size: the mean over its blocks
    /// of the absolute difference of their luma.
    fn changes(&self, now: &Thumbnail, then: &Thumbnail) -> Vec<f32> {
        let mut sum = vec![0f32; self.in_zone.len()];
        let mut count = vec![0u32; self.in_zone.len()];
        for (i, (a, b)) in now.luma.iter().zip(&then.luma).enumerate() {
            let (bx, by) = (i % now.columns, i / now.columns);
            let cell = (by / CELL) * self.columns + bx / CELL;
            sum[cell] += (a - b).abs();
            count[cell] += 1;
        }
        sum.iter().zip(&count).map(|(s, &n)| s / n.max(1) as f32).collect()
    }
}

/// One camera's gate: its settings, the cells of its rules' zones and the thumbnail of the
/// last frame the model ran on.
pub struct ChangeGate {
    settings: Gate,
    zones: Vec<Option<Zone>>,
    cells: Option<Cells>,
    reference: Option<(Thumbnail, Instant)>,
}

impl ChangeGate {
    pub fn new(settings: Gate, zones: Vec<Option<Zone>>) -> Self {
        Self { settings, zones, cells: None, reference: None }
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Decides for a frame captured `at`, whose thumbnail is `thumbnail`; `settled` says that
    /// no rule is in alarm or counting frames.
    pub fn check(&mut self, thumbnail: &Thumbnail, at: Instant, settled: bool) -> Verdict {
        let Some((reference, ran_at)) = self.reference.as_ref().filter(|(r, _)| r.size == thumbnail.size) else {
            return Verdict::Run(Why::First);
        };
        if !settled {
            return Verdict::Run(Why::Unsettled);
        }
        if at.saturating_duration_since(*ran_at) >= self.settings.max_skip {
            return Verdict::Run(Why::Refresh);
        }
        let size = thumbnail.size;
        if self.cells.as_ref().is_none_or(|c| c.size != size) {
            self.cells = Some(Cells::new(size, &self.zones));
        }
        let cells = self.cells.as_ref().expect("bound to this size above");
        let changes = cells.changes(thumbnail, reference);
        let level = self.settings.level as f32;
        let changed: Vec<bool> = changes.iter().map(|&c| c > level).collect();
        if changed.iter().zip(&cells.in_zone).any(|(&c, &z)| c && z) {
            return Verdict::Run(Why::Zone);
        }
        let area = changed.iter().filter(|&&c| c).count() as f64 / changed.len() as f64;
        if area >= self.settings.area {
            return Verdict::Run(Why::Area);
        }
        Verdict::Skip
    }

    /// Forgets the last frame the model ran on: the next frame runs it.
    pub fn forget(&mut self) {
        self.reference = None;
    }

    /// The model ran on the frame of `thumbnail`, captured `at`: later frames compare with it.
    pub fn ran(&mut self, thumbnail: Thumbnail, at: Instant) {
        self.reference = Some((thumbnail, at));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use image::Rgb;

    const SIZE: (u32, u32) = (160, 120);

    fn gate(zones: Vec<Option<Zone>>) -> ChangeGate {
        ChangeGate::new(Gate { enabled: true, level: 4.0, area: 0.05, max_skip: Duration::from_secs(2) }, zones)
    }

    fn zone(points: &[[f64; 2]]) -> Option<Zone> {
        Some(Zone::try_from(points.to_vec()).unwrap())
    }

    /// A textured grey frame.
    fn scene() -> RgbImage {
        RgbImage::from_fn(SIZE.0, SIZE.1, |x, y| {
            let v = (100 + (x * 7 + y * 13) % 40) as u8;
            Rgb([v, v, v])
        })
    }

    /// A dark `w`×`h` box at (`x`, `y`) pixels.
    fn with_box(mut image: RgbImage, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
        for yy in y..y + h {
            for xx in x..x + w {
                image.put_pixel(xx, yy, Rgb([30, 25, 20]));
            }
        }
        image
    }

    /// `image` with Gaussian-like noise of about `sigma` levels (sum of uniforms), seeded.
    fn noisy(image: &RgbImage, sigma: f32, seed: u64) -> RgbImage {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut uniform = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut out = image.clone();
        for p in out.pixels_mut() {
            for c in &mut p.0 {
                // Twelve uniforms on [-0.5, 0.5) sum to a variance of 1.
                let n: f32 = (0..12).map(|_| uniform()).sum();
                *c = (f32::from(*c) + sigma * n).round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }

    fn run(gate: &mut ChangeGate, image: &RgbImage, at: Instant) -> Verdict {
        let thumbnail = Thumbnail::of(image);
        let verdict = gate.check(&thumbnail, at, true);
        if verdict != Verdict::Skip {
            gate.ran(thumbnail, at);
        }
        verdict
    }

    #[test]
    fn thumbnail_is_the_mean_luma_of_each_block_cut_blocks_included() {
        let image = RgbImage::from_fn(6, 5, |x, _| if x < 4 { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) });
        let t = Thumbnail::of(&image);
        assert_eq!((t.columns, t.luma.len()), (2, 4));
        // White is 256/256 × 255 levels in BT.601 integer weights: 77 + 150 + 29 = 256.
        assert_eq!(t.luma, vec![255.0, 0.0, 255.0, 0.0]);
        let grey = RgbImage::from_pixel(6, 5, Rgb([10, 200, 40]));
        let expected = (77.0 * 10.0 + 150.0 * 200.0 + 29.0 * 40.0) / 256.0;
        assert!(Thumbnail::of(&grey).luma.iter().all(|&l| (l - expected).abs() < 1e-4));
    }

    #[test]
    fn the_first_frame_runs_and_an_unchanged_one_is_skipped_until_max_skip() {
        let mut g = gate(vec![zone(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])]);
        let t0 = Instant::now();
        assert_eq!(run(&mut g, &scene(), t0), Verdict::Run(Why::First));
        assert_eq!(run(&mut g, &scene(), t0 + Duration::from_millis(100)), Verdict::Skip);
        assert_eq!(run(&mut g, &scene(), t0 + Duration::from_millis(1900)), Verdict::Skip);
        assert_eq!(run(&mut g, &scene(), t0 + Duration::from_secs(2)), Verdict::Run(Why::Refresh));
        assert_eq!(run(&mut g, &scene(), t0 + Duration::from_millis(2100)), Verdict::Skip);
        // A rule counting frames: the model runs whatever the picture.
        let thumbnail = Thumbnail::of(&scene());
        assert_eq!(g.check(&thumbnail, t0 + Duration::from_millis(2200), false), Verdict::Run(Why::Unsettled));
        // Another frame size starts again.
        let small = RgbImage::from_pixel(80, 60, Rgb([9, 9, 9]));
        assert_eq!(run(&mut g, &small, t0 + Duration::from_millis(2300)), Verdict::Run(Why::First));
    }

    #[test]
    fn a_small_change_in_a_zone_runs_the_model_and_outside_every_zone_it_does_not() {
        // The zone: the left half of the frame.
        let mut g = gate(vec![zone(&[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]])]);
        let t0 = Instant::now();
        run(&mut g, &scene(), t0);
        // An 8×8-pixel object (a quarter of a cell) on the right: skipped.
        let right = with_box(scene(), 130, 60, 8, 8);
        assert_eq!(run(&mut g, &right, t0 + Duration::from_millis(100)), Verdict::Skip);
        // The same object on the left, in the zone: the model runs.
        let left = with_box(scene(), 30, 60, 8, 8);
        assert_eq!(run(&mut g, &left, t0 + Duration::from_millis(200)), Verdict::Run(Why::Zone));
        // Compared with the frame the model last ran on: moving away again is a change too.
        assert_eq!(run(&mut g, &scene(), t0 + Duration::from_millis(300)), Verdict::Run(Why::Zone));
        // A cell the zone only grazes counts: the zone's edge at x = 0.5 is the cell border
        // at 80 px; a zone to 0.51 takes a pixel column of the cell to its right.
        let mut g = gate(vec![zone(&[[0.0, 0.0], [0.51, 0.0], [0.51, 1.0], [0.0, 1.0]])]);
        run(&mut g, &scene(), t0);
        let edge = with_box(scene(), 88, 60, 8, 8);
        assert_eq!(run(&mut g, &edge, t0 + Duration::from_millis(100)), Verdict::Run(Why::Zone));
    }

    #[test]
    fn a_large_change_outside_the_zones_runs_the_model() {
        let mut g = gate(vec![zone(&[[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1]])]);
        let t0 = Instant::now();
        run(&mut g, &scene(), t0);
        // The light dims by a quarter everywhere but the zone's corner.
        let mut dim = scene();
        for (x, y, p) in dim.enumerate_pixels_mut() {
            if x >= 32 || y >= 32 {
                p.0 = p.0.map(|c| (f32::from(c) * 0.75) as u8);
            }
        }
        assert_eq!(run(&mut g, &dim, t0 + Duration::from_millis(100)), Verdict::Run(Why::Area));
        // An object over 4 of the 80 cells (5 %, `area`), none of them in the zone.
        let big = with_box(dim.clone(), 96, 64, 32, 32);
        assert_eq!(run(&mut g, &big, t0 + Duration::from_millis(200)), Verdict::Run(Why::Area));
        // Over 3 cells (3.75 %): skipped.
        let mut g = gate(vec![zone(&[[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1]])]);
        run(&mut g, &dim, t0);
        let smaller = with_box(dim.clone(), 96, 64, 48, 16);
        assert_eq!(run(&mut g, &smaller, t0 + Duration::from_millis(100)), Verdict::Skip);
    }

    #[test]
    fn sensor_noise_is_no_change_and_does_not_hide_one() {
        let mut g = gate(vec![zone(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])]);
        let t0 = Instant::now();
        let clean = scene();
        run(&mut g, &noisy(&clean, 3.0, 1), t0);
        for i in 1..20 {
            let at = t0 + Duration::from_millis(50 * i);
            assert_eq!(run(&mut g, &noisy(&clean, 3.0, i + 1), at), Verdict::Skip, "frame {i}");
        }
        let object = with_box(clean, 40, 40, 8, 8);
        assert_eq!(run(&mut g, &noisy(&object, 3.0, 99), t0 + Duration::from_secs(1)), Verdict::Run(Why::Zone));
    }

    #[test]
    fn a_rule_whose_zone_cannot_be_resolved_makes_every_cell_a_zone_cell() {
        let mut g = gate(vec![zone(&[[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1]]), None]);
        let t0 = Instant::now();
        run(&mut g, &scene(), t0);
        let far = with_box(scene(), 130, 90, 8, 8);
        assert_eq!(run(&mut g, &far, t0 + Duration::from_millis(100)), Verdict::Run(Why::Zone));
    }
}
