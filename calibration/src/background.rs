//! The empty scene as the depth model sees it, and what it lets the daemon undo of the model's
//! errors on each frame.
//!
//! - [`Background::from_frames`]: from K aligned frames of the empty scene (what `dinoedge
//!   calibrate` records), per pixel the median depth and its **spread**: how far the model's
//!   depth there moves from frame to frame once each frame is locked (1.4826 × the median
//!   absolute deviation; known from [`MIN_SPREAD_FRAMES`] frames on).
//! - [`Background::lock`]: a monocular model's depth is off by a scale that changes with the
//!   picture and by errors that vary smoothly over it. Most of a frame is the empty scene, whose
//!   depth is known: per region of the frame ([`LOCK_CELLS`] × [`LOCK_CELLS`] cells), the
//!   median ratio of the frame's depth to the background over the pixels that agree with it
//!   (within [`AGREE`] after the frame's overall ratio) is the model's error there; the frame is
//!   divided by that field (bilinear between the cells' centres; a cell with too few agreeing
//!   pixels takes its neighbours'). Exact depth is left as it is. A frame is not locked when
//!   less than a third of it agrees with the background, or its overall ratio is off by more
//!   than [`MAX_SCALE_ERROR`]: something filling the view is not a scale error to divide out.
//! - [`Background::nearer`]: a pixel stands out of the empty scene when it is nearer than the
//!   background by more than [`SPREADS`] spreads, and by more than a floor in metres; it is
//!   not the empty scene itself when nearer by more than [`NOT_BACKGROUND_SPREADS`].

use ndarray::Array2;

/// The frames' depth is locked on a grid of this many cells each way.
pub const LOCK_CELLS: usize = 8;
/// A pixel agrees with the background when its ratio to it is within this of the frame's.
pub const AGREE: f64 = 0.1;
/// A cell is locked on its own pixels when at least this share of them agree.
const MIN_AGREEING: f64 = 0.25;
/// A frame is locked when its overall ratio to the background is within this of 1 (a larger
/// one is no model's scale error but something filling the view) …
pub const MAX_SCALE_ERROR: f64 = 0.3;
/// … and at least this share of its pixels agree with the background.
const MIN_FRAME_AGREEING: f64 = 0.3;
/// The lock reads every `STRIDE`-th pixel each way.
const STRIDE: usize = 2;
/// Frames of the empty scene `dinoedge calibrate` records (its page keeps the newest this many,
/// and it warns with fewer). The spread's own error shrinks as one over the root of the count
/// (about a third of it from 10 frames, a fifth from 30), and where it is too small a patch of
/// the empty scene stands out: with 10, geometry alone started falsely under errors that 30
/// rode out (BENCHMARKS.md, "Alarms under a depth model's errors").
pub const CALIBRATION_FRAMES: usize = 30;
/// A spread is known from this many frames of the empty scene on.
pub const MIN_SPREAD_FRAMES: usize = 3;
/// A pixel stands out of the background when nearer by more than this many spreads …
pub const SPREADS: f32 = 3.0;
/// … and is not the background itself when nearer by more than this many (a pixel of a class
/// a rule counts, which a class map can give the wall behind an object's border).
pub const NOT_BACKGROUND_SPREADS: f32 = 1.0;

/// The empty scene: per pixel its depth (metres, 0 = unknown) and, when enough frames were
/// recorded, its spread (metres).
#[derive(Debug, Clone, PartialEq)]
pub struct Background {
    pub depth: Array2<f32>,
    pub spread: Option<Array2<f32>>,
}

impl Background {
    /// From aligned frames of the empty scene (at least one, all of one size): each frame's
    /// overall scale is divided out against their per-pixel median, the median of those is the
    /// reference each frame is then locked to (region by region), and the background is the
    /// median of the locked frames, with their spread from [`MIN_SPREAD_FRAMES`] frames on.
    /// (A model's scale moves most from frame to frame: left in, it would make the median's
    /// error follow whichever frames are in the middle at each pixel.)
    pub fn from_frames(mut frames: Vec<Array2<f32>>) -> Background {
        let first = median(&frames);
        for f in &mut frames {
            if let Some(r) = overall_ratio(f, &first) {
                f.mapv_inplace(|d| (f64::from(d) / r) as f32);
            }
        }
        let reference = Background { depth: median(&frames), spread: None };
        for f in &mut frames {
            reference.lock(f);
        }
        let depth = median(&frames);
        let spread = (frames.len() >= MIN_SPREAD_FRAMES).then(|| {
            Array2::from_shape_fn(depth.dim(), |i| {
                if depth[i] <= 0.0 {
                    return 0.0;
                }
                let mut deviations: Vec<f32> =
                    frames.iter().filter(|f| f[i] > 0.0).map(|f| (f[i] - depth[i]).abs()).collect();
                1.4826 * middle(&mut deviations)
            })
        });
        Background { depth, spread }
    }

