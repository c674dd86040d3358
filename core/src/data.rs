//! Calls and candles (SPEC §1) and the candle validity rules of SPEC §8.

use thiserror::Error;

/// One alert of a caller. `alert_ts_ms` is UTC epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub call_id: String,
    pub caller: String,
    pub chain: String,
    pub mint: String,
    pub alert_ts_ms: i64,
    pub price_at_alert: Option<f64>,
}

/// One OHLCV bar. `ts` is the bar's open time in UTC epoch **seconds**.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub ts: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// Why a run of candles is invalid (SPEC §8). `row` is the position inside the slice checked.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CandleError {
    #[error("candle {row} (ts {ts}): column {column} is not a finite positive price ({value})")]
    BadPrice {
        row: usize,
        ts: i64,
        column: &'static str,
        value: f64,
    },
    #[error("candle {row} (ts {ts}): high {high} is below max(open, close)")]
    HighBelowBody { row: usize, ts: i64, high: f64 },
    #[error("candle {row} (ts {ts}): low {low} is above min(open, close)")]
    LowAboveBody { row: usize, ts: i64, low: f64 },
    #[error("candle {row} (ts {ts}): timestamps are not strictly increasing (previous {prev})")]
    NotIncreasing { row: usize, ts: i64, prev: i64 },
    #[error(
        "candle {row} (ts {ts}): spacing {gap} s is not a multiple of the interval {interval_s} s"
    )]
    BadSpacing {
        row: usize,
        ts: i64,
        gap: i64,
        interval_s: i64,
    },
    #[error("candle {row}: ts {ts} is not a time in seconds within ±2^42 (about 139,000 years)")]
    BadTime { row: usize, ts: i64 },
}

/// The largest candle time in seconds, either side of 1970, that the engine accepts: its
/// milliseconds plus any horizon or time stop stay far inside `i64`.
pub const MAX_TS_S: i64 = 1 << 42;

impl Candle {
    /// Checks the candle alone: finite positive prices and a body inside the range.
    pub fn check(&self, row: usize) -> Result<(), CandleError> {
        if !(-MAX_TS_S..=MAX_TS_S).contains(&self.ts) {
            return Err(CandleError::BadTime { row, ts: self.ts });
        }
        for (column, value) in [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", self.close),
        ] {
            // `!(value > 0.0)` also catches NaN.
            if !value.is_finite() || value <= 0.0 {
                return Err(CandleError::BadPrice {
                    row,
                    ts: self.ts,
                    column,
                    value,
                });
            }
        }
        if self.high < self.open.max(self.close) {
            return Err(CandleError::HighBelowBody {
                row,
                ts: self.ts,
                high: self.high,
            });
        }
        if self.low > self.open.min(self.close) {
            return Err(CandleError::LowAboveBody {
                row,
                ts: self.ts,
                low: self.low,
            });
        }
        Ok(())
    }
}

/// Validates a run of one token's candles (SPEC §8): every candle alone, timestamps strictly
/// increasing, and every spacing a multiple of `interval_s`.
pub fn validate_candles(candles: &[Candle], interval_s: i64) -> Result<(), CandleError> {
    for (row, c) in candles.iter().enumerate() {
        c.check(row)?;
        if row > 0 {
            let prev = candles[row - 1].ts;
            if c.ts <= prev {
                return Err(CandleError::NotIncreasing {
                    row,
                    ts: c.ts,
                    prev,
                });
            }
            let gap = c.ts - prev;
            // The usual spacing, one interval, needs no division.
            if interval_s <= 0 || (gap != interval_s && gap % interval_s != 0) {
                return Err(CandleError::BadSpacing {
                    row,
                    ts: c.ts,
                    gap,
                    interval_s,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ts: i64, o: f64, h: f64, l: f64, cl: f64) -> Candle {
        Candle {
            ts,
            open: o,
            high: h,
            low: l,
            close: cl,
            volume: 1.0,
        }
    }

    fn check(candles: &[Candle], expected: Result<(), &str>) {
        let got = validate_candles(candles, 60).map_err(|e| e.to_string());
        match (got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(g), Err(want)) => assert!(g.contains(want), "{g:?} does not mention {want:?}"),
            (g, want) => panic!("got {g:?}, expected {want:?}"),
        }
    }

    #[test]
    fn validity_rules() {
        check(
            &[c(0, 1.0, 2.0, 0.5, 1.5), c(120, 1.5, 1.6, 1.4, 1.5)],
            Ok(()),
        );
        check(&[c(0, 1.0, 2.0, 0.5, f64::NAN)], Err("column close"));
        check(&[c(0, 0.0, 2.0, 0.5, 1.0)], Err("column open"));
        check(&[c(0, 1.0, 1.2, -0.5, 1.0)], Err("column low"));
        check(&[c(0, 1.0, 1.2, 0.5, f64::INFINITY)], Err("column close"));
        check(&[c(0, 1.0, 1.2, 0.5, 1.3)], Err("high 1.2 is below"));
        check(&[c(0, 1.0, 1.2, 1.1, 1.05)], Err("low 1.1 is above"));
        check(
            &[c(60, 1.0, 1.0, 1.0, 1.0), c(60, 1.0, 1.0, 1.0, 1.0)],
            Err("strictly increasing"),
        );
        check(
            &[c(60, 1.0, 1.0, 1.0, 1.0), c(90, 1.0, 1.0, 1.0, 1.0)],
            Err("not a multiple"),
        );
        // A time whose milliseconds would overflow (found by the dataset fuzz target).
        check(&[c(MAX_TS_S, 1.0, 1.0, 1.0, 1.0)], Ok(()));
        check(&[c(MAX_TS_S + 60, 1.0, 1.0, 1.0, 1.0)], Err("within ±2^42"));
        check(&[c(i64::MIN, 1.0, 1.0, 1.0, 1.0)], Err("within ±2^42"));
    }
}
