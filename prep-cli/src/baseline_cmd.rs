//! `quantbot backtest baseline` (SPEC §7, §10.2, §12): per-alert metrics for every selected
//! call, summaries per caller and overall, as a table, JSON or CSV, an `--out-dir` bundle
//! (alerts.csv, alerts.parquet, summary.json), or the live `--tui` dashboard.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use quantbot_core::baseline::{baseline_call, BaselineConfig, BaselineRow, BaselineSummary};
use quantbot_core::data::Call;
use quantbot_core::policy::Intrabar;
use quantbot_core::store::Volumes;
use quantbot_core::window::call_window;
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::args::{BaselineArgs, Format, IntrabarOrderArg};
use crate::bundle::{check_bundle_dir, write_bundle};
use crate::output::{csv_field, csv_num, fmt_opt, json_text, num, pct, print, render_table};
use crate::parquet_io::{col, write_parquet, Col};
use crate::plan::{selection, usage, Source};
use crate::source::{load, read_manifest, Dataset, LoadOptions};
use crate::timings::{Stage, Timings};

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

/// The validated baseline settings from the flags.
pub fn config(
    a: &BaselineArgs,
    interval_s: i64,
    horizon_hours: f64,
) -> anyhow::Result<BaselineConfig> {
    if interval_s <= 0 {
        return Err(usage(format!(
            "--interval-seconds: {interval_s} must be positive"
        )));
    }
    if !valid_horizon(horizon_hours) {
        return Err(usage(format!(
            "--horizon-hours: {horizon_hours} {HORIZON_RULE}"
        )));
    }
    use quantbot_core::baseline::{BaselineError, BaselineParams};
    use quantbot_core::policy::{ExecError, PolicyError};
    use quantbot_format::dataset::{valid_horizon, HORIZON_RULE};
    BaselineConfig::new(BaselineParams {
        interval_s,
        horizon_hours,
        tp: a.tp_mult,
        sl: a.sl_mult,
        fee_bps: a.fee_bps,
        slippage_bps: a.slippage_bps,
        intrabar: match a.intrabar_order {
            IntrabarOrderArg::SlFirst => Intrabar::SlFirst,
            IntrabarOrderArg::TpFirst => Intrabar::TpFirst,
        },
    })
    .map_err(|e| {
        let flag = match &e {
            BaselineError::Policy(PolicyError::Tp(_)) => "--tp-mult",
            BaselineError::Policy(PolicyError::Sl(_)) => "--sl-mult",
            BaselineError::Exec(ExecError::Fee(_)) => "--fee-bps",
            BaselineError::Exec(ExecError::Slippage(_)) => "--slippage-bps",
            BaselineError::Exec(ExecError::Interval(_)) => "--interval-seconds",
            _ => "--horizon-hours",
        };
        usage(format!("{flag}: {e}"))
    })
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

fn summary_fields(s: &BaselineSummary) -> Value {
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

/// `alerts.csv`: one row per call; times as integers, missing values empty.
pub fn alerts_csv(calls: &[Call], rows: &[BaselineRow]) -> String {
    let mut out = String::from("call_id,caller,chain,mint,alert_ts_ms,status,entry_ts_ms,entry_px");
    for c in METRIC_COLUMNS {
        out.push(',');
        out.push_str(c);
    }
    out.push_str(",tp_sl_exit_reason,tp_sl_ret\n");
    for (c, r) in calls.iter().zip(rows) {
        let mut cells = vec![
            csv_field(&c.call_id),
            csv_field(&c.caller),
            csv_field(&c.chain),
            csv_field(&c.mint),
            c.alert_ts_ms.to_string(),
            r.status.as_str().to_string(),
            r.entry_ts_ms.map_or(String::new(), |t| t.to_string()),
            csv_num(r.entry_px),
        ];
        for cell in metric_cells(r) {
            cells.push(match cell {
                Cell::Int(i) => i.to_string(),
                Cell::Num(x) => csv_num(Some(x)),
                Cell::None => String::new(),
            });
        }
        let m = r.metrics.as_ref();
        cells.push(m.map_or(String::new(), |m| m.tp_sl_exit_reason.as_str().to_string()));
        cells.push(m.map_or(String::new(), |m| m.tp_sl_ret.to_string()));
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn alerts_parquet(path: &Path, calls: &[Call], rows: &[BaselineRow]) -> anyhow::Result<()> {
    let s = |f: &dyn Fn(&Call, &BaselineRow) -> Option<String>| -> Vec<Option<String>> {
        calls.iter().zip(rows).map(|(c, r)| f(c, r)).collect()
    };
    let mut cols = vec![
        col(Col::Str("call_id", s(&|c, _| Some(c.call_id.clone())))),
        col(Col::Str("caller", s(&|c, _| Some(c.caller.clone())))),
        col(Col::Str("chain", s(&|c, _| Some(c.chain.clone())))),
        col(Col::Str("mint", s(&|c, _| Some(c.mint.clone())))),
        col(Col::I64(
            "alert_ts_ms",
            calls.iter().map(|c| Some(c.alert_ts_ms)).collect(),
        )),
        col(Col::Str(
            "status",
            s(&|_, r| Some(r.status.as_str().to_string())),
        )),
        col(Col::I64(
            "entry_ts_ms",
            rows.iter().map(|r| r.entry_ts_ms).collect(),
        )),
        col(Col::F64(
            "entry_px",
            rows.iter().map(|r| r.entry_px).collect(),
        )),
    ];
    let cells: Vec<Vec<Cell>> = rows.iter().map(metric_cells).collect();
    for (k, name) in METRIC_COLUMNS.iter().enumerate() {
        let is_time = name.starts_with("time_to");
        let column = if is_time {
            Col::I64(
                "t",
                cells
                    .iter()
                    .map(|c| match c[k] {
                        Cell::Int(i) => Some(i),
                        _ => None,
                    })
                    .collect(),
            )
        } else {
            Col::F64(
                "x",
                cells
                    .iter()
                    .map(|c| match c[k] {
                        Cell::Num(x) => Some(x),
                        _ => None,
                    })
                    .collect(),
            )
        };
        cols.push(crate::parquet_io::NamedCol {
            name: name.to_string(),
            col: column,
        });
    }
    cols.push(col(Col::Str(
        "tp_sl_exit_reason",
        rows.iter()
            .map(|r| {
                r.metrics
                    .as_ref()
                    .map(|m| m.tp_sl_exit_reason.as_str().to_string())
            })
            .collect(),
    )));
    cols.push(col(Col::F64(
        "tp_sl_ret",
        rows.iter()
            .map(|r| r.metrics.as_ref().map(|m| m.tp_sl_ret))
            .collect(),
    )));
    let mut nullable = vec!["entry_ts_ms", "entry_px", "tp_sl_exit_reason", "tp_sl_ret"];
    nullable.extend(METRIC_COLUMNS);
    write_parquet(path, cols, &nullable)?;
    Ok(())
}

/// The readable summary: one row per caller, then the overall line.
pub fn summary_table(summary: &Value) -> String {
    let header = [
        "caller",
        "calls",
        "ok",
        "median ATH",
        "2x %",
        "3x %",
        "4x %",
        "median t→2x (h)",
        "TP/SL win",
        "TP/SL PF",
        "TP/SL exp",
    ];
    let row = |name: String, s: &Value| {
        let x = |key: &str| s[key].as_f64();
        vec![
            name,
            s["calls"].to_string(),
            s["ok"].to_string(),
            fmt_opt(x("median_ath_mult"), 2),
            fmt_opt(x("pct_hit_2x"), 1),
            fmt_opt(x("pct_hit_3x"), 1),
            fmt_opt(x("pct_hit_4x"), 1),
            fmt_opt(x("median_time_to_2x_s").map(|t| t / 3600.0), 1),
            pct(x("tp_sl_win_rate")),
            fmt_opt(x("tp_sl_profit_factor"), 2),
            fmt_opt(x("tp_sl_expectancy"), 4),
        ]
    };
    let mut rows: Vec<Vec<String>> = summary["per_caller"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| row(s["caller"].as_str().unwrap_or("").to_string(), s))
        .collect();
    rows.push(row("(all)".into(), &summary["overall"]));
    render_table(&header, &rows)
}

/// The engine, data and options of a baseline run (`run.json` in its bundle).
fn run_json(ds: &Dataset, a: &BaselineArgs, horizon_hours: f64) -> Value {
    json!({
        "engine": {"name": "quantbot", "version": quantbot_core::VERSION},
        "dataset": {"source": ds.source_label, "manifest_sha256": ds.manifest_sha256},
        "options": {
            "from": a.from, "to": a.to, "chain": a.chain,
            "interval_seconds": ds.interval_s, "horizon_hours": horizon_hours,
            "tp_mult": a.tp_mult, "sl_mult": a.sl_mult, "fee_bps": a.fee_bps,
            "slippage_bps": a.slippage_bps,
            "intrabar_order": match a.intrabar_order { IntrabarOrderArg::SlFirst => "sl_first", IntrabarOrderArg::TpFirst => "tp_first" },
        },
    })
}

pub fn run(a: &BaselineArgs) -> anyhow::Result<()> {
    // The flags as typed, whatever the source: a --data folder has its own interval and may
    // shorten the horizon, but an impossible value is still a usage error (SPEC §8).
    config(a, a.interval_seconds, a.horizon_hours)?;
    let source = Source::from_args(&a.source);
    let (interval_s, horizon_hours) = match &source {
        Source::Data { dir } => {
            let m = read_manifest(dir)?;
            (m.interval_s, a.horizon_hours.min(m.horizon_hours))
        }
        Source::DuckDb { .. } => (a.interval_seconds, a.horizon_hours),
    };
    let cfg = config(a, interval_s, horizon_hours)?;
    let sel = selection(a.from.as_deref(), a.to.as_deref(), a.chain.as_deref(), None)?;
    check_bundle_dir(&a.output, source.path())?;
    let mut t = Timings::new(a.output.timings);
    let mut ds = load(
        &source,
        &sel,
        LoadOptions {
            interval_s,
            horizon_hours,
            min_coverage: 0.8,
        },
        // Per-alert metrics read prices only.
        Volumes::Drop,
        &mut t,
    )?;
    // A dataset folder keeps its own horizon; the baseline may look at a shorter one.
    ds.horizon_hours = horizon_hours;
    if ds.calls.is_empty() {
        anyhow::bail!("no call in the selection");
    }
    let rows: Vec<BaselineRow> = if a.tui {
        crate::tui::run_dashboard(&ds, &cfg)?
    } else {
        t.time(Stage::Search, || {
            ds.calls.par_iter().map(|c| row_of(&ds, c, &cfg)).collect()
        })
    };
    let write_start = std::time::Instant::now();
    let summary = summary_json(&ds.calls, &rows);
    if !a.tui {
        print(&match a.output.format {
            Format::Json => json_text(&summary)?,
            Format::Csv => alerts_csv(&ds.calls, &rows),
            Format::Table => summary_table(&summary),
        })?;
    }
    write_bundle(&a.output, |tmp| {
        std::fs::write(tmp.join("alerts.csv"), alerts_csv(&ds.calls, &rows))
            .context("writing alerts.csv")?;
        alerts_parquet(&tmp.join("alerts.parquet"), &ds.calls, &rows)?;
        std::fs::write(tmp.join("summary.json"), json_text(&summary)?)
            .context("writing summary.json")?;
        // What produced the bundle, for the run registry (summary.json keeps the SPEC's shape).
        let meta = run_json(&ds, a, horizon_hours);
        std::fs::write(tmp.join("run.json"), json_text(&meta)?).context("writing run.json")
    })?;
    t.add(Stage::Write, write_start.elapsed());
    t.report();
    Ok(())
}
