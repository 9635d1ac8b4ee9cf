//! Training a linear head on frozen features.
//!
//! **Loss**: the mean squared error of log depth, (ln d̂ − ln d)², over valid patches, with
//! d̂ the softmax-weighted bin centres. Chosen because the head must be metric as it stands
//! (a scale-invariant loss would leave its scale free) and errors should count relative to
//! the distance (10 cm matters at 1 m, not at 15 m); it is SILog with λ = 0. Gradients are
//! exact: ∂L/∂zₖ = 2 (ln d̂ − ln d) / d̂ · pₖ (cₖ − d̂).
//!
//! **Initialiser**: a ridge regression of log depth on the features (solved with nalgebra's Cholesky),
//! turned into bin logits exactly: a Gaussian bump in log depth around the prediction ŷ,
//! zₖ = −(ln cₖ − ŷ)² / 2σ², is linear in ŷ up to a term softmax ignores, hence linear in
//! the features. **Optimiser**: Adam on shuffled minibatches, L2 weight decay, early
//! stopping on the validation loss, keeping the best epoch.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::bins::Bins;
use super::linear::{HeadLayers, LinearHead};
use super::pixels::PixelBaseline;
use super::ridge::ridge_log_depth;
use crate::data::is_valid;
use crate::head::features::PatchFrame;

#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub layers: HeadLayers,
    pub bins: Bins,
    pub max_epochs: usize,
    /// Patches per minibatch.
    pub batch: usize,
    pub learning_rate: f32,
    pub weight_decay: f32,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    pub seed: u64,
    /// Ridge strength of the initialiser, relative to the mean feature energy.
    pub ridge: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
}

#[derive(Debug, Clone)]
pub struct TrainResult {
    pub head: LinearHead,
    /// Validation loss of the ridge initialiser, before any epoch.
    pub init_val_loss: f64,
    pub epochs: Vec<EpochReport>,
    pub best_epoch: usize,
    /// Median of the training targets, metres (the median baseline).
    pub train_median_m: f32,
    pub train_patches: usize,
    pub val_patches: usize,
    /// The pixel baseline fitted on the same training patches.
    pub pixel_baseline: PixelBaseline,
}

/// The valid (features, target) rows of frames, stacked.
pub fn stack(frames: &[PatchFrame]) -> (Array2<f32>, Array1<f32>) {
    stack_by(frames, |f| &f.features)
}

/// The valid rows of one per-patch matrix of frames (`of`), with their targets.
pub fn stack_by(frames: &[PatchFrame], of: impl Fn(&PatchFrame) -> &Array2<f32>) -> (Array2<f32>, Array1<f32>) {
    let f = frames.first().map_or(0, |fr| of(fr).ncols());
    let rows: Vec<(usize, usize)> = frames
        .iter()
        .enumerate()
        .flat_map(|(i, fr)| fr.target.iter().enumerate().filter(|(_, t)| is_valid(**t)).map(move |(j, _)| (i, j)))
        .collect();
    let mut x = Array2::zeros((rows.len(), f));
    let mut y = Array1::zeros(rows.len());
    for (r, (i, j)) in rows.iter().enumerate() {
        x.row_mut(r).assign(&of(&frames[*i]).row(*j));
        y[r] = frames[*i].target[*j];
    }
    (x, y)
}

/// Mean (ln d̂ − ln d)² of a head over rows.
pub fn loss(head: &LinearHead, x: ArrayView2<f32>, y: ArrayView1<f32>) -> f64 {
    let mut total = 0.0;
    for start in (0..x.nrows()).step_by(8192) {
        let end = (start + 8192).min(x.nrows());
        let d = head.depth_of_features(x.slice(s![start..end, ..]));
        total += d
            .iter()
            .zip(y.slice(s![start..end]))
            .map(|(p, t)| ((*p as f64).ln() - (*t as f64).ln()).powi(2))
            .sum::<f64>();
    }
    total / x.nrows().max(1) as f64
}

/// The ridge-regression initialiser (see the module doc).
pub fn ridge_init(x: ArrayView2<f32>, y: ArrayView1<f32>, layers: HeadLayers, bins: Bins, ridge: f64) -> LinearHead {
    let f = x.ncols();
    let (w, offset) = ridge_log_depth(x, y, ridge);
    let offset = offset as f64;
    // zₖ = aₖ ŷ + bₖ with aₖ = ln cₖ / σ², bₖ = −(ln cₖ)² / 2σ²; σ: 1.5 mean log-bin widths.
    let log_centers: Vec<f64> = bins.centers().iter().map(|c| (*c as f64).ln()).collect();
    let sigma = 1.5 * ((bins.max as f64).ln() - (bins.min as f64).ln()) / bins.count as f64;
    let mut head = LinearHead::zeros(layers, bins, 0);
    head.weight =
        Array2::from_shape_fn((bins.count, f), |(k, j)| (log_centers[k] / (sigma * sigma) * w[j] as f64) as f32);
    head.bias = Array1::from_shape_fn(bins.count, |k| {
        let a = log_centers[k] / (sigma * sigma);
        (a * offset - log_centers[k].powi(2) / (2.0 * sigma * sigma)) as f32
    });
    head
}