    /// Divides `depth` (the background's size) by the model's error the empty scene shows in
    /// it, region by region. Returns the frame's overall ratio to the background, or `None`
    /// (nothing changed) when the frame cannot be locked: it is not the background's size, too
    /// little of it agrees with the background, or the ratio is too far from 1 to be a scale
    /// error.
    pub fn lock(&self, depth: &mut Array2<f32>) -> Option<f64> {
        if depth.dim() != self.depth.dim() {
            return None;
        }
        let (h, w) = depth.dim();
        let mut all = ratios(depth, &self.depth);
        if all.len() < LOCK_CELLS * LOCK_CELLS {
            return None;
        }
        let overall = middle_f64(&mut all);
        let agreeing = all.iter().filter(|r| (*r / overall - 1.0).abs() < AGREE).count();
        if (overall - 1.0).abs() > MAX_SCALE_ERROR || (agreeing as f64) < MIN_FRAME_AGREEING * all.len() as f64 {
            return None;
        }
        let mut cells = Array2::<Option<f64>>::from_elem((LOCK_CELLS, LOCK_CELLS), None);
        for cy in 0..LOCK_CELLS {
            for cx in 0..LOCK_CELLS {
                let (ys, xs) =
                    (cy * h / LOCK_CELLS..(cy + 1) * h / LOCK_CELLS, cx * w / LOCK_CELLS..(cx + 1) * w / LOCK_CELLS);
                let mut seen = 0usize;
                let mut agreeing: Vec<f64> = Vec::new();
                for y in ys.step_by(STRIDE) {
                    for x in xs.clone().step_by(STRIDE) {
                        if let Some(r) = ratio(depth[(y, x)], self.depth[(y, x)]) {
                            seen += 1;
                            if (r / overall - 1.0).abs() < AGREE {
                                agreeing.push(r);
                            }
                        }
                    }
                }
                if seen > 0 && agreeing.len() as f64 >= MIN_AGREEING * seen as f64 {
                    cells[(cy, cx)] = Some(middle_f64(&mut agreeing));
                }
            }
        }
        let field = fill(cells, overall);
        if field.iter().all(|&r| r == 1.0) {
            return Some(overall);
        }
        for ((y, x), d) in depth.indexed_iter_mut() {
            if *d > 0.0 {
                *d = (f64::from(*d) / bilinear(&field, (y, x), (h, w))) as f32;
            }
        }
        Some(overall)
    }

    /// Whether a pixel at flat index `i` whose depth is `d` is nearer than the background by
    /// more than `spreads` times its spread there and more than `floor_m` ([`SPREADS`] and a
    /// margin: it stands out of the empty scene; fewer, and no margin: it is not the empty
    /// scene itself). Where the background is unknown, nothing is.
    pub fn nearer(&self, i: usize, d: f32, spreads: f32, floor_m: f32) -> bool {
        let b = self.depth.as_slice().expect("contiguous")[i];
        b > 0.0 && b - d > floor_m.max(spreads * self.spread_at(i))
    }

    /// How much the model's depth of the empty scene moves from frame to frame, as a share of
    /// it: the median over the pixels of spread / depth; `None` when the spread is unknown. What
    /// `dinoedge calibrate` reports, to read the rules' figures under a model's errors by (the
    /// README's "What the rules do under a depth model's errors").
    pub fn relative_spread(&self) -> Option<f64> {
        let spread = self.spread.as_ref()?;
        let mut shares: Vec<f32> =
            self.depth.iter().zip(spread.iter()).filter(|(d, _)| **d > 0.0).map(|(d, s)| s / d).collect();
        (!shares.is_empty()).then(|| f64::from(middle(&mut shares)))
    }

    /// The spread at flat index `i` (0 when unknown).
    pub fn spread_at(&self, i: usize) -> f32 {
        self.spread.as_ref().map_or(0.0, |s| s.as_slice().expect("contiguous")[i])
    }
}

/// The ratios of `depth` to `background` where both are known, at every [`STRIDE`]-th pixel.
fn ratios(depth: &Array2<f32>, background: &Array2<f32>) -> Vec<f64> {
    let (h, w) = depth.dim();
    (0..h)
        .step_by(STRIDE)
        .flat_map(|y| (0..w).step_by(STRIDE).map(move |x| (y, x)))
        .filter_map(|i| ratio(depth[i], background[i]))
        .collect()
}

/// A depth's ratio to the background's where both are known.
fn ratio(d: f32, b: f32) -> Option<f64> {
    (d > 0.0 && b > 0.0).then(|| f64::from(d) / f64::from(b))
}

