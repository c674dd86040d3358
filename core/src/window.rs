//! A call's entry candle and window (SPEC §2.2, §3.1) and the eligibility rules with their
//! exclusion reasons, tested in the SPEC's order.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::data::{validate_candles, Call, Candle};

/// How windows are cut. Durations are in milliseconds so that every comparison with
/// `ts × 1000` is exact integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSpec {
    pub interval_s: i64,
    pub horizon_ms: i64,
    pub entry_delay_candles: usize,
}

impl WindowSpec {
    /// The default 48 h horizon at the given interval, no entry delay.
    pub fn new(interval_s: i64) -> Self {
        WindowSpec {
            interval_s,
            horizon_ms: 48 * 3_600_000,
            entry_delay_candles: 0,
        }
    }
}

/// Why a call is not eligible (SPEC §2.2), in the order the reasons are tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exclusion {
    NoCandles,
    LateStart,
    InsufficientCoverage,
    InvalidCandles,
    DuplicateCall,
}

impl Exclusion {
    pub const ALL: [Exclusion; 5] = [
        Exclusion::NoCandles,
        Exclusion::LateStart,
        Exclusion::InsufficientCoverage,
        Exclusion::InvalidCandles,
        Exclusion::DuplicateCall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::NoCandles => "no_candles",
            Exclusion::LateStart => "late_start",
            Exclusion::InsufficientCoverage => "insufficient_coverage",
            Exclusion::InvalidCandles => "invalid_candles",
            Exclusion::DuplicateCall => "duplicate_call",
        }
    }
}

/// Index of the first candle with `ts × 1000 ≥ alert_ts_ms`. `candles` must be sorted by `ts`.
/// Times are not validated yet here (a window is, later): the products saturate, which keeps
/// their order, so a corrupt time far outside `MAX_TS_S` cannot overflow.
pub fn first_at_or_after(candles: &[Candle], alert_ts_ms: i64) -> Option<usize> {
    let i = candles.partition_point(|c| c.ts.saturating_mul(1000) < alert_ts_ms);
    (i < candles.len()).then_some(i)
}

/// The call's window inside `candles` (one token, sorted by `ts`): the entry candle `e` (the
/// first candle at or after the alert, moved `entry_delay_candles` further) and every later
/// candle that opens before `ts[e] + horizon`. `None` when there is no entry candle.
pub fn call_window(
    candles: &[Candle],
    alert_ts_ms: i64,
    spec: &WindowSpec,
) -> Option<Range<usize>> {
    let first = first_at_or_after(candles, alert_ts_ms)?;
    let e = first.checked_add(spec.entry_delay_candles)?;
    if e >= candles.len() {
        return None;
    }
    let end_ms = candles[e]
        .ts
        .saturating_mul(1000)
        .saturating_add(spec.horizon_ms);
    let len = candles[e..].partition_point(|c| c.ts.saturating_mul(1000) < end_ms);
    Some(e..e + len)
}

/// Eligibility of one call against its token's candles, without the duplicate rule (which
/// needs the other calls: see [`duplicate_flags`]). Returns the window on success.
pub fn classify(
    call: &Call,
    candles: &[Candle],
    spec: &WindowSpec,
    min_coverage: f64,
) -> Result<Range<usize>, Exclusion> {
    let Some(first) = first_at_or_after(candles, call.alert_ts_ms) else {
        return Err(Exclusion::NoCandles);
    };
    let Some(window) = call_window(candles, call.alert_ts_ms, spec) else {
        // The entry delay ran past the data: nothing to enter on.
        return Err(Exclusion::NoCandles);
    };
    // "Within one interval" is inclusive (SPEC §12).
    let late_ms = candles[first]
        .ts
        .saturating_mul(1000)
        .saturating_sub(call.alert_ts_ms);
    if late_ms > spec.interval_s * 1000 {
        return Err(Exclusion::LateStart);
    }
    let horizon_s = spec.horizon_ms as f64 / 1000.0;
    let needed = min_coverage * horizon_s / spec.interval_s as f64;
    if ((window.end - window.start) as f64) < needed {
        return Err(Exclusion::InsufficientCoverage);
    }
    if validate_candles(&candles[window.clone()], spec.interval_s).is_err() {
        return Err(Exclusion::InvalidCandles);
    }
    Ok(window)
}

