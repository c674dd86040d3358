//! The results of `backtest v1-baseline`: one model of a run ([`RunReport`], a [`CallerRow`] per
//! caller) that the §10.1 JSON and the CLI's CSV, table, HTML and Parquet writers read, built the
//! same way natively and in the browser so the two can be compared number for number.

use quantbot_core::grid::{DimValues, Grid};
use quantbot_core::metrics::{Metrics, Objective};
use quantbot_core::optimize::{CallerResult, HoldoutResult, SearchOptions, SearchResult};
use quantbot_core::policy::{CostModel, EntryPrice, Intrabar, PolicyParams};
use quantbot_core::robust::Robustness;
use quantbot_core::wallet::SkipReason;
use serde_json::{json, Map, Value};

use crate::dataset::{coverage_json, selected, Dataset, LoadOptions};
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
pub fn options_json(load: &LoadOptions, sel: &Selection, o: &SearchOptions) -> Value {
    let e = &o.exec;
    let w = &o.wallet;
    let c = &o.constraints;
    json!({
        "from": sel.from,
        "to": sel.to,
        "interval": interval_name(load.interval_s),
        "horizon_hours": load.horizon_hours,
        "min_coverage": load.min_coverage,
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
        "folds": o.folds,
    })
}

/// Flags as words, in table order. The grid-boundary flag (§6 `flags.edge`) reads `grid edge`,
/// so that it is not taken for the §13 verdict `edge` shown beside it.
fn flag_words(feasible: bool, collapsed: bool, edge: bool, not_grouped: bool) -> Vec<&'static str> {
    [
        (!feasible, "infeasible"),
        (collapsed, "collapsed"),
        (edge, "grid edge"),
        (not_grouped, "not grouped"),
    ]
    .into_iter()
    .filter_map(|(on, word)| on.then_some(word))
    .collect()
}

/// A caller's flags as words, for tables: `infeasible` (its best point fails a constraint),
/// `collapsed`, `grid edge` (SPEC §6 `edge`), `not grouped` (left out of the grouped wallet).
pub fn caller_flags(r: &CallerResult) -> Vec<&'static str> {
    flag_words(r.best_scored().feasible, r.collapsed, r.edge, !r.kept)
}

/// The non-default parts of a policy's label (`tp=2 sl=0.9 max_hold=48h`), for narrow tables.
pub fn short_label(p: &PolicyParams) -> String {
    let full = quantbot_core::grid::label(p);
    let parts: Vec<&str> = full.split(' ').filter(|s| !s.ends_with("=-")).collect();
    parts.join(" ")
}

/// One caller of a v1-baseline run, as every writer shows it: its best policy (label,
/// parameters, metrics, the objective's value), its flags and its holdout.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerRow {
    pub caller: String,
    /// Eligible calls of the caller (all of them, under holdout too).
    pub calls: usize,
    /// Policy index of the best point.
    pub best: usize,
    /// The canonical label of the best policy ([`quantbot_core::grid::label`]).
    pub label: String,
    /// The label's non-default parts ([`short_label`]).
    pub short_label: String,
    pub params: PolicyParams,
    /// Whether the best point meets every constraint.
    pub feasible: bool,
    pub collapsed: bool,
    pub edge: bool,
    /// Whether the caller trades in the grouped wallet.
    pub kept: bool,
    /// The run's objective of the best point (`None` where it does not exist).
    pub objective_value: Option<f64>,
    /// The best point's metrics (in-sample under holdout).
    pub metrics: Metrics,
    pub holdout: Option<HoldoutResult>,
    /// SPEC §13 (`None` in grouped mode).
    pub robustness: Option<Robustness>,
    /// The label of each walk-forward fold's choice, in fold order.
    pub fold_labels: Vec<String>,
}

