//! `quantbot backtest v1-baseline` (SPEC §6, §10, §10.1): load, search on all cores, and write
//! the results as a table, JSON or CSV, and as an `--out-dir` bundle (results.json,
//! grid.parquet, trades.parquet, index.html).

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use quantbot_core::grid::Grid;
use quantbot_core::metrics::{Metrics, Objective};
use quantbot_core::optimize::{
    grouped_result, kept_callers, search_callers, Mode, Prepared, SearchResult,
};
use quantbot_core::store::Volumes;
use quantbot_core::wallet::SkipReason;
use quantbot_format::dataset::coverage_json;
use quantbot_format::results::{metric_values, DatasetSummary, RunReport, METRIC_NAMES};
use quantbot_format::run_files;
pub use quantbot_format::run_files::{best_trades, BestTrade};
use serde_json::Value;

use crate::args::{Format, V1Args};
use crate::bundle::{check_bundle_dir, write_bundle};
use crate::output::{csv_field, csv_num, fmt_opt, json_text, pct, print, render_table};
use crate::parts;
use crate::plan::{self, parse_interval, Selection, Source};
use crate::source::{calls_per_caller, load, read_manifest, LoadOptions};
use crate::timings::{Stage, Timings};
use quantbot_format::html;

/// Everything a v1-baseline run produced, ready to be written: the report every writer reads,
/// and the search's result and best-policy trades for the per-point and per-trade Parquet
/// files.
pub struct Run {
    pub report: RunReport,
    pub grid: Grid,
    pub result: SearchResult,
    pub best: Vec<BestTrade>,
    /// Per caller (in `result.per_caller` order): the best policy's equity after each close
    /// (in sample), for `index.html`'s charts.
    pub equity: Vec<Vec<(i64, f64)>>,
}

pub fn run(a: &V1Args) -> anyhow::Result<()> {
    let source = Source::from_args(&a.source);
    let (interval_s, horizon_hours) = match &source {
        Source::Data { dir } => {
            let m = read_manifest(dir)?;
            (m.interval_s, m.horizon_hours)
        }
        Source::DuckDb { .. } => (parse_interval(&a.interval)?, 48.0),
    };
    let grid = plan::grid(a, horizon_hours)?;
    let opts = plan::search_options(a, interval_s)?;
    let sel = plan::v1_selection(a)?;
    check_bundle_dir(&a.output, source.path())?;
    let mut t = Timings::new(a.output.timings);
    let load_opts = LoadOptions {
        interval_s,
        horizon_hours,
        min_coverage: 0.8,
    };
    // Parts of callers whose candles fit the memory budget (one part, unfiltered, when all do).
    let parts = t.time(Stage::Load, || -> anyhow::Result<_> {
        let per_caller = calls_per_caller(&source, &sel)?;
        let spec = load_opts.window_spec();
        let window = (spec.horizon_ms / (spec.interval_s.max(1) * 1000)).max(1) as u64;
        let budget = (a.memory_budget * f64::from(1u32 << 20)) as u64;
        Ok(parts::plan(&per_caller, window, budget))
    })?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()
        .context("starting the worker threads")?;
    let show_progress = !a.output.quiet && std::io::stderr().is_terminal();
    let mut summary: Option<DatasetSummary> = None;
    let mut result = SearchResult {
        per_caller: Vec::new(),
        grouped: None,
        evaluations: 0,
        wallet_points: 0,
        wallets: 0,
    };
    let mut offers = Vec::new();
    let mut best = Vec::new();
    let mut equity = Vec::new();
    for (k, part) in parts.iter().enumerate() {
        let part_sel = Selection {
            only_callers: part.clone(),
            ..sel.clone()
        };
        // Exits read prices only: the volumes are held only for a rule that reads them.
        let ds = load(
            &source,
            &part_sel,
            load_opts,
            Volumes::needed(grid.reads_volume()),
            &mut t,
        )?;
        let part_summary = DatasetSummary::of(&ds, &part_sel);
        match &mut summary {
            Some(s) => s.add(&part_summary),
            None => summary = Some(part_summary),
        }
        let windows = ds.eligible();
        if windows.is_empty() {
            continue;
        }
        let prepared = t.time(Stage::Prepare, || {
            pool.install(|| Prepared::new(windows, &grid, &opts.exec))
        });
        let part_result = t.time(Stage::Search, || {
            pool.install(|| {
                let progress = Progress::new(show_progress, (k, parts.len()));
                let r = search_callers(
                    &prepared,
                    &grid,
                    &opts,
                    &|d, t| progress.tick(d, t),
                    &AtomicBool::new(false),
                )
                .expect("never cancelled");
                progress.finish();
                r
            })
        });
        t.time(Stage::Search, || {
            pool.install(|| {
                if opts.mode != Mode::PerCaller {
                    offers.extend(prepared.grouped_offers(&part_result.per_caller, &opts));
                }
                best.extend(best_trades(
                    &prepared,
                    &part_result.per_caller,
                    &opts,
                    &mut equity,
                ));
            })
        });
        result.per_caller.extend(part_result.per_caller);
        result.evaluations += part_result.evaluations;
        result.wallet_points += part_result.wallet_points;
        result.wallets += part_result.wallets;
    }
    let summary = summary.expect("at least one part");
    if summary.eligible == 0 {
        anyhow::bail!(
            "no eligible call in the selection: {}",
            serde_json::to_string(&coverage_json(summary.eligible, &summary.excluded))?
        );
    }
    if opts.mode != Mode::PerCaller {
        result.grouped = t.time(Stage::Search, || {
            grouped_result(kept_callers(&result.per_caller), &offers, &opts)
        });
    }
    // The wallets of the grid's points, and how many of them ran: the others were shared by
    // policies with identical trades.
    let wallet_line = format!(
        "wallets: {} run for {} grid wallets ({:.1} % shared by policies with identical trades){}",
        result.wallets,
        result.wallet_points,
        100.0 * (1.0 - result.wallets as f64 / result.wallet_points.max(1) as f64),
        if parts.len() > 1 {
            format!("; callers in {} parts (--memory-budget)", parts.len())
        } else {
            String::new()
        }
    );
    t.time(Stage::Write, || {
        let run = Run {
            report: RunReport::of_summary(&summary, &sel, &grid, &opts, &result),
            grid,
            result,
            best,
            equity,
        };
        let json = run.report.to_json();
        print(&match a.output.format {
            Format::Json => json_text(&json)?,
            Format::Csv => csv(&run.report),
            Format::Table => table(&run.report),
        })?;
        // The name the bundle's page links into a published site with (`runs/NAME/`).
        let name = a
            .output
            .out_dir
            .as_ref()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let options = plan::v1_options(a)?;
        write_bundle(&a.output, |dir| {
            write_files(dir, &run, &json, &name, &options)
        })
    })?;
    t.report();
    if a.output.timings {
        eprintln!("{wallet_line}");
    }
    Ok(())
}

