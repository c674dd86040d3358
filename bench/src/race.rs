//! The Rust side of the race against vectorbt (`bench/vectorbt/race.py`): writes the calls'
//! candles and the engine's trades for a tp × sl grid in the semantics both share, and the
//! engine's time for that grid.
//!
//! Shared semantics: entry at the entry candle's open, a fixed stop loss and take profit, the
//! stop first in an ambiguous candle, no fees or slippage, and no time stop inside the data (the
//! time stop is the whole 48 h window, so an open position is valued at the last close).
//!
//! Files written (little-endian, no header; shapes in `meta.json`):
//! - `ohlc.f64`: open, high, low, close, each `[calls][candles]`;
//! - `exit_pos.i32`: exit candle position per `[call][tp][sl]` (the entry candle is 0);
//! - `gross.f64`: exit price / entry price per `[call][tp][sl]` (one fill per trade here);
//! - `meta.json`: sizes, the grid as vectorbt fractions, and the engine's time;
//! - `calls.tsv`: each call's id, caller, chain, mint and alert time (ms; its first candle is
//!   at the alert, one a minute after), for `race.py --cli`, which writes them to a DuckDB file
//!   and times the `quantbot` command line end to end on them.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::policy::{ExecConfig, ExecParams};
use quantbot_core::sim::CallPrep;
use quantbot_core::trade::Trade;

use quantbot_bench::workload::Workload;

/// Calls in the trade race (the first ones of the standard workload) and its grid's sides.
pub const CALLS: usize = 200;
const SIDE: usize = 20;

/// Which race: the trade race (200 calls × a 20 × 20 grid), or the command-line race (3,000
/// calls × a grid shaped like `backtest v1-baseline`'s default, 6 tp × 5 sl).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Race {
    Trades,
    Cli,
}

impl Race {
    fn calls(self) -> usize {
        match self {
            Race::Trades => CALLS,
            Race::Cli => 3000,
        }
    }

    /// The grid as vectorbt takes it: `tp_stop` and `sl_stop` fractions. The engine's
    /// multiples are `1 + tp_stop` and `1 − sl_stop`, chosen so that vectorbt's
    /// `entry × (1 + tp_stop)` and `entry × (1 − sl_stop)` are the very f64 products the engine
    /// computes (`P0 × tp`, `P0 × sl`): `1 + (tp − 1)` and `1 − (1 − sl)` are exact for these
    /// values (checked below).
    fn fractions(self) -> (Vec<f64>, Vec<f64>) {
        match self {
            Race::Trades => (
                (0..SIDE).map(|i| 0.2 + 0.2 * i as f64).collect(),
                (0..SIDE).map(|i| 0.025 + 0.025 * i as f64).collect(),
            ),
            Race::Cli => (
                vec![0.5, 1.0, 1.5, 2.0, 3.0, 4.0],
                vec![0.05, 0.08, 0.1, 0.12, 0.15],
            ),
        }
    }
}

fn grid(tp_stop: &[f64], sl_stop: &[f64]) -> Grid {
    let tp: Vec<Option<f64>> = tp_stop.iter().map(|f| Some(1.0 + f)).collect();
    let sl: Vec<Option<f64>> = sl_stop.iter().map(|f| Some(1.0 - f)).collect();
    for (m, f) in tp.iter().zip(tp_stop) {
        assert_eq!(1.0 + (m.unwrap() - 1.0), 1.0 + f, "tp {m:?} is not exact");
    }
    for (m, f) in sl.iter().zip(sl_stop) {
        assert_eq!(1.0 - (1.0 - m.unwrap()), 1.0 - f, "sl {m:?} is not exact");
    }
    let spec = GridSpec {
        tp,
        sl,
        trail: vec![None],
        trail_activation: vec![None],
        be_trigger: vec![None],
        ladder: vec![None],
        max_hold: vec![48.0],
        indicator: vec![None],
    };
    Grid::new(spec, 48.0).expect("a valid grid")
}

/// Every (call, policy) trade of the race on one thread, precomputation included.
fn run(w: &Workload, exec: &ExecConfig, grid: &Grid) -> Vec<Trade> {
    let policies = grid.policies();
    let mut trades = Vec::with_capacity(w.paths.len() * policies.len());
    for path in &w.paths {
        let prep = CallPrep::new(path.whole(), exec, &[]).expect("an entry");
        prep.evaluate_each(exec, &policies, |_, t| trades.push(t));
    }
    trades
}

fn write_f64(path: &Path, values: impl Iterator<Item = f64>) {
    let bytes: Vec<u8> = values.flat_map(f64::to_le_bytes).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes the race's inputs and the engine's trades into `dir`, and the engine's time.
pub fn dump(dir: &Path, race: Race) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let candles = 2880;
    let calls = race.calls();
    let w = Workload::new(calls, 50, candles);
    let (tp_stop, sl_stop) = race.fractions();
    let grid = grid(&tp_stop, &sl_stop);
    let exec = ExecConfig::new(ExecParams {
        fee_bps: 0.0,
        slippage_bps: 0.0,
        ..ExecParams::default()
    })
    .expect("valid options");

    // Best of several rounds: the run is short, so one round would mostly measure noise.
    let mut best = f64::INFINITY;
    let mut trades = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        trades = std::hint::black_box(run(&w, &exec, &grid));
        best = best.min(t.elapsed().as_secs_f64());
    }

    let paths: Vec<Vec<_>> = w.paths.iter().map(|p| p.to_vec()).collect();
    let paths = &paths;
    write_f64(
        &dir.join("ohlc.f64"),
        [0, 1, 2, 3].into_iter().flat_map(|field| {
            paths.iter().flat_map(move |p| {
                p.iter().map(move |c| match field {
                    0 => c.open,
                    1 => c.high,
                    2 => c.low,
                    _ => c.close,
                })
            })
        }),
    );
    let pos: Vec<u8> = trades
        .iter()
        .flat_map(|t| (t.candles_held as i32).to_le_bytes())
        .collect();
    std::fs::write(dir.join("exit_pos.i32"), pos).expect("exit_pos.i32");
    write_f64(
        &dir.join("gross.f64"),
        trades.iter().map(|t| t.gross_multiple),
    );

    let list = |xs: &[f64]| {
        xs.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut meta = String::new();
    let _ = write!(
        meta,
        "{{\n  \"calls\": {calls},\n  \"candles\": {candles},\n  \"tp_stop\": [{}],\n  \"sl_stop\": [{}],\n  \"policies\": {},\n  \"engine_seconds\": {best},\n  \"engine_threads\": 1\n}}\n",
        list(&tp_stop),
        list(&sl_stop),
        grid.size()
    );
    std::fs::write(dir.join("meta.json"), meta).expect("meta.json");
    let mut tsv = String::new();
    for c in &w.calls {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}",
            c.call_id, c.caller, c.chain, c.mint, c.alert_ts_ms
        );
    }
    std::fs::write(dir.join("calls.tsv"), tsv).expect("calls.tsv");
    println!(
        "race: {calls} calls × {} policies ({} trades) in {:.4} s on 1 thread (best of 7), written to {}",
        grid.size(),
        trades.len(),
        best,
        dir.display()
    );
}
