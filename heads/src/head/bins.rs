//! Depth bins: K bin centres over [min, max] metres, uniformly or logarithmically spaced;
//! a pixel's depth is the softmax-weighted sum of the centres given its K logits.

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinSpacing {
    Uniform,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub min: f32,
    pub max: f32,
    pub count: usize,
    pub spacing: BinSpacing,
}

impl Bins {
    /// Checks the range and count; the error says what is wrong.
    pub fn new(min: f32, max: f32, count: usize, spacing: BinSpacing) -> Result<Self, String> {
        if !(min.is_finite() && max.is_finite() && min > 0.0 && max > min) {
            return Err(format!("depth range {min}..{max} m: expected 0 < min < max"));
        }
        if count < 2 {
            return Err(format!("{count} bins: expected at least 2"));
        }
        Ok(Self { min, max, count, spacing })
    }

    /// The centre of each bin, increasing.
    pub fn centers(&self) -> Vec<f32> {
        let k = self.count as f64;
        (0..self.count)
            .map(|i| {
                let t = (i as f64 + 0.5) / k;
                match self.spacing {
                    BinSpacing::Uniform => self.min as f64 + t * (self.max - self.min) as f64,
                    BinSpacing::Log => {
                        ((self.min as f64).ln() + t * ((self.max as f64).ln() - (self.min as f64).ln())).exp()
                    }
                }
            })
            .map(|c| c as f32)
            .collect()
    }

    /// Softmax of `logits` into `probabilities` (same length); numerically stable.
    pub fn softmax(logits: ArrayView1<f32>, probabilities: &mut [f32]) {
        let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (p, l) in probabilities.iter_mut().zip(logits.iter()) {
            *p = (l - max).exp();
            sum += *p;
        }
        probabilities.iter_mut().for_each(|p| *p /= sum);
    }

    /// The depth the logits say: Σ softmax(logits)ₖ · centreₖ.
    pub fn decode(logits: ArrayView1<f32>, centers: &[f32], scratch: &mut [f32]) -> f32 {
        Self::softmax(logits, scratch);
        scratch.iter().zip(centers).map(|(p, c)| p * c).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn decoding_matches_a_hand_computed_example() {
        // Two uniform bins over [1, 5] m: centres 2 and 4. Logits 0 and ln 3: probabilities 1/4, 3/4.
        let bins = Bins::new(1.0, 5.0, 2, BinSpacing::Uniform).unwrap();
        let centers = bins.centers();
        assert_eq!(centers, vec![2.0, 4.0]);
        let depth = Bins::decode(array![0.0f32, 3f32.ln()].view(), &centers, &mut [0.0; 2]);
        assert!((depth - (0.25 * 2.0 + 0.75 * 4.0)).abs() < 1e-6, "{depth}");
        // Large logits do not overflow.
        let depth = Bins::decode(array![1000.0f32, 0.0].view(), &centers, &mut [0.0; 2]);
        assert!((depth - 2.0).abs() < 1e-6);
    }

    #[test]
    fn log_bins_are_geometric() {
        let centers = Bins::new(1.0, 100.0, 2, BinSpacing::Log).unwrap().centers();
        assert!((centers[0] - 10f32.powf(0.5)).abs() < 1e-4 && (centers[1] - 10f32.powf(1.5)).abs() < 1e-3);
        assert!(Bins::new(0.0, 10.0, 256, BinSpacing::Log).is_err());
        assert!(Bins::new(5.0, 1.0, 256, BinSpacing::Uniform).is_err());
    }
}