/// The §13.5 `robustness` object (fold choices labelled by `fold_labels`, in fold order).
pub fn robustness_json(r: &Robustness, fold_labels: &[String]) -> Value {
    let walk_forward = r.walk_forward.as_ref().map(|w| {
        let folds: Vec<Value> = w
            .folds
            .iter()
            .zip(fold_labels)
            .map(|(f, label)| {
                json!({
                    "fold": f.fold,
                    "best": {"index": f.best, "label": label},
                    "in_sample": metrics_json(&f.in_sample),
                    "out_of_sample": metrics_json(&f.out_of_sample),
                })
            })
            .collect();
        json!({
            "folds": folds,
            "compounded_oos_return": num(Some(w.compounded_oos_return)),
            "policy_changes": w.policy_changes,
        })
    });
    json!({
        "trials": r.deflated.trials,
        "sr0": num(r.deflated.sr0),
        "dsr": num(r.deflated.dsr),
        "pbo": num(r.pbo),
        "walk_forward": walk_forward,
        "verdict": r.verdict.as_str(),
    })
}

impl CallerRow {
    /// The row of one caller's search result.
    pub fn new(grid: &Grid, objective: Objective, r: &CallerResult) -> CallerRow {
        let b = r.best_scored();
        let params = grid.params(b.index);
        CallerRow {
            caller: r.caller.clone(),
            calls: r.calls,
            best: b.index,
            label: quantbot_core::grid::label(&params),
            short_label: short_label(&params),
            params,
            feasible: b.feasible,
            collapsed: r.collapsed,
            edge: r.edge,
            kept: r.kept,
            objective_value: objective.value(&b.metrics),
            metrics: b.metrics.clone(),
            holdout: r.holdout.clone(),
            robustness: r.robustness.clone(),
            fold_labels: r
                .robustness
                .iter()
                .flat_map(|x| x.walk_forward.iter().flat_map(|w| &w.folds))
                .map(|f| quantbot_core::grid::label(&grid.params(f.best)))
                .collect(),
        }
    }

    /// §13.5's table columns: `dsr`, `pbo`, the verdict and `wf_oos` (the compounded
    /// out-of-sample return of the walk-forward).
    pub fn dsr(&self) -> Option<f64> {
        self.robustness.as_ref().and_then(|r| r.deflated.dsr)
    }

    pub fn pbo(&self) -> Option<f64> {
        self.robustness.as_ref().and_then(|r| r.pbo)
    }

    pub fn verdict(&self) -> Option<&'static str> {
        self.robustness.as_ref().map(|r| r.verdict.as_str())
    }

    pub fn wf_oos(&self) -> Option<f64> {
        let r = self.robustness.as_ref()?;
        r.walk_forward.as_ref().map(|w| w.compounded_oos_return)
    }

    /// The SPEC §6 flags as words: `infeasible`, `collapsed`, `grid edge`.
    pub fn quality_flags(&self) -> Vec<&'static str> {
        flag_words(self.feasible, self.collapsed, self.edge, false)
    }

    /// [`CallerRow::quality_flags`], then `not grouped` when the caller is left out of the
    /// grouped wallet (the same words as [`caller_flags`]).
    pub fn flags(&self) -> Vec<&'static str> {
        flag_words(self.feasible, self.collapsed, self.edge, !self.kept)
    }

    /// The caller's object of §10.1 `per_caller`.
    pub fn to_json(&self) -> Value {
        json!({
            "caller": self.caller,
            "calls": self.calls,
            "best": {
                "index": self.best,
                "label": self.label,
                "params": params_json(&self.params),
                "feasible": self.feasible,
                "metrics": metrics_json(&self.metrics),
            },
            "flags": {"collapsed": self.collapsed, "edge": self.edge},
            "holdout": self.holdout.as_ref().map(|h| json!({
                "in_sample": metrics_json(&h.in_sample),
                "out_of_sample": metrics_json(&h.out_of_sample),
            })),
            "robustness": self.robustness.as_ref().map(|r| robustness_json(r, &self.fold_labels)),
        })
    }
}

