//! The caller leaderboard (SPEC §13, issue 17): per caller the verdict, the deflated Sharpe,
//! PBO, the walk-forward's compounded out-of-sample return and policy changes, calls, best
//! policy, its return and drawdown; the verdict explained in one sentence with its numbers;
//! and for the selected caller the walk-forward folds and their out-of-sample equity chained.

use quantbot_core::grid::Grid;
use quantbot_core::optimize::{CallerResult, SearchResult};
use quantbot_core::robust::cscv::SETS;
use quantbot_core::robust::{Verdict, WalkForward, EDGE_MAX_PBO, EDGE_MIN_DSR, OVERFIT_PBO};

use quantbot_format::results::short_label;

use crate::table::{Cell, Table};

/// Columns of the leaderboard.
pub const LEADERBOARD_COLUMNS: [&str; 10] = [
    "caller",
    "verdict",
    "dsr",
    "pbo",
    "wf oos return",
    "policy changes",
    "calls",
    "best policy",
    "total_return",
    "max_drawdown",
];

/// The verdict word of a caller (`–` in grouped mode, which has none).
pub fn verdict_word(r: &CallerResult) -> &'static str {
    r.robustness.as_ref().map_or("–", |x| x.verdict.as_str())
}

/// One row per caller, in result order (by name), the best policy by its non-default parts;
/// the verdict is a [`Cell::Badge`], so the
/// page shows it as a coloured word.
pub fn leaderboard(grid: &Grid, result: &SearchResult) -> Table {
    let rows = result
        .per_caller
        .iter()
        .map(|r| {
            let m = &r.best_scored().metrics;
            let rb = r.robustness.as_ref();
            let wf = rb.and_then(|x| x.walk_forward.as_ref());
            vec![
                Cell::Text(r.caller.clone()),
                Cell::Badge(verdict_word(r).to_string()),
                Cell::Num(rb.and_then(|x| x.deflated.dsr)),
                Cell::Num(rb.and_then(|x| x.pbo)),
                Cell::Num(wf.map(|w| w.compounded_oos_return)),
                Cell::Num(wf.map(|w| w.policy_changes as f64)),
                Cell::Num(Some(r.calls as f64)),
                Cell::Text(short_label(&grid.params(r.best))),
                Cell::Num(Some(m.total_return)),
                Cell::Num(Some(m.max_drawdown)),
            ]
        })
        .collect();
    Table {
        columns: LEADERBOARD_COLUMNS.map(String::from).to_vec(),
        rows,
        muted: result
            .per_caller
            .iter()
            .map(|r| !r.best_scored().feasible)
            .collect(),
    }
}

/// The verdict rule in words, with the SPEC's thresholds, shown above the leaderboard.
pub fn verdict_rule(folds: usize) -> String {
    format!(
        "edge: a deflated Sharpe of at least {EDGE_MIN_DSR}, the in-sample winner below the \
         out-of-sample median in at most {}% of the {SETS} splits, and a feasible best that \
         makes money{}; overfit: below the median in more than {}% of the splits; anything \
         else is inconclusive.",
        EDGE_MAX_PBO * 100.0,
        if folds > 0 {
            " and a positive walk-forward"
        } else {
            ""
        },
        OVERFIT_PBO * 100.0
    )
}

fn two(x: f64) -> String {
    format!("{x:.2}")
}

fn percent(x: f64) -> String {
    let s = format!("{:.1}", x * 100.0);
    format!("{} %", if s == "-0.0" { "0.0" } else { &s })
}