/// A progress bar on stderr, only on a terminal.
struct Progress {
    on: bool,
    /// This part and how many there are (`--memory-budget`).
    part: (usize, usize),
    last: std::sync::Mutex<u64>,
}

impl Progress {
    fn new(on: bool, part: (usize, usize)) -> Progress {
        Progress {
            on,
            part,
            last: std::sync::Mutex::new(u64::MAX),
        }
    }

    fn tick(&self, done: u64, total: u64) {
        if !self.on || total == 0 {
            return;
        }
        let pct = done * 100 / total;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if *last == pct {
            return;
        }
        *last = pct;
        let filled = (pct / 4) as usize;
        let part = match self.part {
            (_, 1) => String::new(),
            (k, n) => format!(" (callers part {} of {n})", k + 1),
        };
        eprint!(
            "\r[{}{}] {pct:3}% {done}/{total} grid points{part}",
            "#".repeat(filled),
            " ".repeat(25 - filled)
        );
    }

    fn finish(&self) {
        if self.on {
            eprintln!();
        }
    }
}

/// The readable table: one row per caller, then the grouped line.
pub fn table(report: &RunReport) -> String {
    let obj = report.objective;
    // The objective gets its own column unless it is the final capital, shown anyway.
    let show_obj = obj != Objective::FinalCapital;
    let mut header = vec!["caller", "calls", "best policy"];
    if show_obj {
        header.push(obj.as_str());
    }
    header.extend([
        "final", "return", "win", "max dd", "trades", "dsr", "pbo", "verdict",
    ]);
    if report.folds > 0 {
        header.push("wf_oos");
    }
    header.push("flags");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &report.per_caller {
        let m = &r.metrics;
        let mut row = vec![r.caller.clone(), r.calls.to_string(), r.short_label.clone()];
        if show_obj {
            row.push(fmt_opt(r.objective_value, 4));
        }
        row.extend([
            format!("{:.2}", m.final_capital),
            pct(Some(m.total_return)),
            pct(m.win_rate),
            pct(Some(m.max_drawdown)),
            m.trades.to_string(),
            fmt_opt(r.dsr(), 3),
            fmt_opt(r.pbo(), 3),
            r.verdict().unwrap_or("-").to_string(),
        ]);
        if report.folds > 0 {
            row.push(pct(r.wf_oos()));
        }
        row.push(r.flags().join(","));
        rows.push(row);
    }
    let mut out = render_table(&header, &rows);
    out.push_str(&format!(
        "\n{} callers, {} eligible calls ({} excluded), grid of {} policies\n",
        report.per_caller.len(),
        report.eligible,
        report.excluded,
        report.grid_size
    ));
    match &report.grouped {
        Some(g) => {
            let m = &g.metrics;
            out.push_str(&format!(
                "grouped ({} callers): final {:.2}, return {}, win {}, max dd {}, trades {}\n",
                g.callers.len(),
                m.final_capital,
                pct(Some(m.total_return)),
                pct(m.win_rate),
                pct(Some(m.max_drawdown)),
                m.trades
            ));
        }
        None => out.push_str("grouped: none (per-caller mode, or no caller kept)\n"),
    }
    out
}

