//! The rows of the lab's result tables, built from the engine's values (the page computes
//! nothing): the per-caller table, a caller's grid, the grouped wallet's metrics, and the
//! equity curve as SVG points.

use quantbot_core::grid::Grid;
use quantbot_core::metrics::{Metrics, Objective};
use quantbot_core::optimize::{CallerResult, SearchResult};
use quantbot_core::wallet::SkipReason;

use crate::table::{Cell, Table};

/// Metric columns, in §5 order, as shown in the lab's tables.
pub use quantbot_format::results::METRIC_NAMES as METRIC_COLUMNS;

/// The metric cells in [`METRIC_COLUMNS`] order.
pub fn metric_cells(m: &Metrics) -> Vec<Cell> {
    quantbot_format::results::metric_values(m)
        .into_iter()
        .map(Cell::Num)
        .collect()
}

/// Columns of the per-caller table.
fn caller_columns(holdout: bool) -> Vec<String> {
    let mut c: Vec<String> = [
        "caller",
        "calls",
        "best policy",
        "objective",
        "final_capital",
        "total_return",
        "win_rate",
        "max_drawdown",
        "trades",
        "flags",
    ]
    .map(String::from)
    .to_vec();
    if holdout {
        c.extend(
            [
                "in-sample return",
                "out-of-sample return",
                "out-of-sample trades",
            ]
            .map(String::from),
        );
    }
    c
}

/// The per-caller table of a search: one row per caller, muted when its best is infeasible.
pub fn caller_table(grid: &Grid, result: &SearchResult, objective: Objective) -> Table {
    let holdout = result.per_caller.iter().any(|c| c.holdout.is_some());
    let mut muted = Vec::new();
    let rows = result
        .per_caller
        .iter()
        .map(|r| {
            let b = r.best_scored();
            let m = &b.metrics;
            let flags = quantbot_format::results::caller_flags(r);
            muted.push(!b.feasible);
            let mut row = vec![
                Cell::Text(r.caller.clone()),
                Cell::Num(Some(r.calls as f64)),
                Cell::Text(grid.label(b.index)),
                Cell::Num(objective.value(m)),
                Cell::Num(Some(m.final_capital)),
                Cell::Num(Some(m.total_return)),
                Cell::Num(m.win_rate),
                Cell::Num(Some(m.max_drawdown)),
                Cell::Num(Some(m.trades as f64)),
                Cell::Text(flags.join(", ")),
            ];
            if let Some(h) = &r.holdout {
                row.push(Cell::Num(Some(h.in_sample.total_return)));
                row.push(Cell::Num(Some(h.out_of_sample.total_return)));
                row.push(Cell::Num(Some(h.out_of_sample.trades as f64)));
            } else if holdout {
                row.extend([Cell::Num(None), Cell::Num(None), Cell::Num(None)]);
            }
            row
        })
        .collect();
    Table {
        columns: caller_columns(holdout),
        rows,
        muted,
    }
}

