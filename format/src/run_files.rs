//! The files of a `backtest v1-baseline` result bundle that are tables (SPEC §10.1):
//! `grid.parquet` (every grid point of every caller) and `trades.parquet` (the trades of each
//! caller's best-policy wallet, with sizes), as bytes. The CLI writes them into its `--out-dir`;
//! the lab saves a run as the same bundle with them, byte for byte.

use quantbot_core::grid::Grid;
use quantbot_core::optimize::{CallerResult, Prepared, SearchOptions, SearchResult};
use quantbot_core::trade::Trade;
use quantbot_core::wallet::SkipReason;

use crate::results::{grid_points, metric_values, METRIC_NAMES};
use crate::table_file::{col, table_parquet, Col, NamedCol};
use crate::Result;

/// The metrics that are counts: integers, and never absent. Every other metric is a float.
const COUNTS: [&str; 2] = ["trades", "ambiguous_trades"];

/// `grid.parquet`: one row per caller and policy index (SPEC §10.1).
pub fn grid_parquet(grid: &Grid, result: &SearchResult) -> Result<Vec<u8>> {
    let mut caller = Vec::new();
    let mut index = Vec::new();
    let mut label = Vec::new();
    let mut feasible = Vec::new();
    let mut dims: Vec<Vec<Option<f64>>> = vec![Vec::new(); 6];
    let mut ladder = Vec::new();
    let mut rule = Vec::new();
    let mut metrics: Vec<Vec<Option<f64>>> = vec![Vec::new(); METRIC_NAMES.len()];
    let mut skipped: Vec<Vec<Option<i64>>> = vec![Vec::new(); 4];
    for point in grid_points(grid, result) {
        let p = &point.params;
        caller.push(Some(point.caller.to_string()));
        index.push(Some(point.index as i64));
        feasible.push(Some(point.feasible));
        for (k, v) in [
            p.tp,
            p.sl,
            p.trail,
            p.trail_activation,
            p.be_trigger,
            Some(p.max_hold_hours),
        ]
        .into_iter()
        .enumerate()
        {
            dims[k].push(v);
        }
        ladder.push(p.ladder.as_ref().map(|l| l.label()));
        rule.push(p.indicator.map(|x| x.to_string()));
        for (k, v) in metric_values(point.metrics).into_iter().enumerate() {
            metrics[k].push(v);
        }
        for k in 0..4 {
            skipped[k].push(Some(point.metrics.skipped[k] as i64));
        }
        label.push(Some(point.label));
    }
    let mut cols: Vec<NamedCol> = vec![
        col(Col::Str("caller", caller)),
        col(Col::I64("policy_index", index)),
        col(Col::Str("label", label)),
    ];
    let [tp, sl, trail, act, be, hold]: [Vec<Option<f64>>; 6] =
        dims.try_into().expect("six numeric dimensions");
    cols.push(col(Col::F64("tp", tp)));
    cols.push(col(Col::F64("sl", sl)));
    cols.push(col(Col::F64("trail", trail)));
    cols.push(col(Col::F64("trail_activation", act)));
    cols.push(col(Col::F64("be_trigger", be)));
    cols.push(col(Col::Str("ladder", ladder)));
    cols.push(col(Col::F64("max_hold", hold)));
    cols.push(col(Col::Str("indicator", rule)));
    cols.push(col(Col::Bool("feasible", feasible)));
    for (k, name) in METRIC_NAMES.iter().enumerate() {
        let values = std::mem::take(&mut metrics[k]);
        let col = if COUNTS.contains(name) {
            Col::I64(
                "count",
                values.into_iter().map(|v| v.map(|x| x as i64)).collect(),
            )
        } else {
            Col::F64("metric", values)
        };
        cols.push(NamedCol {
            name: name.to_string(),
            col,
        });
    }
    for (k, r) in SkipReason::ALL.iter().enumerate() {
        cols.push(NamedCol {
            name: format!("skipped_{}", r.as_str()),
            col: Col::I64("skipped", std::mem::take(&mut skipped[k])),
        });
    }
    // Every dimension but the time stop may be absent, and every metric but the two counts.
    let nullable: Vec<&str> = grid
        .dimensions()
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "max_hold")
        .chain(
            METRIC_NAMES
                .into_iter()
                .filter(|name| !COUNTS.contains(name)),
        )
        .collect();
    Ok(table_parquet("grid.parquet", cols, &nullable)?.0)
}