/// CSV: one row per caller, then a `(grouped)` row.
pub fn csv(report: &RunReport) -> String {
    let mut header = vec![
        "caller",
        "calls",
        "policy_index",
        "label",
        "feasible",
        "collapsed",
        "edge",
    ];
    header.extend(METRIC_NAMES);
    let skip_names: Vec<String> = SkipReason::ALL
        .iter()
        .map(|r| format!("skipped_{}", r.as_str()))
        .collect();
    // SPEC §13.5's columns come last, so the earlier columns keep their places.
    let mut robust_names = vec!["dsr", "pbo", "verdict"];
    if report.folds > 0 {
        robust_names.push("wf_oos");
    }
    let mut out = header.join(",");
    for s in skip_names
        .iter()
        .map(String::as_str)
        .chain(robust_names.iter().copied())
    {
        out.push(',');
        out.push_str(s);
    }
    out.push('\n');
    let mut row = |cells: Vec<String>, m: &Metrics, robust: Vec<String>| {
        let mut all = cells;
        all.extend(metric_values(m).into_iter().map(csv_num));
        all.extend(m.skipped.iter().map(|n| n.to_string()));
        all.extend(robust);
        out.push_str(&all.join(","));
        out.push('\n');
    };
    for r in &report.per_caller {
        row(
            vec![
                csv_field(&r.caller),
                r.calls.to_string(),
                r.best.to_string(),
                csv_field(&r.label),
                r.feasible.to_string(),
                r.collapsed.to_string(),
                r.edge.to_string(),
            ],
            &r.metrics,
            robust_names
                .iter()
                .map(|&name| match name {
                    "dsr" => csv_num(r.dsr()),
                    "pbo" => csv_num(r.pbo()),
                    "verdict" => r.verdict().unwrap_or_default().to_string(),
                    _ => csv_num(r.wf_oos()),
                })
                .collect(),
        );
    }
    if let Some(g) = &report.grouped {
        let mut cells = vec!["(grouped)".to_string(), g.calls.to_string()];
        cells.resize(7, String::new());
        row(cells, &g.metrics, vec![String::new(); robust_names.len()]);
    }
    out
}

/// The files of the `--out-dir` bundle.
fn write_files(
    dir: &Path,
    run: &Run,
    json: &Value,
    name: &str,
    options: &plan::V1Options,
) -> anyhow::Result<()> {
    std::fs::write(dir.join("results.json"), json_text(json)?).context("writing results.json")?;
    // What the lab shows the run from, every view as computed (`lab/?bundle=`).
    let lab = quantbot_lab_model::bundle::lab_json(options, &run.result, &run.equity);
    std::fs::write(
        dir.join(quantbot_lab_model::bundle::LAB_FILE),
        serde_json::to_string(&lab).context("lab.json")?,
    )
    .context("writing lab.json")?;
    let grid = run_files::grid_parquet(&run.grid, &run.result).map_err(anyhow::Error::msg)?;
    std::fs::write(dir.join("grid.parquet"), grid).context("writing grid.parquet")?;
    let trades = run_files::trades_parquet(&run.best).map_err(anyhow::Error::msg)?;
    std::fs::write(dir.join("trades.parquet"), trades).context("writing trades.parquet")?;
    std::fs::write(
        dir.join("index.html"),
        html::v1_page(&run.report, json, &run.equity, name),
    )
    .context("writing index.html")?;
    Ok(())
}
