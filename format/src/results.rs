//! The §10.1 result document of `backtest v1-baseline`, built the same way natively and in
//! the browser so the two can be compared number for number.

use quantbot_core::grid::{DimValues, Grid};
use quantbot_core::metrics::Metrics;
use quantbot_core::optimize::{CallerResult, SearchOptions, SearchResult};
use quantbot_core::policy::{CostModel, EntryPrice, Intrabar, PolicyParams};
use quantbot_core::wallet::SkipReason;
use serde_json::{json, Map, Value};

use crate::dataset::Dataset;
use crate::options::{interval_name, Selection};

/// A number, or `null` when it does not exist (or is not finite).
pub fn num(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => Value::Null,
    }
}

/// The §5 metric names in order, as table and Parquet columns (skips are separate).
pub const METRIC_NAMES: [&str; 13] = [
    "final_capital",
    "total_return",
    "trades",
    "win_rate",
    "mean_return",
    "median_return",
    "profit_factor",
    "sharpe",
    "max_drawdown",
    "stop_out_rate",
    "mean_hold_hours",
    "capture",
    "ambiguous_trades",
];

/// The metric values in [`METRIC_NAMES`] order (`None` where a metric does not exist).
pub fn metric_values(m: &Metrics) -> [Option<f64>; 13] {
    [
        Some(m.final_capital),
        Some(m.total_return),
        Some(f64::from(m.trades)),
        m.win_rate,
        m.mean_return,
        m.median_return,
        m.profit_factor,
        m.sharpe,
        Some(m.max_drawdown),
        m.stop_out_rate,
        m.mean_hold_hours,
        m.capture,
        Some(f64::from(m.ambiguous_trades)),
    ]
}

/// The §5 metrics object.
pub fn metrics_json(m: &Metrics) -> Value {
    let mut skipped = Map::new();
    for r in SkipReason::ALL {
        skipped.insert(r.as_str().into(), json!(m.skipped[r as usize]));
    }
    json!({
        "final_capital": num(Some(m.final_capital)),
        "total_return": num(Some(m.total_return)),
        "trades": m.trades,
        "skipped": skipped,
        "win_rate": num(m.win_rate),
        "mean_return": num(m.mean_return),
        "median_return": num(m.median_return),
        "profit_factor": num(m.profit_factor),
        "sharpe": num(m.sharpe),
        "max_drawdown": num(Some(m.max_drawdown)),
        "stop_out_rate": num(m.stop_out_rate),
        "mean_hold_hours": num(m.mean_hold_hours),
        "capture": num(m.capture),
        "ambiguous_trades": m.ambiguous_trades,
    })
}

fn ladder_json(levels: &[(f64, f64)]) -> Value {
    json!(levels
        .iter()
        .map(|&(m, f)| json!([m, f]))
        .collect::<Vec<_>>())
}

/// A policy's parameters under their §12 names.
pub fn params_json(p: &PolicyParams) -> Value {
    json!({
        "tp": num(p.tp),
        "sl": num(p.sl),
        "trail": num(p.trail),
        "trail_activation": num(p.trail_activation),
        "be_trigger": num(p.be_trigger),
        "ladder": p.ladder.as_ref().map(|l| ladder_json(l.levels())),
        "max_hold": p.max_hold_hours,
        "indicator": p.indicator.map(|r| r.to_string()),
    })
}

fn dim_values_json(values: &DimValues) -> Value {
    match values {
        DimValues::Numbers(v) => json!(v.iter().map(|x| num(*x)).collect::<Vec<_>>()),
        DimValues::Ladders(v) => json!(v
            .iter()
            .map(|l| l.as_ref().map(|l| ladder_json(l.levels())))
            .collect::<Vec<_>>()),
        DimValues::Rules(v) => json!(v
            .iter()
            .map(|r| r.map(|r| r.to_string()))
            .collect::<Vec<_>>()),
    }
}

