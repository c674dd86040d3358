//! Number formatting and the few numeric helpers shared by metrics and labels.

/// A number in its shortest round-trip form without a trailing `.0`: `2`, `0.9`, `2.5`.
/// Rust's `Display` for f64 already prints the shortest digits that read back to the same value.
pub fn fmt_num(x: f64) -> String {
    format!("{x}")
}

/// The median of `values` (sorted here by exact f64 order); the mean of the two middle values
/// for an even count. `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The mean, summing in the given order. `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for &v in values {
        sum += v;
    }
    Some(sum / values.len() as f64)
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
        assert_eq!(mean(&[1.0, 2.0]), Some(1.5));
        assert_eq!(mean(&[]), None);
    }
}
