//! `quantbot backtest baseline` (SPEC §7, §10.2, §12): per-alert metrics for every selected
//! call, summaries per caller and overall, as a table, JSON or CSV, an `--out-dir` bundle
//! (alerts.csv, alerts.parquet, summary.json), or the live `--tui` dashboard.

use std::path::Path;

use anyhow::Context;
use quantbot_core::baseline::{BaselineConfig, BaselineRow};
use quantbot_core::data::Call;
use quantbot_core::policy::Intrabar;
use quantbot_core::store::Volumes;
use rayon::prelude::*;
use serde_json::{json, Value};

pub use quantbot_format::baseline::{metric_cells, row_of, summary_json, Cell, METRIC_COLUMNS};

use crate::args::{BaselineArgs, Format, IntrabarOrderArg};
use crate::bundle::{check_bundle_dir, write_bundle};
use crate::output::{csv_field, csv_num, fmt_opt, json_text, pct, print, render_table};
use crate::parquet_io::{col, write_parquet, Col};
use crate::plan::{selection, usage, Source};
use crate::source::{load, read_manifest, Dataset, LoadOptions};
use crate::timings::{Stage, Timings};

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