/// Every option in effect, defaults included (not the thread count or output flags, which do
/// not change results).
pub fn options_json(ds: &Dataset, sel: &Selection, o: &SearchOptions) -> Value {
    let e = &o.exec;
    let w = &o.wallet;
    let c = &o.constraints;
    json!({
        "from": sel.from,
        "to": sel.to,
        "interval": interval_name(ds.interval_s),
        "horizon_hours": ds.horizon_hours,
        "min_coverage": ds.min_coverage,
        "chain": sel.chain,
        "caller_groups": sel.groups,
        "initial_capital": w.initial_capital(),
        "max_allocation_pct": w.max_allocation_pct(),
        "max_risk_per_trade": w.max_risk_per_trade(),
        "max_concurrent_positions": w.max_concurrent_positions(),
        "min_executable_size": w.min_executable_size(),
        "allow_same_token": w.allow_same_token(),
        "taker_fee_bps": e.fee_bps(),
        "slippage_bps": e.slippage_bps(),
        "be_offset": e.be_offset(),
        "cost_model": match e.cost_model() { CostModel::Fills => "fills", CostModel::V1 => "v1" },
        "entry_price": match e.entry_price() { EntryPrice::Open => "open", EntryPrice::Close => "close" },
        "intrabar": match e.intrabar() { Intrabar::SlFirst => "sl-first", Intrabar::TpFirst => "tp-first" },
        "mode": o.mode.as_str(),
        "min_calls": o.min_calls,
        "filter_collapsed": o.filter_collapsed,
        "filter_edge": o.filter_edge,
        "objective": o.objective.as_str(),
        "max_drawdown": c.max_drawdown,
        "min_win_rate": c.min_win_rate,
        "min_trades": c.min_trades,
        "max_stop_out_rate": c.max_stop_out_rate,
        "min_profit_factor": c.min_profit_factor,
        "holdout_fraction": o.holdout_fraction(),
    })
}

/// A caller's flags as words, for tables: `infeasible` (its best point fails a constraint),
/// `collapsed`, `edge` (SPEC §6), `not grouped` (left out of the grouped wallet).
pub fn caller_flags(r: &CallerResult) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if !r.best_scored().feasible {
        flags.push("infeasible");
    }
    if r.collapsed {
        flags.push("collapsed");
    }
    if r.edge {
        flags.push("edge");
    }
    if !r.kept {
        flags.push("not grouped");
    }
    flags
}

/// The per-caller rows of §10.1.
pub fn per_caller_json(grid: &Grid, result: &SearchResult) -> Value {
    json!(result
        .per_caller
        .iter()
        .map(|r| {
            let b = r.best_scored();
            json!({
                "caller": r.caller,
                "calls": r.calls,
                "best": {
                    "index": b.index,
                    "label": grid.label(b.index),
                    "params": params_json(&grid.params(b.index)),
                    "feasible": b.feasible,
                    "metrics": metrics_json(&b.metrics),
                },
                "flags": {"collapsed": r.collapsed, "edge": r.edge},
                "holdout": r.holdout.as_ref().map(|h| json!({
                    "in_sample": metrics_json(&h.in_sample),
                    "out_of_sample": metrics_json(&h.out_of_sample),
                })),
            })
        })
        .collect::<Vec<_>>())
}

/// The grouped wallet of §10.1, or `null`.
pub fn grouped_json(result: &SearchResult) -> Value {
    result.grouped.as_ref().map_or(Value::Null, |g| {
        json!({
            "callers": g.callers,
            "metrics": metrics_json(&g.metrics),
        })
    })
}

/// The §10.1 result document.
pub fn results_json(
    ds: &Dataset,
    sel: &Selection,
    grid: &Grid,
    opts: &SearchOptions,
    result: &SearchResult,
) -> Value {
    let dims: Vec<Value> = grid
        .dimensions()
        .iter()
        .map(|(name, values)| json!({"name": name, "values": dim_values_json(values)}))
        .collect();
    let source_kind = if ds.manifest_sha256.is_some() {
        "data"
    } else {
        "duckdb"
    };
    json!({
        "engine": {"name": "quantbot", "version": quantbot_core::VERSION},
        "dataset": {"source": ds.source_label, "kind": source_kind, "manifest_sha256": ds.manifest_sha256},
        "options": options_json(ds, sel, opts),
        "grid": {"dimensions": dims, "size": grid.size()},
        "coverage": ds.coverage_json_of(sel),
        "per_caller": per_caller_json(grid, result),
        "grouped": grouped_json(result),
    })
}