/// The grouped wallet of the kept callers.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedRow {
    pub callers: Vec<String>,
    /// Eligible calls of the kept callers.
    pub calls: usize,
    pub metrics: Metrics,
}

/// Everything a v1-baseline run reports, computed once from the dataset, the selection, the
/// grid, the options and the search result. The §10.1 JSON ([`RunReport::to_json`]) and the
/// CLI's CSV, table, `index.html` and Parquet writers all read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// `duckdb:PATH`, `data:DIR` or the lab's URL.
    pub source_label: String,
    pub manifest_sha256: Option<String>,
    /// Every option in effect, as §10.1 `options` ([`options_json`]).
    pub options: Value,
    pub objective: Objective,
    pub holdout_fraction: f64,
    /// Walk-forward folds `K` (the `wf_oos` column shows when `K > 0`).
    pub folds: usize,
    /// The grid's dimensions with their values, in order.
    pub dimensions: Vec<(&'static str, DimValues)>,
    pub grid_size: usize,
    /// Eligible calls of the selection, and excluded ones (all reasons together).
    pub eligible: usize,
    pub excluded: usize,
    /// §10.1 `coverage`: eligible calls and exclusions by reason.
    pub coverage: Value,
    /// The first and last alert of the selected calls (ms since the epoch).
    pub alert_span: Option<(i64, i64)>,
    /// Sorted by caller name (byte order), as the search returns them.
    pub per_caller: Vec<CallerRow>,
    /// `None` in per-caller mode, or when no caller was kept.
    pub grouped: Option<GroupedRow>,
}

/// What a run's report reads of its dataset: where it came from, how it was loaded, and the
/// coverage and alert span of its selected calls.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSummary {
    pub source_label: String,
    pub manifest_sha256: Option<String>,
    pub load: LoadOptions,
    pub eligible: usize,
    /// Excluded calls by reason (`Exclusion as usize`).
    pub excluded: [usize; 5],
    /// The first and last alert of the selected calls (ms since the epoch).
    pub alert_span: Option<(i64, i64)>,
}

impl DatasetSummary {
    pub fn of(ds: &Dataset, sel: &Selection) -> DatasetSummary {
        let (eligible, excluded) = ds.coverage_of(sel);
        let mut alerts = ds
            .calls
            .iter()
            .filter(|c| selected(sel, c))
            .map(|c| c.alert_ts_ms);
        let alert_span = alerts
            .next()
            .map(|first| alerts.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))));
        DatasetSummary {
            source_label: ds.source_label.clone(),
            manifest_sha256: ds.manifest_sha256.clone(),
            load: ds.load_options(),
            eligible,
            excluded,
            alert_span,
        }
    }

    /// The summary of two parts of one selection (disjoint calls of the same dataset).
    pub fn add(&mut self, part: &DatasetSummary) {
        self.eligible += part.eligible;
        for (a, b) in self.excluded.iter_mut().zip(part.excluded) {
            *a += b;
        }
        self.alert_span = match (self.alert_span, part.alert_span) {
            (Some((lo, hi)), Some((l, h))) => Some((lo.min(l), hi.max(h))),
            (a, b) => a.or(b),
        };
    }
}

impl RunReport {
    pub fn new(
        ds: &Dataset,
        sel: &Selection,
        grid: &Grid,
        opts: &SearchOptions,
        result: &SearchResult,
    ) -> RunReport {
        RunReport::of_summary(&DatasetSummary::of(ds, sel), sel, grid, opts, result)
    }