/// One trade of a caller's best-policy wallet, with its size.
#[derive(Debug, Clone, PartialEq)]
pub struct BestTrade {
    pub caller: String,
    pub policy_index: usize,
    pub trade: Trade,
    pub call_id: String,
    pub size: f64,
    pub pnl: f64,
    /// The multiple the wallet credited (under v1: 1 + pnl / size).
    pub multiple: f64,
}

/// The trades each of `per_caller`'s best-policy wallets took (in-sample under holdout), with
/// sizes; each wallet's equity after each close is pushed onto `equity` (one curve per caller
/// of `per_caller`, in its order).
pub fn best_trades(
    prepared: &Prepared<'_>,
    per_caller: &[CallerResult],
    opts: &SearchOptions,
    equity: &mut Vec<Vec<(i64, f64)>>,
) -> Vec<BestTrade> {
    let mut out = Vec::new();
    let frac = opts.holdout_fraction();
    for r in per_caller {
        let Some((_, calls)) = prepared.callers().find(|(c, _)| *c == r.caller) else {
            equity.push(Vec::new());
            continue;
        };
        let n_in = if frac > 0.0 {
            Prepared::in_sample_count(calls.len(), frac)
        } else {
            calls.len()
        };
        let calls = &calls[..n_in];
        let trades = prepared.trades(calls, r.best, &opts.exec);
        let wallet = prepared.wallet(calls, &trades, |_| r.best, opts);
        equity.push(wallet.equity.clone());
        for t in &wallet.taken {
            let call = prepared.windows()[calls[t.offer]].call;
            out.push(BestTrade {
                caller: r.caller.clone(),
                policy_index: r.best,
                trade: trades[t.offer].expect("a taken offer has a trade"),
                call_id: call.call_id.clone(),
                size: t.size,
                pnl: t.pnl,
                multiple: t.multiple,
            });
        }
    }
    out
}

/// `trades.parquet`: the trades of each caller's best-policy wallet, with sizes.
pub fn trades_parquet(rows: &[BestTrade]) -> Result<Vec<u8>> {
    let s = |f: fn(&BestTrade) -> String| -> Vec<Option<String>> {
        rows.iter().map(|r| Some(f(r))).collect()
    };
    let i = |f: fn(&BestTrade) -> i64| -> Vec<Option<i64>> {
        rows.iter().map(|r| Some(f(r))).collect()
    };
    let x = |f: fn(&BestTrade) -> f64| -> Vec<Option<f64>> {
        rows.iter().map(|r| Some(f(r))).collect()
    };
    let cols = vec![
        col(Col::Str("call_id", s(|r| r.call_id.clone()))),
        col(Col::Str("caller", s(|r| r.caller.clone()))),
        col(Col::I64("policy_index", i(|r| r.policy_index as i64))),
        col(Col::I64("entry_ts_ms", i(|r| r.trade.entry_ts_ms))),
        col(Col::F64("entry_px", x(|r| r.trade.entry_px))),
        col(Col::I64("exit_ts_ms", i(|r| r.trade.exit_ts_ms))),
        col(Col::Str(
            "exit_reason",
            s(|r| r.trade.exit_reason.as_str().to_string()),
        )),
        col(Col::F64("gross_multiple", x(|r| r.trade.gross_multiple))),
        col(Col::F64("net_multiple", x(|r| r.multiple))),
        col(Col::F64("peak_multiple", x(|r| r.trade.peak_multiple))),
        col(Col::F64("mae", x(|r| r.trade.mae))),
        col(Col::Bool(
            "ambiguous",
            rows.iter().map(|r| Some(r.trade.ambiguous)).collect(),
        )),
        col(Col::I64("fills", i(|r| r.trade.fills as i64))),
        col(Col::I64("candles_held", i(|r| r.trade.candles_held as i64))),
        col(Col::F64("size_usd", x(|r| r.size))),
        col(Col::F64("pnl_usd", x(|r| r.pnl))),
    ];
    Ok(table_parquet("trades.parquet", cols, &[])?.0)
}