/// An equity curve as SVG polyline points in a `width` × `height` box: time left to right,
/// equity bottom to top, starting at `(first time, initial)`; the scale covers the initial
/// capital too. Empty when there is nothing to draw.
pub fn equity_points(curve: &[(i64, f64)], initial: f64, width: f64, height: f64) -> String {
    let Some(&(t_end, _)) = curve.last() else {
        return String::new();
    };
    let t0 = curve[0].0;
    let (mut lo, mut hi) = (initial, initial);
    for &(_, e) in curve {
        lo = lo.min(e);
        hi = hi.max(e);
    }
    let span_t = (t_end - t0).max(1) as f64;
    let span_e = if hi > lo { hi - lo } else { 1.0 };
    let x = |t: i64| (t - t0) as f64 / span_t * width;
    let y = |e: f64| height - (e - lo) / span_e * height;
    std::iter::once((t0, initial))
        .chain(curve.iter().copied())
        .map(|(t, e)| format!("{:.1},{:.1}", x(t), y(e)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Columns of a caller's grid table: index, feasibility, one per grid dimension, every metric
/// and the skips by reason.
fn grid_columns(grid: &Grid) -> Vec<String> {
    let mut c = vec!["index".to_string(), "feasible".to_string()];
    c.extend(grid.dimensions().iter().map(|(n, _)| n.to_string()));
    c.extend(METRIC_COLUMNS.map(String::from));
    c.extend(SkipReason::ALL.map(|r| format!("skipped_{}", r.as_str())));
    c
}

/// Every grid point of a caller (in-sample under holdout), in policy-index order; infeasible
/// points muted.
pub fn grid_table(grid: &Grid, caller: &CallerResult) -> Table {
    let rows = caller
        .scored
        .iter()
        .map(|s| {
            let p = grid.params(s.index);
            let mut row = vec![
                Cell::Num(Some(s.index as f64)),
                Cell::Text(if s.feasible { "yes" } else { "no" }.into()),
                Cell::Num(p.tp),
                Cell::Num(p.sl),
                Cell::Num(p.trail),
                Cell::Num(p.trail_activation),
                Cell::Num(p.be_trigger),
                Cell::Text(p.ladder.as_ref().map_or("-".into(), |l| l.label())),
                Cell::Num(Some(p.max_hold_hours)),
                Cell::Text(p.indicator.map_or("-".into(), |r| r.to_string())),
            ];
            row.extend(metric_cells(&s.metrics));
            row.extend(s.metrics.skipped.iter().map(|&n| Cell::Num(Some(n as f64))));
            row
        })
        .collect();
    Table {
        columns: grid_columns(grid),
        rows,
        muted: caller.scored.iter().map(|s| !s.feasible).collect(),
    }
}

/// A caller's grid with the CLI's `grid.parquet` columns (SPEC §10.1), for its CSV export:
/// the dimensions as numbers (empty when off), metrics exact, skips by reason.
pub fn grid_file_table(grid: &Grid, caller: &CallerResult) -> Table {
    let mut columns: Vec<String> = [
        "caller",
        "policy_index",
        "label",
        "tp",
        "sl",
        "trail",
        "trail_activation",
        "be_trigger",
        "ladder",
        "max_hold",
        "indicator",
        "feasible",
    ]
    .map(String::from)
    .to_vec();
    columns.extend(METRIC_COLUMNS.map(String::from));
    columns.extend(
        SkipReason::ALL
            .iter()
            .map(|r| format!("skipped_{}", r.as_str())),
    );
    let rows = caller
        .scored
        .iter()
        .map(|s| {
            let p = grid.params(s.index);
            let mut row = vec![
                Cell::Text(caller.caller.clone()),
                Cell::Num(Some(s.index as f64)),
                Cell::Text(grid.label(s.index)),
                Cell::Num(p.tp),
                Cell::Num(p.sl),
                Cell::Num(p.trail),
                Cell::Num(p.trail_activation),
                Cell::Num(p.be_trigger),
                Cell::Text(p.ladder.as_ref().map_or(String::new(), |l| l.label())),
                Cell::Num(Some(p.max_hold_hours)),
                Cell::Text(p.indicator.map_or(String::new(), |r| r.to_string())),
                Cell::Text(s.feasible.to_string()),
            ];
            row.extend(metric_cells(&s.metrics));
            row.extend(s.metrics.skipped.iter().map(|&n| Cell::Num(Some(n as f64))));
            row
        })
        .collect();
    Table {
        columns,
        rows,
        muted: caller.scored.iter().map(|s| !s.feasible).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equity_points_scale_to_the_box() {
        assert_eq!(equity_points(&[], 100.0, 600.0, 100.0), "");
        let curve = [(1_000, 150.0), (3_000, 50.0)];
        // Starts at the initial capital (the middle of 50..150), ends at the bottom right.
        assert_eq!(
            equity_points(&curve, 100.0, 600.0, 100.0),
            "0.0,50.0 0.0,0.0 600.0,100.0"
        );
        // A flat curve and a single point stay finite.
        assert_eq!(
            equity_points(&[(5, 100.0)], 100.0, 10.0, 10.0),
            "0.0,10.0 0.0,10.0"
        );
    }
}