    /// The report of a run whose dataset is known by its summary (a run in parts adds up its
    /// parts' summaries).
    pub fn of_summary(
        ds: &DatasetSummary,
        sel: &Selection,
        grid: &Grid,
        opts: &SearchOptions,
        result: &SearchResult,
    ) -> RunReport {
        let per_caller: Vec<CallerRow> = result
            .per_caller
            .iter()
            .map(|r| CallerRow::new(grid, opts.objective, r))
            .collect();
        let grouped = result.grouped.as_ref().map(|g| GroupedRow {
            callers: g.callers.clone(),
            calls: per_caller.iter().filter(|r| r.kept).map(|r| r.calls).sum(),
            metrics: g.metrics.clone(),
        });
        RunReport {
            source_label: ds.source_label.clone(),
            manifest_sha256: ds.manifest_sha256.clone(),
            options: options_json(&ds.load, sel, opts),
            objective: opts.objective,
            holdout_fraction: opts.holdout_fraction(),
            folds: opts.folds,
            dimensions: grid.dimensions(),
            grid_size: grid.size(),
            eligible: ds.eligible,
            excluded: ds.excluded.iter().sum(),
            coverage: coverage_json(ds.eligible, &ds.excluded),
            alert_span: ds.alert_span,
            per_caller,
            grouped,
        }
    }

    /// `data` for a published dataset folder (it has a manifest), `duckdb` otherwise.
    pub fn source_kind(&self) -> &'static str {
        if self.manifest_sha256.is_some() {
            "data"
        } else {
            "duckdb"
        }
    }

    /// The §10.1 result document.
    pub fn to_json(&self) -> Value {
        let dims: Vec<Value> = self
            .dimensions
            .iter()
            .map(|(name, values)| json!({"name": name, "values": dim_values_json(values)}))
            .collect();
        json!({
            "engine": {"name": "quantbot", "version": quantbot_core::VERSION},
            "dataset": {"source": self.source_label, "kind": self.source_kind(), "manifest_sha256": self.manifest_sha256},
            "options": self.options,
            "grid": {"dimensions": dims, "size": self.grid_size},
            "coverage": self.coverage,
            "per_caller": self.per_caller.iter().map(CallerRow::to_json).collect::<Vec<_>>(),
            "grouped": self.grouped.as_ref().map_or(Value::Null, |g| json!({
                "callers": g.callers,
                "metrics": metrics_json(&g.metrics),
            })),
        })
    }
}

/// The §10.1 result document (the lab's `results.json`): [`RunReport::to_json`].
pub fn results_json(
    ds: &Dataset,
    sel: &Selection,
    grid: &Grid,
    opts: &SearchOptions,
    result: &SearchResult,
) -> Value {
    RunReport::new(ds, sel, grid, opts, result).to_json()
}

/// One grid point of one caller: a row of `grid.parquet` (SPEC §10.1).
#[derive(Debug, Clone, PartialEq)]
pub struct GridPoint<'a> {
    pub caller: &'a str,
    pub index: usize,
    /// The canonical label ([`quantbot_core::grid::label`]).
    pub label: String,
    pub params: PolicyParams,
    pub feasible: bool,
    pub metrics: &'a Metrics,
}

