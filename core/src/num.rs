//! Number formatting and the few numeric helpers shared by metrics and labels.

/// A number in its shortest round-trip form without a trailing `.0`: `2`, `0.9`, `2.5`.
/// Rust's `Display` for f64 already prints the shortest digits that read back to the same value.
pub fn fmt_num(x: f64) -> String {
    format!("{x}")
}

/// The median of `values` by exact f64 order (`total_cmp`); the mean of the two middle values
/// for an even count. `None` when empty. The values are reordered (selected, not sorted: the
/// middle values are the same bits a sort would put there, since `total_cmp` is a total order
/// in which only identical bit patterns tie).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    Some(if n % 2 == 1 {
        upper
    } else {
        // The lower middle value is the largest of those placed before the upper one.
        let lower = below
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .expect("an even count of at least 2");
        (lower + upper) / 2.0
    })
}

/// The mean, summing in the given order. `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    mean_of(values.iter().copied())
}

/// [`mean`] of values as they come, without collecting them.
pub fn mean_of(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut count) = (0.0, 0usize);
    for v in values {
        sum += v;
        count += 1;
    }
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_and_medians() {
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(0.9), "0.9");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(48.0), "48");
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        // Selection gives the bits a sort by total order would: -0 sorts before +0, NaN last.
        assert_eq!(
            median(&mut [0.0, -0.0]).map(f64::to_bits),
            Some(0.0f64.to_bits())
        );
        assert_eq!(
            median(&mut [0.0, -0.0, -0.0]).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(median(&mut [f64::NAN, 1.0, 5.0]), Some(5.0));
        let mut rng = crate::splitmix::SplitMix64::new(9);
        for n in 1..60 {
            let mut v: Vec<f64> = (0..n).map(|_| (rng.below(7) as f64 - 3.0) * 0.5).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let want = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            };
            assert_eq!(
                median(&mut v).map(f64::to_bits),
                Some(want.to_bits()),
                "n = {n}"
            );
        }
        assert_eq!(mean(&[1.0, 2.0]), Some(1.5));
        assert_eq!(mean(&[]), None);
    }
}