/// One minibatch's loss and gradients (weight [K, F], bias [K]).
fn gradients(
    head: &LinearHead,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    centers: &[f32],
) -> (f64, Array2<f32>, Array1<f32>) {
    let b = x.nrows();
    let mut g = head.logits(x); // becomes ∂L/∂z
    let mut loss = 0.0;
    let mut probabilities = vec![0.0f32; centers.len()];
    for (mut row, &target) in g.rows_mut().into_iter().zip(y) {
        Bins::softmax(row.view(), &mut probabilities);
        let d: f32 = probabilities.iter().zip(centers).map(|(p, c)| p * c).sum();
        let r = d.ln() - target.ln();
        loss += (r as f64).powi(2);
        let scale = 2.0 * r / (d * b as f32);
        for ((z, p), c) in row.iter_mut().zip(&probabilities).zip(centers) {
            *z = scale * p * (c - d);
        }
    }
    let weight = g.t().dot(&x);
    let bias = g.sum_axis(Axis(0));
    (loss / b as f64, weight, bias)
}

/// Adam's moments for one tensor.
struct Adam<D: ndarray::Dimension> {
    m: ndarray::Array<f32, D>,
    v: ndarray::Array<f32, D>,
}

impl<D: ndarray::Dimension> Adam<D> {
    fn new(like: &ndarray::Array<f32, D>) -> Self {
        Self { m: ndarray::Array::zeros(like.raw_dim()), v: ndarray::Array::zeros(like.raw_dim()) }
    }

    fn step(&mut self, param: &mut ndarray::Array<f32, D>, grad: &ndarray::Array<f32, D>, lr: f32, t: i32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        let (c1, c2) = (1.0 - B1.powi(t), 1.0 - B2.powi(t));
        ndarray::Zip::from(param).and(&mut self.m).and(&mut self.v).and(grad).for_each(|p, m, v, g| {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        });
    }
}

