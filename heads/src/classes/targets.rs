//! What a class head learns per patch: the share of the patch's pixels of each class (the
//! patch's rectangle of the frame, which the stretch resize maps onto it). Unlabelled pixels
//! count in the share's denominator, so a half-labelled patch weighs half in training.

use ndarray::Array2;

use super::CLASSES;
use dinoedge_config::ObjectClass;

/// [rows · cols, CLASSES]: each patch's share of pixels per class, patches row-major.
pub fn patch_shares(labels: &Array2<Option<ObjectClass>>, rows: usize, cols: usize) -> Array2<f32> {
    let (h, w) = labels.dim();
    let mut out = Array2::zeros((rows * cols, CLASSES));
    for r in 0..rows {
        let (y0, y1) = (r * h / rows, ((r + 1) * h / rows).max(r * h / rows + 1).min(h));
        for c in 0..cols {
            let (x0, x1) = (c * w / cols, ((c + 1) * w / cols).max(c * w / cols + 1).min(w));
            let total = ((y1 - y0) * (x1 - x0)) as f32;
            for y in y0..y1 {
                for x in x0..x1 {
                    if let Some(class) = labels[[y, x]] {
                        out[[r * cols + c, class.index() as usize]] += 1.0 / total;
                    }
                }
            }
        }
    }
    out
}

/// The class with the largest share of each patch, `None` where no pixel is labelled.
pub fn majority(shares: &Array2<f32>) -> Vec<Option<ObjectClass>> {
    shares
        .rows()
        .into_iter()
        .map(|row| {
            let (best, share) = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("classes");
            (*share > 0.0).then_some(ObjectClass::ALL[best])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectClass::{Floor, Forklift};

    #[test]
    fn shares_count_each_patchs_pixels_and_leave_unlabelled_ones_out() {
        // 2x4 frame, 1x2 patches: the left patch 3 forklift + 1 floor, the right 1 floor + 3 unlabelled.
        let labels = ndarray::arr2(&[
            [Some(Forklift), Some(Forklift), Some(Floor), None],
            [Some(Forklift), Some(Floor), None, None],
        ]);
        let shares = patch_shares(&labels, 1, 2);
        assert_eq!(shares[[0, Forklift.index() as usize]], 0.75);
        assert_eq!(shares[[0, Floor.index() as usize]], 0.25);
        assert_eq!(shares.row(1).sum(), 0.25);
        assert_eq!(majority(&shares), [Some(Forklift), Some(Floor)]);
        assert_eq!(majority(&Array2::zeros((1, CLASSES))), [None]);
    }
}
