//! A run in parts (`--memory-budget`): when the candles of every selected call would not fit
//! the budget, the callers are split, in byte order, into parts that do, and each part is
//! loaded, prepared, searched and let go before the next. A caller is never split (its search
//! needs all its calls), so a single caller larger than the budget is a part of its own. The
//! results are the same bytes whatever the parts (each caller's search reads only its own
//! calls; the grouped wallet runs once at the end over every part's offers).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Bytes a call's window costs per candle while its part is held: the compact candle store,
/// the search's per-call preparation, and the loader's buffers. Measured on the demo data
/// (2,963 calls, 8.1 M candles, `--timings`): peak RSS 246 MB over 8.5 M window candles is
/// 29 bytes, of which about 8 MB is the binary and its libraries.
pub const BYTES_PER_WINDOW_CANDLE: u64 = 28;

/// The default `--memory-budget`, in MB.
pub const DEFAULT_BUDGET_MB: u64 = 1024;

/// One part: `None` for the whole selection (one part), else its callers.
pub type Part = Option<Arc<BTreeSet<String>>>;

/// Splits callers (byte order, with the calls each would load) into parts of at most
/// `budget_bytes`, counting `window_candles` candles a call. One part (`[None]`) when all fit.
pub fn plan(
    calls_per_caller: &BTreeMap<String, u64>,
    window_candles: u64,
    budget_bytes: u64,
) -> Vec<Part> {
    let cost = |calls: u64| {
        calls
            .saturating_mul(window_candles)
            .saturating_mul(BYTES_PER_WINDOW_CANDLE)
    };
    let total = calls_per_caller
        .values()
        .fold(0u64, |a, &c| a.saturating_add(cost(c)));
    if total <= budget_bytes {
        return vec![None];
    }
    let mut parts = Vec::new();
    let mut part = BTreeSet::new();
    let mut held = 0u64;
    for (caller, &calls) in calls_per_caller {
        let c = cost(calls);
        if !part.is_empty() && held.saturating_add(c) > budget_bytes {
            parts.push(Some(Arc::new(std::mem::take(&mut part))));
            held = 0;
        }
        part.insert(caller.clone());
        held = held.saturating_add(c);
    }
    if !part.is_empty() {
        parts.push(Some(Arc::new(part)));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callers(counts: &[(&str, u64)]) -> BTreeMap<String, u64> {
        counts.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    fn names(parts: &[Part]) -> Vec<Vec<String>> {
        parts
            .iter()
            .map(|p| {
                p.as_ref()
                    .map_or(vec!["*".into()], |s| s.iter().cloned().collect())
            })
            .collect()
    }

    #[test]
    fn callers_are_split_in_byte_order_within_the_budget() {
        let per = callers(&[("b", 3), ("a", 2), ("c", 4), ("d", 1)]);
        // 10 calls × 1 candle × 28 bytes: everything fits 280 bytes, one part with no filter.
        assert_eq!(names(&plan(&per, 1, 280)), [["*"]]);
        // 5 calls a part: a+b (5), c+d (5).
        assert_eq!(
            names(&plan(&per, 1, 5 * BYTES_PER_WINDOW_CANDLE)),
            [vec!["a", "b"], vec!["c", "d"]]
        );
        // 3 calls a part: a (2; b would make 5), b (3), c alone although over (4), d (1).
        assert_eq!(
            names(&plan(&per, 1, 3 * BYTES_PER_WINDOW_CANDLE)),
            [vec!["a"], vec!["b"], vec!["c"], vec!["d"]]
        );
        // Every caller in exactly one part, whatever the budget.
        for budget in 0..400 {
            let parts = plan(&per, 1, budget);
            let all: Vec<String> = names(&parts).concat();
            assert!(
                all == ["*"] || all == ["a", "b", "c", "d"],
                "{budget}: {all:?}"
            );
        }
    }
}
