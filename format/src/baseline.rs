//! The baseline of SPEC §7 as the CLI prints it and the lab shows it: the per-alert metric
//! columns, one call's row from a loaded dataset, and the summary document (per caller and
//! overall) of `quantbot backtest baseline --format json`, built by one function for both faces.

use std::collections::BTreeMap;

use quantbot_core::baseline::{baseline_call, BaselineConfig, BaselineRow, BaselineSummary};
use quantbot_core::data::Call;
use quantbot_core::window::call_window;
use serde_json::{json, Value};

use crate::dataset::Dataset;
use crate::results::num;

/// The §7 metric columns, in CSV order.
pub const METRIC_COLUMNS: [&str; 14] = [
    "ath_mult",
    "time_to_ath_s",
    "time_to_2x_s",
    "time_to_3x_s",
    "time_to_4x_s",
    "dd_initial",
    "dd_overall",
    "dd_pre2x",
    "dd_after_2x",
    "dd_after_3x",
    "dd_after_4x",
    "dd_after_ath",
    "peak_pnl_pct",
    "ret_end",
];

/// One cell of a metric: an integer time, a float, or missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Int(i64),
    Num(f64),
    None,
}

/// The metric cells of a row, in [`METRIC_COLUMNS`] order.
pub fn metric_cells(r: &BaselineRow) -> Vec<Cell> {
    let Some(m) = &r.metrics else {
        return vec![Cell::None; METRIC_COLUMNS.len()];
    };
    let i = |v: Option<i64>| v.map_or(Cell::None, Cell::Int);
    let f = |v: Option<f64>| v.map_or(Cell::None, Cell::Num);
    vec![
        Cell::Num(m.ath_mult),
        Cell::Int(m.time_to_ath_s),
        i(m.time_to_2x_s),
        i(m.time_to_3x_s),
        i(m.time_to_4x_s),
        Cell::Num(m.dd_initial),
        Cell::Num(m.dd_overall),
        f(m.dd_pre2x),
        f(m.dd_after_2x),
        f(m.dd_after_3x),
        f(m.dd_after_4x),
        f(m.dd_after_ath),
        Cell::Num(m.peak_pnl_pct),
        Cell::Num(m.ret_end),
    ]
}

/// The baseline row of one call.
pub fn row_of(ds: &Dataset, call: &Call, cfg: &BaselineConfig) -> BaselineRow {
    let candles = ds.token_candles(call);
    let spec = ds.window_spec();
    let window = call_window(&candles, call.alert_ts_ms, &spec).map(|r| &candles[r]);
    baseline_call(window, cfg)
}

/// Summary document: `{"overall": S, "per_caller": [{"caller": …, …S}]}`.
pub fn summary_json(calls: &[Call], rows: &[BaselineRow]) -> Value {
    let mut by: BTreeMap<&str, Vec<&BaselineRow>> = BTreeMap::new();
    for (c, r) in calls.iter().zip(rows) {
        by.entry(c.caller.as_str()).or_default().push(r);
    }
    let per_caller: Vec<Value> = by
        .iter()
        .map(|(caller, rs)| {
            let mut obj = serde_json::Map::new();
            obj.insert("caller".into(), json!(caller));
            if let Value::Object(fields) = summary_fields(&BaselineSummary::of(rs.iter().copied()))
            {
                obj.extend(fields);
            }
            Value::Object(obj)
        })
        .collect();
    json!({
        "overall": summary_fields(&BaselineSummary::of(rows)),
        "per_caller": per_caller,
    })
}

/// The fields of one summary, in the order the JSON prints them.
pub fn summary_fields(s: &BaselineSummary) -> Value {
    json!({
        "calls": s.calls,
        "ok": s.ok,
        "missing": s.missing,
        "bad_entry": s.bad_entry,
        "invalid_candles": s.invalid_candles,
        "median_ath_mult": num(s.median_ath_mult),
        "median_time_to_2x_s": num(s.median_time_to_2x_s),
        "median_dd_pre2x": num(s.median_dd_pre2x),
        "pct_hit_2x": num(s.pct_hit_2x),
        "pct_hit_3x": num(s.pct_hit_3x),
        "pct_hit_4x": num(s.pct_hit_4x),
        "tp_sl_win_rate": num(s.tp_sl_win_rate),
        "tp_sl_profit_factor": num(s.tp_sl_profit_factor),
        "tp_sl_expectancy": num(s.tp_sl_expectancy),
    })
}
