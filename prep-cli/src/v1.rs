//! `quantbot backtest v1-baseline` (SPEC §6, §10, §10.1): load, search on all cores, and write
//! the results as a table, JSON or CSV, and as an `--out-dir` bundle (results.json,
//! grid.parquet, trades.parquet, index.html).

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use quantbot_core::grid::Grid;
use quantbot_core::metrics::Metrics;
use quantbot_core::optimize::{search_with_progress, Prepared, SearchOptions, SearchResult};
use quantbot_core::policy::PolicyParams;
use quantbot_core::store::Volumes;
use quantbot_core::trade::Trade;
use quantbot_core::wallet::SkipReason;
use quantbot_format::results::{caller_flags, metric_values, results_json, METRIC_NAMES};
use serde_json::Value;

use crate::args::{Format, V1Args};
use crate::bundle::write_folder_atomically;
use crate::html;
use crate::parquet_io::{col, write_parquet, Col, NamedCol};
use crate::plan::{self, check_out_dir, parse_interval, selection, Selection, Source};
use crate::source::{load, read_manifest, Dataset, LoadOptions};

/// Everything a v1-baseline run produced, ready to be written.
pub struct Run<'a> {
    pub ds: &'a Dataset,
    pub sel: Selection,
    pub grid: Grid,
    pub opts: SearchOptions,
    pub result: SearchResult,
    pub prepared: Prepared<'a>,
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
    let sel = selection(
        a.from.as_deref(),
        a.to.as_deref(),
        a.chain.as_deref(),
        a.caller_groups.as_deref(),
    )?;
    if let Some(dir) = &a.out_dir {
        check_out_dir(dir, a.force)?;
    }
    // Exits read prices only: the volumes are held only for a rule that reads them.
    let ds = load(
        &source,
        &sel,
        LoadOptions {
            interval_s,
            horizon_hours,
            min_coverage: 0.8,
        },
        Volumes::needed(grid.reads_volume()),
    )?;
    let windows = ds.eligible();
    if windows.is_empty() {
        anyhow::bail!(
            "no eligible call in the selection: {}",
            serde_json::to_string(&ds.coverage_json())?
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()
        .context("starting the worker threads")?;
    let show_progress = !a.quiet && std::io::stderr().is_terminal();
    let (prepared, result) = pool.install(|| {
        let prepared = Prepared::new(windows, &grid, &opts.exec);
        let progress = Progress::new(show_progress);
        let result = search_with_progress(&prepared, &grid, &opts, &|d, t| progress.tick(d, t));
        progress.finish();
        (prepared, result)
    });
    let run = Run {
        ds: &ds,
        sel,
        grid,
        opts,
        result,
        prepared,
    };
    let json = results_json(run.ds, &run.sel, &run.grid, &run.opts, &run.result);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&json)?),
        Format::Csv => write!(out, "{}", csv(&run)),
        Format::Table => write!(out, "{}", table(&run)),
    }
    .or_else(ignore_broken_pipe)?;
    if let Some(dir) = &a.out_dir {
        write_folder_atomically(dir, a.force, |tmp| write_bundle(tmp, &run, &json))?;
        if !a.quiet {
            eprintln!("wrote {}", dir.display());
        }
        if let Some(registry) = &a.registry {
            crate::runs::record(dir, registry)?;
        }
    }
    Ok(())
}

/// A closed pipe (`| head`) is not an error.
pub fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

/// A progress bar on stderr, only on a terminal.
struct Progress {
    on: bool,
    last: std::sync::Mutex<u64>,
}

