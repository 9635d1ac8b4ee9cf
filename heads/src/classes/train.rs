//! Fitting a class head: softmax regression of each patch's class shares on its features.
//!
//! **Loss**: cross-entropy against the patch's shares (soft targets: a patch half forklift and
//! half floor wants both), weighted by how much of the patch is labelled, plus L2 on the
//! weights. **Conditioning**: the features are standardised (per-feature mean and spread of
//! the training patches) while fitting, and the standardisation folded into the weights after,
//! so the head stays one linear layer on the raw features. **Optimiser**: full-batch Adam from
//! zero weights and the log class prior as bias, a fixed number of steps (a few hundred: the
//! problem is convex, and seconds on a box with the site's few labelled frames).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::Serialize;

use super::{CLASSES, ClassHead};
use crate::head::linear::HeadLayers;
use dinoedge_config::ObjectClass;

#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    pub steps: usize,
    pub learning_rate: f32,
    /// L2 on the (standardised) weights.
    pub weight_decay: f32,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self { steps: 300, learning_rate: 0.05, weight_decay: 1e-4 }
    }
}

/// The loss at the start and at the end of fitting.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FitReport {
    pub initial_loss: f64,
    pub final_loss: f64,
    pub patches: usize,
}

/// A linear layer to class logits: `weight` [CLASSES, F], `bias` [CLASSES].
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

impl Linear {
    /// Logits [N, CLASSES] of the rows of `x` [N, F].
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        x.dot(&self.weight.t()) + &self.bias
    }

    /// The most likely class of each row of `x` [N, F].
    pub fn predict(&self, x: ArrayView2<f32>) -> Vec<ObjectClass> {
        argmax(&self.logits(x))
    }

    /// As a class head on the backbone's features of `layers`.
    pub fn head(self, layers: HeadLayers) -> ClassHead {
        ClassHead { layers, weight: self.weight, bias: self.bias }
    }
}

/// The class of the largest logit of each row of `logits` [N, CLASSES].
pub fn argmax(logits: &Array2<f32>) -> Vec<ObjectClass> {
    logits
        .rows()
        .into_iter()
        .map(|r| ObjectClass::ALL[(0..CLASSES).max_by(|&a, &b| r[a].total_cmp(&r[b])).expect("classes")])
        .collect()
}

/// Fits a linear layer to rows `features` [N, F] and their `shares` [N, CLASSES] (rows that
/// sum to the labelled share of the patch; all-zero rows are ignored).
pub fn fit(features: ArrayView2<f32>, shares: ArrayView2<f32>, options: FitOptions) -> (Linear, FitReport) {
    let (n, f) = features.dim();
    let mean = features.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(f));
    let spread = features.var_axis(Axis(0), 0.0).mapv(|v| v.sqrt().max(1e-6));
    let x = (&features - &mean) / &spread;
    let weights = shares.sum_axis(Axis(1));
    let total: f32 = weights.sum().max(1e-12);
    // Targets normalised per row; the row's weight carries how much was labelled.
    let targets =
        Array2::from_shape_fn((n, CLASSES), |(i, k)| if weights[i] > 0.0 { shares[[i, k]] / weights[i] } else { 0.0 });
    let prior = shares.sum_axis(Axis(0)) / total;
    let mut w = Array2::<f32>::zeros((CLASSES, f));
    let mut b = prior.mapv(|p| p.max(1e-4).ln());
    let (mut mw, mut vw) = (Array2::<f32>::zeros((CLASSES, f)), Array2::<f32>::zeros((CLASSES, f)));
    let (mut mb, mut vb) = (Array1::<f32>::zeros(CLASSES), Array1::<f32>::zeros(CLASSES));
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let loss_and_grad = |w: &Array2<f32>, b: &Array1<f32>| {
        let mut p = x.dot(&w.t()) + b;
        let mut loss = 0.0f64;
        for (i, mut row) in p.rows_mut().into_iter().enumerate() {
            let max = row.fold(f32::NEG_INFINITY, |m, v| m.max(*v));
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row.mapv_inplace(|v| v / sum);
            if weights[i] > 0.0 {
                loss -= (0..CLASSES).map(|k| (targets[[i, k]] * row[k].max(1e-12).ln()) as f64).sum::<f64>()
                    * weights[i] as f64;
            }
        }
        // dL/dlogits = weight · (p − t) / total.
        let g = Array2::from_shape_fn((n, CLASSES), |(i, k)| weights[i] * (p[[i, k]] - targets[[i, k]]) / total);
        (loss / total as f64, g.t().dot(&x), g.sum_axis(Axis(0)))
    };
    let (initial_loss, _, _) = loss_and_grad(&w, &b);
    for step in 1..=options.steps {
        let (_, gw, gb) = loss_and_grad(&w, &b);
        let gw = gw + &(&w * options.weight_decay);
        let (c1, c2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
        mw = mw * beta1 + &(&gw * (1.0 - beta1));
        vw = vw * beta2 + &(gw.mapv(|g| g * g) * (1.0 - beta2));
        mb = mb * beta1 + &(&gb * (1.0 - beta1));
        vb = vb * beta2 + &(gb.mapv(|g| g * g) * (1.0 - beta2));
        w -= &(Array2::from_shape_fn((CLASSES, f), |(k, j)| {
            options.learning_rate * (mw[[k, j]] / c1) / ((vw[[k, j]] / c2).sqrt() + eps)
        }));
        b -= &(Array1::from_shape_fn(CLASSES, |k| options.learning_rate * (mb[k] / c1) / ((vb[k] / c2).sqrt() + eps)));
    }
    let (final_loss, _, _) = loss_and_grad(&w, &b);
    // Fold the standardisation in: w·(x − μ)/σ + b = (w/σ)·x + (b − (w/σ)·μ).
    let weight = &w / &spread;
    let bias = &b - &weight.dot(&mean);
    let report = FitReport { initial_loss, final_loss, patches: weights.iter().filter(|w| **w > 0.0).count() };
    (Linear { weight, bias }, report)
}