/// The median ratio of `depth` to `background`; `None` where they share too few pixels.
fn overall_ratio(depth: &Array2<f32>, background: &Array2<f32>) -> Option<f64> {
    let mut all = ratios(depth, background);
    (all.len() >= LOCK_CELLS * LOCK_CELLS).then(|| middle_f64(&mut all))
}

/// Each cell's ratio; a cell without one takes the mean of its neighbours' (repeatedly, out
/// from the known ones), and `overall` where none is known.
fn fill(mut cells: Array2<Option<f64>>, overall: f64) -> Array2<f64> {
    if cells.iter().all(Option::is_none) {
        return Array2::from_elem(cells.dim(), overall);
    }
    let (n, m) = cells.dim();
    while cells.iter().any(Option::is_none) {
        let before = cells.clone();
        for ((y, x), cell) in cells.indexed_iter_mut() {
            if cell.is_some() {
                continue;
            }
            let known: Vec<f64> = (y.saturating_sub(1)..(y + 2).min(n))
                .flat_map(|ny| (x.saturating_sub(1)..(x + 2).min(m)).map(move |nx| (ny, nx)))
                .filter_map(|c| before[c])
                .collect();
            if !known.is_empty() {
                *cell = Some(known.iter().sum::<f64>() / known.len() as f64);
            }
        }
    }
    cells.mapv(|c| c.expect("every cell filled"))
}

