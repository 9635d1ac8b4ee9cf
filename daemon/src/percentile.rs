//! Percentiles by nearest rank, the one rule the daemon's statistics use: the `p`-th
//! percentile of n values is the value of rank round(p/100 · (n − 1)) in ascending order, so 0
//! is the smallest and 100 the largest. The timing statistics (median, 95th) take it.

/// The `p`-th percentile (0 to 100) of `values`, which it reorders; `None` when empty.
pub fn nearest_rank(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    let (_, v, _) = values.select_nth_unstable_by(rank, f64::total_cmp);
    Some(*v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_rounded_from_p_times_n_minus_one() {
        let mut values: Vec<f64> = (1..=101).rev().map(f64::from).collect();
        assert_eq!(nearest_rank(&mut values, 5.0), Some(6.0));
        assert_eq!(nearest_rank(&mut values, 0.0), Some(1.0));
        assert_eq!(nearest_rank(&mut values, 100.0), Some(101.0));
        let mut four = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(nearest_rank(&mut four, 50.0), Some(3.0), "rank round(1.5) = 2");
        assert_eq!(nearest_rank(&mut [], 50.0), None);
    }
}
