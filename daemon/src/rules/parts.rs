//! An object's distance from its nearest part, whatever the size of the rest of it.
//!
//! A rule's candidate pixels (in its zone, of its classes or standing out of the empty scene)
//! are grouped into **parts**. Two 8-neighbours' depths agree when they differ by at most
//! [`LINK`] of the nearer, plus the background's spread where the calibration knows it. A
//! candidate with fewer than [`SUPPORT`] candidate neighbours that agree with it is dropped
//! first: a **flying pixel**, which a depth model smears along an object's border with a depth
//! between the object's and the scene's behind it, agrees with neither side, and without
//! support such pixels cannot chain an object's part out towards the wall behind it. The
//! supported candidates that agree with each other are one part; a part smaller than
//! [`MIN_PART_SHARE`] of the frame ([`min_part`]) is noise (a stray pixel, a border pixel
//! given the wrong class). Of the
//! parts that are kept, the distance is the nearest: in each part the [`NEAR_RANK`]-th
//! smallest value (so that one or two wrong pixels in a part do not decide), and the least of
//! those over the parts.
//!
//! So fork tines a few dozen pixels wide count as much as the body they belong to, where a low
//! percentile of all the object's pixels would read the body: the tines are too few for it.

/// Parts smaller than this share of the frame are noise (12 pixels of a 640 × 480 frame, 36 of
/// a 1280 × 720 one: a depth model's errors are as large in pixels as its output is upsampled) …
pub const MIN_PART_SHARE: f64 = 12.0 / (640.0 * 480.0);
/// … and parts of fewer pixels than this, at any frame size.
pub const MIN_PART_PIXELS: usize = 4;

/// The fewest pixels a part of a `width` × `height` frame has.
pub fn min_part(width: usize, height: usize) -> usize {
    ((MIN_PART_SHARE * (width * height) as f64).round() as usize).max(MIN_PART_PIXELS)
}
/// A part's distance is its value of this rank (0: the least) …
pub const NEAR_RANK: usize = 2;
/// … among its pixels' values. Two neighbours' depths agree when they differ by at most this
/// share of the nearer one (a surface seen at a grazing angle changes by under 1 % a pixel) …
pub const LINK: f32 = 0.03;
/// … plus this many times the larger of their spreads (how much the model's depth moves
/// there from frame to frame).
pub const LINK_SPREADS: f32 = 2.0;
/// A candidate needs this many agreeing candidate neighbours to count (a fork tine two pixels
/// wide has three or more along it).
pub const SUPPORT: usize = 2;

/// The candidate pixels of a zone grouped into parts of at least [`min_part`] pixels.
pub struct Parts {
    /// Each kept part's pixels, as flat row-major indices.
    pub parts: Vec<Vec<usize>>,
}

impl Parts {
    /// Groups `candidates` (flat indices of a frame `width` pixels wide, in row-major order)
    /// into parts of at least `min_part` pixels; `agree(a, b)` says whether two neighbouring
    /// candidates' depths agree.
    pub fn of(candidates: &[usize], width: usize, min_part: usize, agree: impl Fn(usize, usize) -> bool) -> Parts {
        let Some(&last) = candidates.last() else { return Parts { parts: Vec::new() } };
        // Where each candidate sits in `candidates`, by pixel: u32::MAX for none.
        let mut slot = vec![u32::MAX; last + 1];
        for (k, &i) in candidates.iter().enumerate() {
            slot[i] = k as u32;
        }
        let neighbours = |i: usize| {
            let (x, y) = (i % width, i / width);
            let rows = [y.checked_sub(1), Some(y), Some(y + 1)];
            let columns = [x.checked_sub(1), Some(x), (x + 1 < width).then_some(x + 1)];
            rows.into_iter()
                .flatten()
                .flat_map(move |ny| columns.into_iter().flatten().map(move |nx| ny * width + nx))
                .filter(move |&j| j != i)
        };
        let candidate = |j: usize| slot.get(j).is_some_and(|&k| k != u32::MAX);
        let supported: Vec<bool> = candidates
            .iter()
            .map(|&i| neighbours(i).filter(|&j| candidate(j) && agree(i, j)).count() >= SUPPORT)
            .collect();
        let mut parent: Vec<u32> = (0..candidates.len() as u32).collect();
        for (k, &i) in candidates.iter().enumerate() {
            if !supported[k] {
                continue;
            }
            // The neighbours seen before this pixel (the row above, and the left one) are enough
            // to join every pair once.
            for j in neighbours(i).filter(|&j| j < i && candidate(j)) {
                let other = slot[j];
                if supported[other as usize] && agree(i, j) {
                    union(&mut parent, k as u32, other);
                }
            }
        }
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); candidates.len()];
        for (k, &i) in candidates.iter().enumerate() {
            if supported[k] {
                let root = find(&mut parent, k as u32);
                members[root as usize].push(i);
            }
        }
        Parts { parts: members.into_iter().filter(|m| m.len() >= min_part).collect() }
    }

    /// The nearest value: in each part the [`NEAR_RANK`]-th smallest of `value` over its
    /// pixels, and the least of those; `None` without a part.
    pub fn nearest(&self, value: impl Fn(usize) -> f64) -> Option<f64> {
        self.parts.iter().filter_map(|part| near(part.iter().map(|&i| value(i)))).min_by(f64::total_cmp)
    }

    /// Every kept part's pixels together.
    pub fn pixels(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().flatten().copied()
    }
}