/// The field of cell values at pixel (y, x) of a [h, w] frame: bilinear between the cells'
/// centres, flat beyond the outer centres.
fn bilinear(field: &Array2<f64>, (y, x): (usize, usize), (h, w): (usize, usize)) -> f64 {
    let (n, m) = field.dim();
    let at = |p: usize, size: usize, cells: usize| {
        let g = ((p as f64 + 0.5) / size as f64 * cells as f64 - 0.5).clamp(0.0, (cells - 1) as f64);
        let lo = (g as usize).min(cells.saturating_sub(2));
        (lo, (lo + 1).min(cells - 1), g - lo as f64)
    };
    let ((y0, y1, fy), (x0, x1, fx)) = (at(y, h, n), at(x, w, m));
    let top = field[(y0, x0)] * (1.0 - fx) + field[(y0, x1)] * fx;
    let bottom = field[(y1, x0)] * (1.0 - fx) + field[(y1, x1)] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// The per-pixel median of `frames` over their positive values (0 where none).
fn median(frames: &[Array2<f32>]) -> Array2<f32> {
    let mut values = Vec::with_capacity(frames.len());
    Array2::from_shape_fn(frames[0].dim(), |i| {
        values.clear();
        values.extend(frames.iter().map(|f| f[i]).filter(|d| *d > 0.0));
        if values.is_empty() { 0.0 } else { middle(&mut values) }
    })
}

/// The median of `values`: the upper middle of an even count; 0 when empty.
fn middle(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

fn middle_f64(values: &mut [f64]) -> f64 {
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 48x64 empty scene sloping from 4 m (bottom) to 12 m (top).
    fn scene() -> Array2<f32> {
        Array2::from_shape_fn((48, 64), |(y, _)| 12.0 - 8.0 * y as f32 / 47.0)
    }

    #[test]
    fn exact_depth_is_left_as_it_is() {
        let background = Background::from_frames(vec![scene(), scene(), scene()]);
        assert_eq!(background.depth, scene());
        assert_eq!(background.spread, Some(Array2::zeros((48, 64))));
        let mut frame = scene();
        frame.slice_mut(ndarray::s![30..40, 20..30]).fill(3.0);
        let before = frame.clone();
        assert_eq!(background.lock(&mut frame), Some(1.0));
        assert_eq!(frame, before);
    }

    #[test]
    fn a_frames_scale_and_smooth_error_are_undone_and_an_object_is_kept() {
        let background = Background { depth: scene(), spread: None };
        // The model reads 8 % far, and 6 % more towards the right, smoothly; an object stands
        // 2 m in front of the background in a corner region.
        let err = |x: usize| 1.08 * (1.0 + 0.06 * x as f64 / 63.0);
        let truth = |y: usize, x: usize| {
            let b = f64::from(scene()[(y, x)]);
            if (30..40).contains(&y) && (20..30).contains(&x) { b - 2.0 } else { b }
        };
        let mut frame = Array2::from_shape_fn((48, 64), |(y, x)| (truth(y, x) * err(x)) as f32);
        let overall = background.lock(&mut frame).unwrap();
        assert!((overall - 1.08 * 1.03).abs() < 0.01, "{overall}");
        for ((y, x), d) in frame.indexed_iter() {
            let rel = (f64::from(*d) / truth(y, x) - 1.0).abs();
            assert!(rel < 0.005, "({y}, {x}): {d} against {}", truth(y, x));
        }
    }

    /// `frames` frames of [`scene`] whose every pixel moves by 1 % (a normal draw: the sum of
    /// twelve uniform ones, less six), from a fixed seed.
    fn moving(frames: usize) -> Vec<Array2<f32>> {
        let mut seed = 11u64;
        let mut uniform = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..frames)
            .map(|_| {
                Array2::from_shape_fn((48, 64), |i| {
                    let normal = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
                    (f64::from(scene()[i]) * (1.0 + 0.01 * normal)) as f32
                })
            })
            .collect()
    }

    /// The share of the pixels whose spread from `frames` is within a third of the 1 % they move.
    fn within_a_third(frames: usize) -> f32 {
        let background = Background::from_frames(moving(frames));
        let spread = background.spread.unwrap();
        let good =
            spread.indexed_iter().filter(|((y, x), s)| (**s / (0.01 * scene()[(*y, *x)]) - 1.0).abs() < 1.0 / 3.0);
        good.count() as f32 / spread.len() as f32
    }

    #[test]
    fn the_calibrations_frames_tell_four_spreads_in_five_within_a_third() {
        // Where a spread comes out low, the empty scene stands out on a noisy frame: the
        // frames a calibration records must tell it closely at most pixels (10 did not: about
        // three in five, and geometry alone started falsely at the dock face, BENCHMARKS.md).
        let share = within_a_third(CALIBRATION_FRAMES);
        assert!(share > 0.8, "{CALIBRATION_FRAMES} frames: {share} of the spreads within a third");
        let few = within_a_third(10);
        assert!(few < 0.7, "10 frames: {few} of the spreads within a third: the test cannot tell");
    }

    #[test]
    fn the_spread_is_how_much_the_locked_frames_move() {
        // 25 frames whose scale jumps by ±10 % and whose every pixel moves by 1 % (a normal
        // draw: the sum of twelve uniform ones, less six): the scale is locked away, the
        // pixels' own movement stays.
        let mut seed = 7u64;
        let mut uniform = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let frames: Vec<Array2<f32>> = (0..25)
            .map(|k| {
                let scale = [1.0, 1.1, 0.9][k % 3];
                Array2::from_shape_fn((48, 64), |i| {
                    let normal = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
                    (f64::from(scene()[i]) * scale * (1.0 + 0.01 * normal)) as f32
                })
            })
            .collect();
        let background = Background::from_frames(frames.clone());
        let spread = background.spread.as_ref().unwrap();
        let ratios: Vec<f32> = spread.indexed_iter().map(|((y, x), s)| s / (0.01 * scene()[(y, x)])).collect();
        let mean = ratios.iter().sum::<f32>() / ratios.len() as f32;
        assert!((mean - 1.0).abs() < 0.05, "the spread is {mean} times the pixels' 1 %, on average");
        let within = ratios.iter().filter(|r| (0.5..1.5).contains(*r)).count() as f32 / ratios.len() as f32;
        assert!(within > 0.9, "{within} of the pixels' spreads within 50 % of their 1 % (25 frames)");
        let relative = background.relative_spread().unwrap();
        assert!((relative - 0.01).abs() < 0.001, "the depth moves by {relative} of itself, not 1 %");
        // Nearer by more than three spreads stands out; by more than one, it is not the
        // background; by less, or under the floor, neither.
        let i = 10 * 64 + 5;
        let (b, s) = (background.depth.as_slice().unwrap()[i], spread.as_slice().unwrap()[i]);
        assert!(background.nearer(i, b - 3.5 * s, SPREADS, 0.05));
        assert!(!background.nearer(i, b - 2.5 * s, SPREADS, 0.05));
        assert!(background.nearer(i, b - 1.5 * s, NOT_BACKGROUND_SPREADS, 0.0));
        assert!(!background.nearer(i, b - 0.5 * s, NOT_BACKGROUND_SPREADS, 0.0));
        assert!(!background.nearer(i, b - 0.04, SPREADS, 0.05), "the floor");
        let two = Background::from_frames(frames[..2].to_vec());
        assert_eq!(two.spread, None, "two frames say nothing of the spread");
        assert_eq!(two.relative_spread(), None);
    }

    #[test]
    fn a_view_filled_by_something_near_is_not_taken_for_a_scale_error() {
        let background = Background { depth: scene(), spread: None };
        let mut frame = Array2::from_elem((48, 64), 1.0f32);
        assert_eq!(background.lock(&mut frame), None);
        assert_eq!(frame, Array2::from_elem((48, 64), 1.0f32), "left as it is");
        let unknown = Background { depth: Array2::zeros((48, 64)), spread: None };
        assert_eq!(unknown.lock(&mut scene()), None);
    }
}
