//! The benchmark's data: deterministic memecoin-like calls and 1-minute candles, and the
//! standard grid of policies. Nothing here reads a clock or the environment.

use quantbot_core::data::{Call, Candle};
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::store::Series;

/// The benchmark's generator (SplitMix64, shared with the tests).
pub use quantbot_core::splitmix::SplitMix64 as Rng;

/// A memecoin-like 1-minute path: noisy drift with occasional pumps and rugs.
fn path(rng: &mut Rng, n: usize, start: i64) -> Vec<Candle> {
    let mut out = Vec::with_capacity(n);
    let mut price = 0.0001 + rng.unit() * 0.01;
    let drift = (rng.unit() - 0.55) * 0.004;
    for i in 0..n {
        let open = price;
        let mut step = 1.0 + drift + (rng.unit() - 0.5) * 0.06;
        let r = rng.unit();
        if r < 0.004 {
            step *= 1.3 + rng.unit();
        } else if r < 0.006 {
            step *= 0.3 + rng.unit() * 0.4;
        }
        let close = (open * step).max(1e-12);
        let high = open.max(close) * (1.0 + rng.unit() * 0.03);
        let low = open.min(close) * (1.0 - rng.unit() * 0.03);
        out.push(Candle {
            ts: start + 60 * i as i64,
            open,
            high,
            low,
            close,
            volume: rng.unit() * 1000.0,
        });
        price = close;
    }
    out
}

/// Calls (one token each, ten minutes apart, callers in rotation) and their windows.
#[derive(Debug)]
pub struct Workload {
    pub calls: Vec<Call>,
    /// Each call's candles, held compact as the engine reads them.
    pub paths: Vec<Series>,
    /// Bytes the paths took with their volumes, as built (before any was let go).
    pub bytes_with_volumes: usize,
}

impl Workload {
    /// `n_calls` calls from `n_callers` callers, `candles` 1-minute candles per call. The first
    /// `k` calls of a workload are the same for every `n_calls ≥ k`.
    pub fn new(n_calls: usize, n_callers: usize, candles: usize) -> Workload {
        Workload::build(n_calls, n_callers, candles, true)
    }

    /// [`Workload::new`] held as the engine holds candles for a grid that reads prices only
    /// (the standard grid: no indicator rule): each path lets its volumes go as soon as it is
    /// built, so they are never all held at once.
    pub fn prices_only(n_calls: usize, n_callers: usize, candles: usize) -> Workload {
        Workload::build(n_calls, n_callers, candles, false)
    }

    fn build(n_calls: usize, n_callers: usize, candles: usize, volumes: bool) -> Workload {
        let mut rng = Rng::new(20_251_125);
        let mut calls = Vec::with_capacity(n_calls);
        let mut paths = Vec::with_capacity(n_calls);
        let mut bytes_with_volumes = 0;
        for k in 0..n_calls {
            let start = 1_746_057_600 + 600 * k as i64;
            calls.push(Call {
                call_id: format!("b{k:06}"),
                caller: format!("caller{:02}", k % n_callers),
                chain: "solana".into(),
                mint: format!("mint{k:06}"),
                alert_ts_ms: start * 1000,
                price_at_alert: None,
            });
            let mut series = Series::new(&path(&mut rng, candles, start));
            bytes_with_volumes += series.bytes();
            if !volumes {
                series.drop_volume();
            }
            paths.push(series);
        }
        Workload {
            calls,
            paths,
            bytes_with_volumes,
        }
    }

    pub fn candles(&self) -> usize {
        self.paths.iter().map(Series::len).sum()
    }
}

/// The standard grid, 20 tp × 20 sl × 5 trailing × 5 hold = 10,000 policies; `scale` 4 keeps
/// every fourth tp and sl value's count (5 × 5 × 5 × 5 = 625).
pub fn standard_grid(scale: usize) -> Grid {
    Grid::new(standard_spec(scale), 48.0).expect("a valid grid")
}

/// The indicator dimension of issue 9's benchmark: off and the four rules.
pub const INDICATORS: [Option<&str>; 5] = [
    None,
    Some("ema_cross:9:21"),
    Some("rsi_below:14:70"),
    Some("tk_cross:9:26"),
    Some("vol_spike:30:4"),
];

/// The standard grid with the indicator dimension [`INDICATORS`] added: 5× the policies.
pub fn indicator_grid(scale: usize) -> Grid {
    let mut spec = standard_spec(scale);
    spec.indicator = INDICATORS
        .iter()
        .map(|r| r.map(|t| t.parse().expect("a valid rule")))
        .collect();
    Grid::new(spec, 48.0).expect("a valid grid")
}

fn standard_spec(scale: usize) -> GridSpec {
    let tp: Vec<Option<f64>> = (0..20 / scale)
        .map(|i| Some(1.2 + 0.2 * i as f64))
        .collect();
    let sl: Vec<Option<f64>> = (0..20 / scale)
        .map(|i| Some(0.5 + 0.025 * i as f64))
        .collect();
    GridSpec {
        tp,
        sl,
        trail: vec![None, Some(0.1), Some(0.2), Some(0.3), Some(0.4)],
        max_hold: vec![6.0, 12.0, 24.0, 36.0, 48.0],
        ..GridSpec::default()
    }
}