/// Trains a head; `progress` hears about each epoch. `None` when there is no valid target.
pub fn train(
    train: &[PatchFrame],
    val: &[PatchFrame],
    options: &TrainOptions,
    progress: &mut dyn FnMut(&EpochReport),
) -> Option<TrainResult> {
    let (x, y) = stack(train);
    let (xv, yv) = stack(val);
    if y.is_empty() || yv.is_empty() {
        return None;
    }
    let mut sorted = y.to_vec();
    sorted.sort_by(f32::total_cmp);
    let train_median_m = sorted[sorted.len() / 2];
    let mut head = ridge_init(x.view(), y.view(), options.layers, options.bins, options.ridge);
    let init_val_loss = loss(&head, xv.view(), yv.view());
    let (mut best, mut best_loss, mut best_epoch) = (head.clone(), init_val_loss, 0);
    let centers = options.bins.centers();
    let (mut adam_w, mut adam_b) = (Adam::new(&head.weight), Adam::new(&head.bias));
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    let mut epochs = Vec::new();
    let mut step = 0;
    for epoch in 1..=options.max_epochs {
        order.shuffle(&mut rng);
        let mut train_loss = 0.0;
        for chunk in order.chunks(options.batch.max(1)) {
            let xb = x.select(Axis(0), chunk);
            let yb = y.select(Axis(0), chunk);
            let (l, mut gw, gb) = gradients(&head, xb.view(), yb.view(), &centers);
            gw.scaled_add(2.0 * options.weight_decay, &head.weight);
            step += 1;
            adam_w.step(&mut head.weight, &gw, options.learning_rate, step);
            adam_b.step(&mut head.bias, &gb, options.learning_rate, step);
            train_loss += l * chunk.len() as f64;
        }
        let report = EpochReport {
            epoch,
            train_loss: train_loss / x.nrows() as f64,
            val_loss: loss(&head, xv.view(), yv.view()),
        };
        progress(&report);
        epochs.push(report);
        if report.val_loss < best_loss {
            (best, best_loss, best_epoch) = (head.clone(), report.val_loss, epoch);
        } else if epoch - best_epoch >= options.patience {
            break;
        }
    }
    let (pixels, depth) = stack_by(train, |f| &f.pixels);
    let pixel_baseline = PixelBaseline::fit(pixels.view(), depth.view(), options.ridge);
    Some(TrainResult {
        pixel_baseline,
        head: best,
        init_val_loss,
        epochs,
        best_epoch,
        train_median_m,
        train_patches: x.nrows(),
        val_patches: xv.nrows(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::bins::BinSpacing;

    /// Frames whose 4 features carry the log depth linearly, plus noise features.
    fn frames(count: usize, seed: u64) -> Vec<PatchFrame> {
        use rand::RngExt;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..count)
            .map(|i| {
                let target: Array1<f32> = (0..16).map(|_| rng.random_range(0.8f32..12.0)).collect();
                let features = Array2::from_shape_fn((16, 4), |(n, j)| match j {
                    0 => target[n].ln(),
                    1 => 1.0,
                    _ => rng.random_range(-1.0f32..1.0),
                });
                let mut target = target;
                target[0] = 0.0; // an invalid patch: never a target
                let pixels = features.clone();
                PatchFrame { name: format!("{i}"), features, target, pixels }
            })
            .collect()
    }

    fn options() -> TrainOptions {
        TrainOptions {
            layers: HeadLayers::One,
            bins: Bins::new(0.5, 20.0, 64, BinSpacing::Log).unwrap(),
            max_epochs: 40,
            batch: 64,
            learning_rate: 0.01,
            weight_decay: 0.0,
            patience: 5,
            seed: 3,
            ridge: 1e-6,
        }
    }

    #[test]
    fn invalid_targets_are_left_out() {
        let (x, y) = stack(&frames(3, 1));
        assert_eq!((x.nrows(), y.len()), (3 * 15, 3 * 15));
        assert!(y.iter().all(|d| *d > 0.0));
    }

    #[test]
    fn the_ridge_initialiser_already_predicts_log_depth() {
        let (x, y) = stack(&frames(20, 1));
        let head = ridge_init(x.view(), y.view(), HeadLayers::One, options().bins, 1e-6);
        let l = loss(&head, x.view(), y.view());
        assert!(l < 0.01, "log-MSE {l}: within about 10 % of the depth");
    }

    #[test]
    fn training_lowers_the_validation_loss_from_a_poor_start() {
        let (train_set, val_set) = (frames(40, 1), frames(10, 2));
        // A weak start (heavy ridge) so that the epochs have something to do.
        let options = TrainOptions { ridge: 10.0, ..options() };
        let mut seen = 0;
        let result = train(&train_set, &val_set, &options, &mut |_| seen += 1).unwrap();
        assert!(seen >= 1 && result.epochs.len() == seen);
        let best = result.epochs.iter().map(|e| e.val_loss).fold(f64::INFINITY, f64::min);
        assert!(best < 0.5 * result.init_val_loss, "validation loss {} → {best}", result.init_val_loss);
        assert!(loss(&result.head, stack(&val_set).0.view(), stack(&val_set).1.view()) <= result.init_val_loss);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Central differences of an f32 loss: agreement to 1 %, which a wrong factor or sign misses by far.
        let (x, y) = stack(&frames(2, 5));
        let bins = Bins::new(0.5, 20.0, 8, BinSpacing::Uniform).unwrap();
        let mut head = ridge_init(x.view(), y.view(), HeadLayers::One, bins, 1.0);
        head.weight[[3, 0]] += 0.3;
        let (_, gw, gb) = gradients(&head, x.view(), y.view(), &bins.centers());
        for (k, j) in [(3, 0), (5, 2), (0, 1)] {
            let h = 1e-3;
            let mut plus = head.clone();
            plus.weight[[k, j]] += h;
            let mut minus = head.clone();
            minus.weight[[k, j]] -= h;
            let numeric = (loss(&plus, x.view(), y.view()) - loss(&minus, x.view(), y.view())) / (2.0 * h as f64);
            assert!(
                (numeric - gw[[k, j]] as f64).abs() < 1e-2 * numeric.abs().max(1e-2),
                "w[{k},{j}]: {numeric} vs {}",
                gw[[k, j]]
            );
        }
        let mut plus = head.clone();
        plus.bias[4] += 1e-3;
        let mut minus = head.clone();
        minus.bias[4] -= 1e-3;
        let numeric = (loss(&plus, x.view(), y.view()) - loss(&minus, x.view(), y.view())) / 2e-3;
        assert!((numeric - gb[4] as f64).abs() < 1e-2 * numeric.abs().max(1e-2), "b[4]: {numeric} vs {}", gb[4]);
    }
}