/// The [`NEAR_RANK`]-th smallest of `values` (the largest when there are fewer); `None` when
/// empty.
pub fn near(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut least = [f64::INFINITY; NEAR_RANK + 1];
    let mut n = 0usize;
    for v in values {
        n += 1;
        if v < least[NEAR_RANK] {
            least[NEAR_RANK] = v;
            least.sort_by(f64::total_cmp);
        }
    }
    (n > 0).then(|| least[NEAR_RANK.min(n - 1)])
}

fn find(parent: &mut [u32], mut k: u32) -> u32 {
    while parent[k as usize] != k {
        parent[k as usize] = parent[parent[k as usize] as usize];
        k = parent[k as usize];
    }
    k
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb) as usize] = ra.min(rb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates of a picture drawn in characters (`#` a candidate, its row and column
    /// its place), with each candidate's depth the digit after it or 1.
    fn drawn(rows: &[&str]) -> (Vec<usize>, usize) {
        let width = rows[0].len();
        let candidates = rows
            .iter()
            .enumerate()
            .flat_map(|(y, row)| row.match_indices('#').map(move |(x, _)| y * width + x))
            .collect();
        (candidates, width)
    }

    #[test]
    fn parts_are_8_connected_and_small_ones_and_unsupported_pixels_are_noise() {
        let (candidates, width) =
            drawn(&["##........#.", "##.........#", "..#.........", "...######...", "...######...", "............"]);
        // The 2x2 block, the diagonal pixel and the 2x6 bar touch diagonally: one part of 17.
        // The two pixels at the right touch each other only: a part of 2, noise.
        let parts = Parts::of(&candidates, width, 12, |_, _| true);
        assert_eq!(parts.parts.len(), 1);
        assert_eq!(parts.parts[0].len(), 17);
        assert!(!parts.pixels().any(|i| i == 10 || i == 23));
    }

    #[test]
    fn neighbours_whose_depths_disagree_are_not_one_part() {
        let (candidates, width) = drawn(&["############", "############"]);
        let depth = |i: usize| if i % width < 6 { 2.0 } else { 9.0 };
        let agree = |a: usize, b: usize| depth(a) == depth(b);
        let parts = Parts::of(&candidates, width, 12, agree);
        assert_eq!(parts.parts.len(), 2, "two parts of 12: the near half and the far half");
        assert_eq!(Parts::of(&candidates[..20], width, 12, agree).parts.len(), 1, "12 and 8: the 8 are noise");
    }

    #[test]
    fn the_nearest_part_decides_whatever_the_size_of_the_others() {
        // A body of 600 pixels at 3 m and, linked to it, a thin tine two pixels wide and 14
        // long, reaching to 1 m: a low percentile of all 628 would read the body; the near
        // point reads the tine, whose two tip pixels are at 1 m, the next two at 1.14 m.
        let width = 100;
        let body: Vec<usize> = (0..6).flat_map(|y| (0..100).map(move |x| y * width + x)).collect();
        let tine: Vec<usize> = (6..20).flat_map(|y| [y * width + 50, y * width + 51]).collect();
        let candidates: Vec<usize> = body.iter().chain(&tine).copied().collect();
        let value = |i: usize| if i / width < 6 { 3.0 } else { 3.0 - (i / width - 5) as f64 / 7.0 };
        let parts = Parts::of(&candidates, width, 12, |_, _| true);
        assert_eq!(parts.parts.len(), 1);
        let nearest = parts.nearest(value).unwrap();
        assert!((nearest - value(18 * width + 50)).abs() < 1e-12, "the third nearest tine pixel: {nearest}");
        // Two wrong pixels in a part do not decide it.
        let wrong = |i: usize| if i == 3 || i == 5 { 0.0 } else { value(i) };
        assert_eq!(parts.nearest(wrong), Some(value(19 * width + 50)), "two pixels at 0 m do not decide: the tip does");
    }

    #[test]
    fn a_flying_pixel_chain_cannot_pull_a_part_towards_the_wall() {
        // A block at 5 m before a wall at 9 m, and along its right border a column of pixels
        // that a model smeared, each somewhere between the two and none agreeing with a
        // neighbour (the nearest to the wall 0.5 m from it): they are not part of the block,
        // and a low rank of the block's values with them would read 0.9 m.
        let width = 20;
        let smeared: [f64; 10] = [8.1, 5.6, 7.2, 6.0, 8.5, 6.6, 7.8, 5.9, 8.3, 6.9];
        let depth = |i: usize| match i % width {
            0..10 => 5.0,
            10 => smeared[i / width],
            _ => 9.0,
        };
        let candidates: Vec<usize> = (0..10).flat_map(|y| (0..11).map(move |x| y * width + x)).collect();
        let agree = |a: usize, b: usize| (depth(a) - depth(b)).abs() <= 0.45;
        let parts = Parts::of(&candidates, width, 12, agree);
        assert_eq!(parts.parts.len(), 1);
        assert_eq!(parts.parts[0].len(), 100, "the block alone");
        assert_eq!(parts.nearest(|i| 9.0 - depth(i)), Some(4.0), "the block is 4 m from the wall");
    }

    #[test]
    fn the_smallest_part_is_a_share_of_the_frame() {
        assert_eq!((min_part(640, 480), min_part(1280, 720), min_part(320, 240), min_part(64, 48)), (12, 36, 4, 4));
    }

    #[test]
    fn near_is_the_third_smallest_or_the_largest_of_fewer() {
        assert_eq!(near([5.0, 1.0, 4.0, 2.0, 3.0].into_iter()), Some(3.0));
        assert_eq!(near([5.0, 1.0].into_iter()), Some(5.0));
        assert_eq!(near(std::iter::empty()), None);
    }
}
