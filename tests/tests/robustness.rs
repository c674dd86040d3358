//! The robustness measures behave as a user needs them to (SPEC §13, issue 17 acceptance 2):
//! on synthetic callers of 200 calls and a 400-policy grid, a caller whose calls are pure noise
//! is almost never judged `edge`, and a caller with a real edge (calls that reach 3× with
//! probability 0.6 before any dip below 0.85) almost always is.

use quantbot_core::data::{Call, Candle};
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::optimize::{search, CallWindow, Mode, Prepared, SearchOptions};
use quantbot_core::policy::{ExecConfig, ExecParams};
use quantbot_core::robust::Verdict;
use quantbot_core::splitmix::SplitMix64;
use quantbot_core::store::Series;
use quantbot_core::wallet::WalletConfig;

const CALLS: usize = 200;
const CANDLES: usize = 600;
/// Calls of a caller arrive 3 hours apart.
const SPACING_MS: i64 = 3 * 3_600_000;

/// A price path of one-minute candles starting at 1.
fn path(rng: &mut SplitMix64, kind: Kind, start_s: i64) -> Vec<Candle> {
    // Each candle moves the close by a uniform step of ±2 %; the edge caller's calls first
    // climb (up to 3.3× over about 80 candles, never below 0.9) or first dip (to 0.8 within
    // 20 candles), then wander like noise.
    let winner = match kind {
        Kind::Noise => None,
        Kind::Edge => Some(rng.chance(0.6)),
    };
    let mut close: f64 = 1.0;
    let mut out = Vec::with_capacity(CANDLES);
    for i in 0..CANDLES {
        let open = close;
        let noise = (rng.unit() * 2.0 - 1.0) * 0.02;
        close = match winner {
            Some(true) if close < 3.3 => (close * (1.015 + noise / 2.0)).max(0.9),
            Some(false) if i < 20 => (close * (0.985 + noise / 4.0)).min(0.99),
            _ => close * (1.0 + noise),
        };
        let wick = 1.0 + rng.unit() * 0.005;
        out.push(Candle {
            ts: start_s + 60 * i as i64,
            open,
            high: open.max(close) * wick,
            low: open.min(close) / wick,
            close,
            volume: 1.0,
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Noise,
    Edge,
}

/// 10 take-profits × 8 stops × 5 time stops = 400 policies.
fn grid() -> Grid {
    let spec = GridSpec {
        tp: [1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
            .map(Some)
            .to_vec(),
        sl: [0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.95]
            .map(Some)
            .to_vec(),
        max_hold: vec![1.0, 2.0, 4.0, 6.0, 10.0],
        ..GridSpec::default()
    };
    Grid::new(spec, 10.0).expect("a valid grid")
}

/// The verdict, dsr and pbo of one synthetic caller.
fn judge(kind: Kind, seed: u64, grid: &Grid) -> (Verdict, Option<f64>, Option<f64>) {
    let mut rng = SplitMix64::new(seed);
    let calls: Vec<Call> = (0..CALLS)
        .map(|k| Call {
            call_id: format!("c{k:03}"),
            caller: format!("{kind:?}"),
            chain: "sol".into(),
            mint: format!("m{k}"),
            alert_ts_ms: 1_700_000_000_000 + k as i64 * SPACING_MS,
            price_at_alert: None,
        })
        .collect();
    let series: Vec<Series> = calls
        .iter()
        .map(|c| Series::new(&path(&mut rng, kind, c.alert_ts_ms / 1000)))
        .collect();
    let windows: Vec<CallWindow<'_>> = calls
        .iter()
        .zip(&series)
        .map(|(call, s)| CallWindow {
            call,
            candles: s.window(0..s.len()),
        })
        .collect();
    let exec = ExecConfig::new(ExecParams::default()).expect("default costs");
    let mut opts = SearchOptions::new(exec, WalletConfig::default());
    opts.mode = Mode::PerCaller;
    let prepared = Prepared::new(windows, grid, &opts.exec);
    let result = search(&prepared, grid, &opts);
    let r = result.per_caller[0]
        .robustness
        .as_ref()
        .expect("per-caller mode");
    (r.verdict, r.deflated.dsr, r.pbo)
}

#[test]
fn noise_is_not_an_edge_and_a_real_edge_is() {
    let grid = grid();
    assert_eq!(grid.size(), 400);
    let mut edges = [0, 0];
    for (k, kind) in [Kind::Noise, Kind::Edge].into_iter().enumerate() {
        for seed in 0..10u64 {
            let (verdict, dsr, pbo) = judge(kind, 0x5eed_0000 + seed, &grid);
            println!(
                "{kind:?} seed {seed}: {} dsr {dsr:?} pbo {pbo:?}",
                verdict.as_str()
            );
            edges[k] += usize::from(verdict == Verdict::Edge);
        }
    }
    assert!(
        edges[0] <= 1,
        "noise judged edge in {} of 10 seeds",
        edges[0]
    );
    assert!(
        edges[1] >= 9,
        "a real edge judged edge in only {} of 10 seeds",
        edges[1]
    );
}