/// Every grid point of every caller, callers in result order, points in policy-index order
/// (in-sample under holdout).
pub fn grid_points<'a>(
    grid: &'a Grid,
    result: &'a SearchResult,
) -> impl Iterator<Item = GridPoint<'a>> + 'a {
    result.per_caller.iter().flat_map(move |r| {
        r.scored.iter().map(move |s| {
            let params = grid.params(s.index);
            GridPoint {
                caller: &r.caller,
                index: s.index,
                label: quantbot_core::grid::label(&params),
                params,
                feasible: s.feasible,
                metrics: &s.metrics,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantbot_core::data::Call;
    use quantbot_core::grid::GridSpec;
    use quantbot_core::metrics::Scored;
    use quantbot_core::optimize::GroupedResult;
    use quantbot_core::policy::ExecConfig;
    use quantbot_core::wallet::{WalletConfig, WalletRun};
    use quantbot_core::window::Exclusion;

    fn metrics(k: f64) -> Metrics {
        Metrics {
            final_capital: 10_000.0 + k,
            total_return: k / 10_000.0,
            trades: 3,
            skipped: [0, 1, 0, 2],
            win_rate: Some(0.5),
            mean_return: None,
            median_return: Some(0.25),
            profit_factor: None,
            sharpe: Some(1.5),
            max_drawdown: 0.1,
            stop_out_rate: Some(0.0),
            mean_hold_hours: Some(4.0),
            capture: None,
            ambiguous_trades: 0,
        }
    }

    /// A caller whose grid points score `k`, `k + 1`, …, the best at `best`.
    fn caller(
        name: &str,
        calls: usize,
        best: usize,
        flags: (bool, bool, bool, bool),
    ) -> CallerResult {
        let (feasible, collapsed, edge, kept) = flags;
        CallerResult {
            caller: name.into(),
            calls,
            scored: (0..3)
                .map(|index| Scored {
                    index,
                    feasible: index != best || feasible,
                    metrics: metrics(index as f64),
                })
                .collect(),
            best,
            collapsed,
            edge,
            holdout: None,
            robustness: None,
            kept,
        }
    }

    fn call(id: &str, chain: &str, alert_ts_ms: i64) -> Call {
        Call {
            call_id: id.into(),
            caller: "Alpha".into(),
            chain: chain.into(),
            mint: "M".into(),
            alert_ts_ms,
            price_at_alert: None,
        }
    }

    /// Three solana calls (two eligible) and one on another chain.
    fn dataset() -> Dataset {
        Dataset {
            source_label: "data:demo".into(),
            manifest_sha256: Some("ab".repeat(32)),
            interval_s: 60,
            horizon_hours: 48.0,
            min_coverage: 0.8,
            calls: vec![
                call("a", "solana", 3_000),
                call("b", "solana", 1_000),
                call("c", "base", 500),
                call("d", "solana", 2_000),
            ],
            tokens: Default::default(),
            status: vec![Ok(0..1), Ok(0..1), Ok(0..1), Err(Exclusion::LateStart)],
        }
    }

    /// A grid of three take-profit levels and a result with two callers, `Beta` left out of
    /// the grouped wallet.
    fn run(objective: Objective, sel: &Selection) -> (Grid, SearchResult, RunReport) {
        let spec = GridSpec {
            tp: vec![Some(1.5), Some(2.0), None],
            sl: vec![Some(0.9)],
            ..GridSpec::default()
        };
        let grid = Grid::new(spec, 48.0).unwrap();
        let mut opts =
            SearchOptions::new(ExecConfig::defaults(60).unwrap(), WalletConfig::default());
        opts.objective = objective;
        let result = SearchResult {
            per_caller: vec![
                caller("Alpha", 7, 1, (true, false, true, true)),
                caller("Beta", 2, 2, (false, true, false, false)),
            ],
            grouped: Some(GroupedResult {
                callers: vec!["Alpha".into()],
                metrics: metrics(9.0),
                wallet: WalletRun {
                    initial_capital: 10_000.0,
                    final_capital: 10_009.0,
                    taken: Vec::new(),
                    skips: Vec::new(),
                    equity: Vec::new(),
                    max_drawdown: 0.1,
                    max_open: 0,
                    decisions: Vec::new(),
                },
            }),
            evaluations: 6,
            wallets: 0,
            wallet_points: 0,
        };
        let report = RunReport::new(&dataset(), sel, &grid, &opts, &result);
        (grid, result, report)
    }

    fn check_row(row: &CallerRow, expected: (&str, usize, &str, &[&str], &[&str])) {
        let (label, best, short, flags, quality) = expected;
        assert_eq!(row.label, label);
        assert_eq!(row.best, best);
        assert_eq!(row.short_label, short);
        assert_eq!(row.flags(), flags);
        assert_eq!(row.quality_flags(), quality);
    }

    #[test]
    fn caller_rows_carry_labels_flags_and_the_objective() {
        let (grid, result, report) = run(Objective::Sharpe, &Selection::all());
        check_row(
            &report.per_caller[0],
            (
                "tp=2 sl=0.9 trail=- trail_activation=- be_trigger=- ladder=- max_hold=48h indicator=-",
                1,
                "tp=2 sl=0.9 max_hold=48h",
                &["grid edge"],
                &["grid edge"],
            ),
        );
        check_row(
            &report.per_caller[1],
            (
                "tp=- sl=0.9 trail=- trail_activation=- be_trigger=- ladder=- max_hold=48h indicator=-",
                2,
                "sl=0.9 max_hold=48h",
                &["infeasible", "collapsed", "not grouped"],
                &["infeasible", "collapsed"],
            ),
        );
        for (row, r) in report.per_caller.iter().zip(&result.per_caller) {
            assert_eq!(row.label, grid.label(r.best));
            assert_eq!(row.flags(), caller_flags(r));
            assert_eq!(row.metrics, r.best_scored().metrics);
            assert_eq!(row.objective_value, Some(1.5));
        }
        let g = report.grouped.as_ref().unwrap();
        assert_eq!((g.callers.clone(), g.calls), (vec!["Alpha".to_string()], 7));
        assert_eq!(report.objective, Objective::Sharpe);
        assert_eq!(report.grid_size, 3);
    }

    #[test]
    fn coverage_and_alert_span_count_only_the_selection() {
        let every = run(Objective::FinalCapital, &Selection::all()).2;
        assert_eq!((every.eligible, every.excluded), (3, 1));
        assert_eq!(every.alert_span, Some((500, 3_000)));
        let solana = Selection {
            chain: Some("solana".into()),
            ..Selection::all()
        };
        let report = run(Objective::FinalCapital, &solana).2;
        assert_eq!((report.eligible, report.excluded), (2, 1));
        assert_eq!(report.alert_span, Some((1_000, 3_000)));
        assert_eq!(report.coverage["eligible"], 2);
        assert_eq!(report.coverage["excluded"]["late_start"], 1);
    }

    #[test]
    fn the_json_document_is_built_from_the_rows() {
        let report = run(Objective::FinalCapital, &Selection::all()).2;
        let j = report.to_json();
        assert_eq!(j["dataset"]["kind"], "data");
        assert_eq!(j["grid"]["size"], 3);
        let alpha = &j["per_caller"][0];
        assert_eq!(alpha["best"]["label"], report.per_caller[0].label);
        assert_eq!(alpha["best"]["params"]["tp"], 2.0);
        assert_eq!(alpha["best"]["metrics"]["final_capital"], 10_001.0);
        assert_eq!(alpha["best"]["metrics"]["skipped"]["max_positions"], 1);
        assert_eq!(alpha["flags"], json!({"collapsed": false, "edge": true}));
        assert_eq!(alpha["holdout"], Value::Null);
        assert_eq!(j["per_caller"][1]["best"]["feasible"], false);
        assert_eq!(j["grouped"]["callers"], json!(["Alpha"]));
        assert_eq!(j["grouped"]["metrics"]["mean_return"], Value::Null);
    }

    #[test]
    fn grid_points_list_every_caller_and_policy_in_order() {
        let (grid, result, _) = run(Objective::FinalCapital, &Selection::all());
        let points: Vec<(&str, usize, bool, f64)> = grid_points(&grid, &result)
            .map(|p| (p.caller, p.index, p.feasible, p.metrics.final_capital))
            .collect();
        assert_eq!(
            points,
            [
                ("Alpha", 0, true, 10_000.0),
                ("Alpha", 1, true, 10_001.0),
                ("Alpha", 2, true, 10_002.0),
                ("Beta", 0, true, 10_000.0),
                ("Beta", 1, true, 10_001.0),
                ("Beta", 2, false, 10_002.0),
            ]
        );
        let last = grid_points(&grid, &result).last().unwrap();
        assert_eq!(last.label, grid.label(2));
        assert_eq!(last.params, grid.params(2));
    }
}