/// The verdict in one sentence with its numbers, for example "Brook — edge: the best of 30
/// policies has a deflated Sharpe of 0.98 (its Sharpe per trade 0.45 against 0.21 for the best
/// of 30 skill-less policies), and in 4.3 % of 70 splits the in-sample winner fell below the
/// median out of sample."
pub fn explain(r: &CallerResult, folds: usize) -> String {
    let Some(rb) = &r.robustness else {
        return format!("{} — no verdict in grouped mode.", r.caller);
    };
    let d = &rb.deflated;
    let sharpe = r.best_scored().metrics.sharpe;
    let dsr_part = match (d.dsr, d.sr0, sharpe) {
        (Some(dsr), Some(sr0), Some(sr)) => format!(
            "the best of {} policies has a deflated Sharpe of {} (its Sharpe per trade {} against {} for the best of {} skill-less policies)",
            d.trials,
            two(dsr),
            two(sr),
            two(sr0),
            d.trials
        ),
        _ if d.trials < 2 => format!(
            "no deflated Sharpe: {} of the policies have a Sharpe (2 are needed)",
            d.trials
        ),
        _ => format!(
            "no deflated Sharpe: the best of {} policies has fewer than 2 trades or no spread",
            d.trials
        ),
    };
    let pbo_part = match rb.pbo {
        Some(p) => format!(
            "in {} of {SETS} splits the in-sample winner fell below the median out of sample",
            percent(p)
        ),
        None => "too few calls to judge overfitting (16 are needed)".to_string(),
    };
    let wf_part = match (&rb.walk_forward, folds) {
        (_, 0) => String::new(),
        (None, k) => format!(
            "; too few calls for {k} walk-forward folds ({} are needed)",
            2 * (k + 1)
        ),
        (Some(w), _) => format!(
            "; walk-forward over {} folds compounded {} out of sample with {} policy change{}",
            w.folds.len(),
            percent(w.compounded_oos_return),
            w.policy_changes,
            if w.policy_changes == 1 { "" } else { "s" }
        ),
    };
    let why = match rb.verdict {
        Verdict::Edge => String::new(),
        Verdict::Overfit => format!(" (overfit: PBO above {OVERFIT_PBO})"),
        Verdict::Inconclusive => format!(
            " (edge needs a deflated Sharpe of at least {EDGE_MIN_DSR}, PBO at most {EDGE_MAX_PBO}, a feasible best with a positive return{})",
            if folds > 0 { " and a positive walk-forward" } else { "" }
        ),
    };
    format!(
        "{} — {}{why}: {dsr_part}, and {pbo_part}{wf_part}.",
        r.caller,
        rb.verdict.as_str()
    )
}