/// Per class: intersection over union, precision and recall of a prediction against labels
/// (entries where the label is `None` are left out); `None` where the class is in neither.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassScores {
    pub class: ObjectClass,
    pub iou: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    /// Labelled entries of the class.
    pub support: u64,
}

pub fn scores(predicted: &[ObjectClass], labels: &[Option<ObjectClass>]) -> Vec<ClassScores> {
    let mut confusion = [[0u64; CLASSES]; CLASSES];
    for (p, l) in predicted.iter().zip(labels) {
        if let Some(l) = l {
            confusion[l.index() as usize][p.index() as usize] += 1;
        }
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    ObjectClass::ALL
        .into_iter()
        .enumerate()
        .map(|(k, class)| {
            let hit = confusion[k][k];
            let labelled: u64 = confusion[k].iter().sum();
            let said: u64 = (0..CLASSES).map(|l| confusion[l][k]).sum();
            ClassScores {
                class,
                iou: ratio(hit, labelled + said - hit),
                precision: ratio(hit, said),
                recall: ratio(hit, labelled),
                support: labelled,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectClass::{Floor, Forklift, Person};

    #[test]
    fn a_separable_problem_is_learned_and_scored_exactly() {
        // Feature 0 says forklift (+) or person (−), with an offset and scale the
        // standardisation must undo; feature 1 is noise. Half the rows are unlabelled.
        let n = 200;
        let features = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 { 100.0 + if i % 2 == 0 { 5.0 } else { -5.0 } } else { ((i * 7919) % 13) as f32 }
        });
        let shares = Array2::from_shape_fn((n, CLASSES), |(i, k)| {
            let class = if i % 2 == 0 { Forklift } else { Person };
            if i % 4 < 2 && k == class.index() as usize { 1.0 } else { 0.0 }
        });
        let (linear, report) = fit(features.view(), shares.view(), FitOptions::default());
        assert!(report.final_loss < 0.05 * report.initial_loss, "{report:?}");
        assert_eq!(report.patches, n / 2);
        let predicted = linear.predict(features.view());
        let truth: Vec<Option<ObjectClass>> =
            (0..n).map(|i| Some(if i % 2 == 0 { Forklift } else { Person })).collect();
        let s = scores(&predicted, &truth);
        assert_eq!((s[0].iou, s[1].iou), (Some(1.0), Some(1.0)), "on the unlabelled rows too");
        assert_eq!(s[Floor.index() as usize].iou, None);
    }

    #[test]
    fn scores_count_the_confusion() {
        let predicted = [Forklift, Forklift, Person, Floor];
        let labels = [Some(Forklift), Some(Person), Some(Person), None];
        let s = scores(&predicted, &labels);
        // Forklift: 1 hit, 1 false alarm: IoU 1/2, precision 1/2, recall 1.
        assert_eq!((s[0].iou, s[0].precision, s[0].recall, s[0].support), (Some(0.5), Some(0.5), Some(1.0), 1));
        // Person: 1 hit, 1 miss: IoU 1/2, precision 1, recall 1/2.
        assert_eq!((s[1].iou, s[1].precision, s[1].recall), (Some(0.5), Some(1.0), Some(0.5)));
    }
}