impl Progress {
    fn new(on: bool) -> Progress {
        Progress {
            on,
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
        eprint!(
            "\r[{}{}] {pct:3}% {done}/{total} grid points",
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

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{:.1}%", x * 100.0))
}

/// The readable table: one row per caller, then the grouped line.
pub fn table(run: &Run<'_>) -> String {
    let obj = run.opts.objective;
    // The objective gets its own column unless it is the final capital, shown anyway.
    let show_obj = obj != quantbot_core::metrics::Objective::FinalCapital;
    let mut header = vec!["caller", "calls", "best policy"];
    if show_obj {
        header.push(obj.as_str());
    }
    header.extend(["final", "return", "win", "max dd", "trades", "flags"]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &run.result.per_caller {
        let b = r.best_scored();
        let m = &b.metrics;
        let flags = caller_flags(r);
        let mut row = vec![
            r.caller.clone(),
            r.calls.to_string(),
            short_label(&run.grid.params(b.index)),
        ];
        if show_obj {
            row.push(fmt_opt(obj.value(m), 4));
        }
        row.extend([
            format!("{:.2}", m.final_capital),
            pct(Some(m.total_return)),
            pct(m.win_rate),
            pct(Some(m.max_drawdown)),
            m.trades.to_string(),
            flags.join(","),
        ]);
        rows.push(row);
    }
    let mut out = render_table(&header, &rows);
    let (ok, ex) = run.ds.coverage();
    out.push_str(&format!(
        "\n{} callers, {ok} eligible calls ({} excluded), grid of {} policies\n",
        run.result.per_caller.len(),
        ex.iter().sum::<usize>(),
        run.grid.size()
    ));
    match &run.result.grouped {
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

/// The non-default parts of a label, for narrow tables.
pub fn short_label(p: &PolicyParams) -> String {
    let full = quantbot_core::grid::label(p);
    let parts: Vec<&str> = full.split(' ').filter(|s| !s.ends_with("=-")).collect();
    parts.join(" ")
}

/// Left-aligned text, right-aligned numbers.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (k, cell) in r.iter().enumerate().take(n) {
            width[k] = width[k].max(cell.chars().count());
        }
    }
    let numeric = |s: &str| s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (k, cell) in cells.iter().enumerate() {
            let pad = width[k] - cell.chars().count();
            if k > 0 {
                s.push_str("  ");
            }
            if k > 0 && numeric(cell) {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if k + 1 < n {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        width
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(String::new, |x| x.to_string())
}

/// CSV: one row per caller, then a `(grouped)` row.
pub fn csv(run: &Run<'_>) -> String {
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
    let mut out = header.join(",");
    for s in &skip_names {
        out.push(',');
        out.push_str(s);
    }
    out.push('\n');
    let mut row = |cells: Vec<String>, m: &Metrics| {
        let mut all = cells;
        all.extend(metric_values(m).into_iter().map(csv_num));
        all.extend(m.skipped.iter().map(|n| n.to_string()));
        out.push_str(&all.join(","));
        out.push('\n');
    };
    for r in &run.result.per_caller {
        let b = r.best_scored();
        row(
            vec![
                csv_field(&r.caller),
                r.calls.to_string(),
                b.index.to_string(),
                csv_field(&run.grid.label(b.index)),
                b.feasible.to_string(),
                r.collapsed.to_string(),
                r.edge.to_string(),
            ],
            &b.metrics,
        );
    }
    if let Some(g) = &run.result.grouped {
        let calls: usize = run
            .result
            .per_caller
            .iter()
            .filter(|r| r.kept)
            .map(|r| r.calls)
            .sum();
        row(
            vec![
                "(grouped)".into(),
                calls.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            &g.metrics,
        );
    }
    out
}

/// `grid.parquet`: one row per caller and policy index (SPEC §10.1).
fn grid_parquet(path: &Path, run: &Run<'_>) -> anyhow::Result<()> {
    let grid = &run.grid;
    let mut caller = Vec::new();
    let mut index = Vec::new();
    let mut label = Vec::new();
    let mut feasible = Vec::new();
    let mut dims: Vec<Vec<Option<f64>>> = vec![Vec::new(); 6];
    let mut ladder = Vec::new();
    let mut rule = Vec::new();
    let mut metrics: Vec<Vec<Option<f64>>> = vec![Vec::new(); METRIC_NAMES.len()];
    let mut skipped: Vec<Vec<Option<i64>>> = vec![Vec::new(); 4];
    for r in &run.result.per_caller {
        for s in &r.scored {
            let p = grid.params(s.index);
            caller.push(Some(r.caller.clone()));
            index.push(Some(s.index as i64));
            label.push(Some(grid.label(s.index)));
            feasible.push(Some(s.feasible));
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
            for (k, v) in metric_values(&s.metrics).into_iter().enumerate() {
                metrics[k].push(v);
            }
            for k in 0..4 {
                skipped[k].push(Some(s.metrics.skipped[k] as i64));
            }
        }
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
        if *name == "trades" || *name == "ambiguous_trades" {
            cols.push(NamedCol {
                name: name.to_string(),
                col: Col::I64(
                    if *name == "trades" {
                        "trades"
                    } else {
                        "ambiguous_trades"
                    },
                    values.into_iter().map(|v| v.map(|x| x as i64)).collect(),
                ),
            });
        } else {
            cols.push(NamedCol {
                name: name.to_string(),
                col: Col::F64("metric", values),
            });
        }
    }
    for (k, r) in SkipReason::ALL.iter().enumerate() {
        cols.push(NamedCol {
            name: format!("skipped_{}", r.as_str()),
            col: Col::I64("skipped", std::mem::take(&mut skipped[k])),
        });
    }
    let nullable = [
        "tp",
        "sl",
        "trail",
        "trail_activation",
        "be_trigger",
        "ladder",
        "indicator",
        "win_rate",
        "mean_return",
        "median_return",
        "profit_factor",
        "sharpe",
        "stop_out_rate",
        "mean_hold_hours",
        "capture",
        "final_capital",
        "total_return",
        "max_drawdown",
    ];
    write_parquet(path, cols, &nullable)?;
    Ok(())
}

/// One trade of a caller's best-policy wallet, with its size.
pub struct BestTrade<'a> {
    pub caller: String,
    pub policy_index: usize,
    pub trade: Trade,
    pub call_id: &'a str,
    pub size: f64,
    pub pnl: f64,
    /// The multiple the wallet credited (under v1: 1 + pnl / size).
    pub multiple: f64,
}

/// The trades each caller's best-policy wallet took (in-sample under holdout), with sizes.
pub fn best_trades<'a>(run: &'a Run<'a>) -> Vec<BestTrade<'a>> {
    let mut out = Vec::new();
    let frac = run.opts.holdout_fraction();
    for r in &run.result.per_caller {
        let Some((_, calls)) = run.prepared.callers().find(|(c, _)| *c == r.caller) else {
            continue;
        };
        let n_in = if frac > 0.0 {
            Prepared::in_sample_count(calls.len(), frac)
        } else {
            calls.len()
        };
        let calls = &calls[..n_in];
        let trades = run.prepared.trades(calls, r.best, &run.opts.exec);
        let wallet = run.prepared.wallet(calls, &trades, |_| r.best, &run.opts);
        for t in &wallet.taken {
            let call = run.prepared.windows()[calls[t.offer]].call;
            out.push(BestTrade {
                caller: r.caller.clone(),
                policy_index: r.best,
                trade: trades[t.offer].expect("a taken offer has a trade"),
                call_id: call.call_id.as_str(),
                size: t.size,
                pnl: t.pnl,
                multiple: t.multiple,
            });
        }
    }
    out
}

fn trades_parquet(path: &Path, run: &Run<'_>) -> anyhow::Result<()> {
    let rows = best_trades(run);
    let s = |f: fn(&BestTrade<'_>) -> String| -> Vec<Option<String>> {
        rows.iter().map(|r| Some(f(r))).collect()
    };
    let i = |f: fn(&BestTrade<'_>) -> i64| -> Vec<Option<i64>> {
        rows.iter().map(|r| Some(f(r))).collect()
    };
    let x = |f: fn(&BestTrade<'_>) -> f64| -> Vec<Option<f64>> {
        rows.iter().map(|r| Some(f(r))).collect()
    };
    let cols = vec![
        col(Col::Str("call_id", s(|r| r.call_id.to_string()))),
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
    write_parquet(path, cols, &[])?;
    Ok(())
}

fn write_bundle(dir: &Path, run: &Run<'_>, json: &Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(json)?;
    text.push('\n');
    std::fs::write(dir.join("results.json"), text).context("writing results.json")?;
    grid_parquet(&dir.join("grid.parquet"), run)?;
    trades_parquet(&dir.join("trades.parquet"), run)?;
    std::fs::write(dir.join("index.html"), html::v1_page(run, json))
        .context("writing index.html")?;
    Ok(())
}