/// The walk-forward folds of a caller as a small table: fold, chosen policy, its in-sample
/// and out-of-sample returns and trades.
pub fn folds_table(grid: &Grid, wf: &WalkForward) -> Table {
    let rows = wf
        .folds
        .iter()
        .map(|f| {
            vec![
                Cell::Num(Some(f.fold as f64)),
                Cell::Text(grid.label(f.best)),
                Cell::Num(Some(f.in_sample.total_return)),
                Cell::Num(Some(f.out_of_sample.total_return)),
                Cell::Num(Some(f64::from(f.out_of_sample.trades))),
            ]
        })
        .collect();
    Table {
        columns: [
            "fold",
            "chosen policy",
            "in-sample return",
            "out-of-sample return",
            "out-of-sample trades",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        muted: Vec::new(),
    }
}

/// The folds' out-of-sample equity chained: each fold's wallet starts afresh at the initial
/// capital, so its curve is scaled by the growth of the folds before it (the compounded return
/// of §13.3).
pub fn chained_equity(wf: &WalkForward) -> Vec<(i64, f64)> {
    let mut growth = 1.0;
    let mut out = Vec::new();
    for f in &wf.folds {
        out.extend(f.out_of_sample_equity.iter().map(|&(t, e)| (t, e * growth)));
        growth *= 1.0 + f.out_of_sample.total_return;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantbot_core::grid::GridSpec;
    use quantbot_core::metrics::{Metrics, Scored};
    use quantbot_core::robust::{Deflated, Fold, Robustness};

    fn metrics(total_return: f64, sharpe: Option<f64>) -> Metrics {
        Metrics {
            final_capital: 10_000.0 * (1.0 + total_return),
            total_return,
            trades: 12,
            skipped: [0; 4],
            win_rate: Some(0.5),
            mean_return: None,
            median_return: None,
            profit_factor: None,
            sharpe,
            max_drawdown: 0.125,
            stop_out_rate: None,
            mean_hold_hours: None,
            capture: None,
            ambiguous_trades: 0,
        }
    }

    fn fold(j: usize, best: usize, r: f64, equity: Vec<(i64, f64)>) -> Fold {
        Fold {
            fold: j,
            best,
            in_sample: metrics(0.5, None),
            out_of_sample: metrics(r, None),
            out_of_sample_equity: equity,
        }
    }

    fn caller(name: &str, robustness: Option<Robustness>) -> CallerResult {
        CallerResult {
            caller: name.into(),
            calls: 120,
            scored: vec![Scored {
                index: 0,
                feasible: true,
                metrics: metrics(0.25, Some(0.45)),
            }],
            best: 0,
            collapsed: false,
            edge: false,
            holdout: None,
            kept: true,
            robustness,
        }
    }

    fn robust(
        dsr: Option<f64>,
        pbo: Option<f64>,
        wf: Option<WalkForward>,
        v: Verdict,
    ) -> Robustness {
        Robustness {
            deflated: Deflated {
                trials: 30,
                sr0: Some(0.21),
                dsr,
            },
            pbo,
            walk_forward: wf,
            verdict: v,
        }
    }

    /// A caller judged `edge`: DSR 0.98, PBO 3/70, two folds (+10 %, +20 %, one change).
    fn brook_with_an_edge() -> CallerResult {
        let wf = WalkForward::new(vec![fold(1, 0, 0.1, vec![]), fold(2, 3, 0.2, vec![])]);
        let r = robust(Some(0.98), Some(3.0 / 70.0), Some(wf), Verdict::Edge);
        caller("Brook 💀🧲", Some(r))
    }

    #[test]
    fn the_leaderboard_has_a_row_per_caller_with_the_verdict_as_a_badge() {
        let grid = Grid::new(GridSpec::default(), 48.0).unwrap();
        let result = SearchResult {
            per_caller: vec![brook_with_an_edge(), caller("grouped only", None)],
            grouped: None,
            evaluations: 0,
            wallets: 0,
            wallet_points: 0,
        };
        let t = leaderboard(&grid, &result);
        assert_eq!(t.columns.len(), LEADERBOARD_COLUMNS.len());
        assert_eq!(t.rows[0][1], Cell::Badge("edge".into()));
        assert_eq!(t.rows[0][2], Cell::Num(Some(0.98)));
        // (1 + 0.1) × (1 + 0.2) − 1, and one change of policy (0 → 3).
        assert_eq!(t.rows[0][4], Cell::Num(Some(1.1 * 1.2 - 1.0)));
        assert_eq!(t.rows[0][5], Cell::Num(Some(1.0)));
        // The best policy's non-default parts, so the return and drawdown stay in view.
        assert_eq!(
            t.rows[0][7],
            Cell::Text("tp=1.5 sl=0.85 max_hold=48h".into())
        );
        assert_eq!(t.rows[1][1], Cell::Badge("–".into()));
        assert_eq!(t.rows[1][3], Cell::Num(None));
        assert!(t.rows.iter().all(|r| r.len() == t.columns.len()));
    }

    #[test]
    fn the_verdict_is_explained_with_its_numbers() {
        let edge = brook_with_an_edge();
        assert_eq!(
            explain(&edge, 2),
            "Brook 💀🧲 — edge: the best of 30 policies has a deflated Sharpe of 0.98 (its Sharpe \
             per trade 0.45 against 0.21 for the best of 30 skill-less policies), and in 4.3 % of \
             70 splits the in-sample winner fell below the median out of sample; walk-forward \
             over 2 folds compounded 32.0 % out of sample with 1 policy change."
        );
        let overfit = caller(
            "x",
            Some(robust(Some(0.5), Some(0.6), None, Verdict::Overfit)),
        );
        let text = explain(&overfit, 0);
        assert!(
            text.starts_with("x — overfit (overfit: PBO above 0.5): "),
            "{text}"
        );
        assert!(text.contains("in 60.0 % of 70 splits"), "{text}");
        let short = caller("y", Some(robust(None, None, None, Verdict::Inconclusive)));
        let text = explain(&short, 4);
        assert!(
            text.contains("too few calls to judge overfitting (16 are needed)"),
            "{text}"
        );
        assert!(
            text.contains("too few calls for 4 walk-forward folds (10 are needed)"),
            "{text}"
        );
        assert!(text.contains("no deflated Sharpe"), "{text}");
        assert_eq!(
            explain(&caller("z", None), 0),
            "z — no verdict in grouped mode."
        );
        assert!(verdict_rule(0).contains("at least 0.95, the in-sample winner below the out-of-sample median in at most 20% of the 70 splits"));
        assert!(verdict_rule(4).contains("and a positive walk-forward"));
    }

    #[test]
    fn fold_equity_chains_by_the_growth_of_earlier_folds() {
        let wf = WalkForward::new(vec![
            fold(1, 0, 0.5, vec![(10, 12_000.0), (20, 15_000.0)]),
            fold(2, 0, -0.5, vec![(30, 5_000.0)]),
            fold(3, 1, 0.0, vec![(40, 10_000.0)]),
        ]);
        // Fold 2 starts where fold 1 ended (× 1.5), fold 3 where fold 2 ended (× 0.75).
        assert_eq!(
            chained_equity(&wf),
            vec![(10, 12_000.0), (20, 15_000.0), (30, 7_500.0), (40, 7_500.0)]
        );
        let grid = Grid::new(GridSpec::default(), 48.0).unwrap();
        let t = folds_table(&grid, &wf);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.rows[2][1], Cell::Text(grid.label(1)));
    }
}