/// For each call, whether it duplicates another row with the same caller, mint and alert
/// time and a smaller `call_id` (compared as UTF-8 bytes): of duplicates the smallest id is kept.
pub fn duplicate_flags(calls: &[Call]) -> Vec<bool> {
    let mut smallest: BTreeMap<(&str, &str, i64), &str> = BTreeMap::new();
    for c in calls {
        let key = (c.caller.as_str(), c.mint.as_str(), c.alert_ts_ms);
        smallest
            .entry(key)
            .and_modify(|id| {
                if c.call_id.as_bytes() < id.as_bytes() {
                    *id = c.call_id.as_str();
                }
            })
            .or_insert(c.call_id.as_str());
    }
    let mut seen_kept: BTreeMap<(&str, &str, i64), bool> = BTreeMap::new();
    calls
        .iter()
        .map(|c| {
            let key = (c.caller.as_str(), c.mint.as_str(), c.alert_ts_ms);
            let keep_id = smallest[&key];
            if c.call_id == keep_id {
                // Two rows with the very same id: keep the first one only.
                let seen = seen_kept.entry(key).or_insert(false);
                let dup = *seen;
                *seen = true;
                dup
            } else {
                true
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(ts: &[i64]) -> Vec<Candle> {
        ts.iter()
            .map(|&ts| Candle {
                ts,
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                volume: 0.0,
            })
            .collect()
    }

    fn call(id: &str, alert_ts_ms: i64) -> Call {
        Call {
            call_id: id.into(),
            caller: "A".into(),
            chain: "solana".into(),
            mint: "m".into(),
            alert_ts_ms,
            price_at_alert: None,
        }
    }

    fn spec(horizon_s: i64) -> WindowSpec {
        WindowSpec {
            interval_s: 60,
            horizon_ms: horizon_s * 1000,
            entry_delay_candles: 0,
        }
    }

    fn check(
        candles: &[Candle],
        alert_ms: i64,
        horizon_s: i64,
        expected: Result<Range<usize>, Exclusion>,
    ) {
        assert_eq!(
            classify(&call("c", alert_ms), candles, &spec(horizon_s), 0.8),
            expected
        );
    }

    #[test]
    fn eligibility_in_spec_order() {
        let full = bars(&(0..10).map(|i| i * 60).collect::<Vec<_>>());
        // Entry at the candle opening exactly at the alert; window of 10 candles (600 s).
        check(&full, 0, 600, Ok(0..10));
        // Alert 1 ms after a candle opens: the next candle is the entry.
        check(&full, 1, 540, Ok(1..10));
        // The first candle exactly one interval after the alert is still on time (inclusive).
        check(&full[1..], 0, 480, Ok(0..8));
        check(&full[2..], 0, 480, Err(Exclusion::LateStart));
        check(&full, 600_000, 600, Err(Exclusion::NoCandles));
        // 10 candles needed at 0.8 × 750 s / 60 s = 10: exactly enough.
        check(&full, 0, 750, Ok(0..10));
        // 0.8 × 780 / 60 = 10.4 > 10 candles.
        check(&full, 0, 780, Err(Exclusion::InsufficientCoverage));
        // A bad candle outside the window does not matter; inside it does.
        let mut bad = full.clone();
        bad[9].close = -1.0;
        check(&bad, 0, 540, Ok(0..9));
        check(&bad, 0, 600, Err(Exclusion::InvalidCandles));
    }

    #[test]
    fn entry_delay_moves_the_window() {
        let full = bars(&(0..10).map(|i| i * 60).collect::<Vec<_>>());
        let mut s = spec(180);
        s.entry_delay_candles = 2;
        assert_eq!(call_window(&full, 0, &s), Some(2..5));
        s.entry_delay_candles = 10;
        assert_eq!(call_window(&full, 0, &s), None);
    }

    #[test]
    fn duplicates_keep_the_smallest_id() {
        let mut calls = vec![call("b", 5), call("a", 5), call("c", 6), call("a", 5)];
        calls[2].mint = "other".into();
        assert_eq!(duplicate_flags(&calls), vec![true, false, false, true]);
    }
}
