//! Cross-check of SPEC §13 (deflated Sharpe, PBO by CSCV, walk-forward, verdict) against an
//! independent reading: `tools/oracle/oracle.py`, whose §13 part was written from SPEC.md alone.
//! `tools/oracle/gen.py --robust` draws search cases (several callers, some below 16 calls and
//! some below `2 × (K + 1)`, a grid of 10–40 policies, folds, holdout, constraints, objectives);
//! the engine's `optimize::search` and the oracle must agree on every caller's robustness:
//! counts, indices, verdicts and PBO exactly, the other numbers to 1e-12 relative.

use std::process::Command;

use quantbot_core::data::Call;
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::metrics::{Constraints, Metrics, Objective};
use quantbot_core::optimize::{search, CallWindow, CallerResult, Mode, Prepared, SearchOptions};
use quantbot_core::policy::CostModel;
use quantbot_core::robust::{Verdict, WalkForward};
use quantbot_core::store::Series;
use quantbot_tests::oracle::{
    calls_with_candles, close, exec_config, f, float_metrics, ladder, opt_f, policy_params, python,
    rel_diff, wallet_config,
};
use rayon::prelude::*;
use serde_json::Value;

/// Relative tolerance of the floating-point results: the two readings may order an operation
/// differently (a cube as `d × d × d`, `erfc` from another libm), a few ulps at most.
const REL: f64 = 1e-12;

/// Generated cases `(seed, big)`: seeds 2000 to 2029; 2153 and 2220, each with a caller whose
/// best policy has no sharpe while others have one (`sr0` given, `dsr` null: the rarest
/// branch); and three `--big` cases (a caller with 300–400 calls, 32 policies: more trades
/// than the engine scores in one block, so its blocks' scores, CSCV perfs and walk-forward
/// prefixes are merged), with holdout, with `K = 2` under v1, and with `K = 4`.
fn cases() -> Vec<(u64, bool)> {
    let plain = (2000..2030).chain([2153, 2220]).map(|s| (s, false));
    plain.chain([3001, 3002, 3006].map(|s| (s, true))).collect()
}

/// One generated search case, as the engine takes it.
struct Case {
    calls: Vec<Call>,
    series: Vec<Series>,
    grid: Grid,
    opts: SearchOptions,
}

fn numbers(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(opt_f).collect()
}

fn parse_case(doc: &Value) -> Case {
    let exec = exec_config(doc);
    let wallet = wallet_config(doc);
    let (calls, series) = calls_with_candles(doc)
        .into_iter()
        .map(|(call, candles)| {
            // The generator gives each call its window from the entry candle on, as the
            // search expects; calls without an entry candle were left out (the search sees
            // eligible calls).
            assert!(!candles.is_empty(), "robust cases hold eligible calls only");
            (call, Series::new(&candles))
        })
        .unzip();

    let g = &doc["grid"];
    let spec = GridSpec {
        tp: numbers(&g["tp"]),
        sl: numbers(&g["sl"]),
        trail: numbers(&g["trail"]),
        trail_activation: numbers(&g["trail_activation"]),
        be_trigger: numbers(&g["be_trigger"]),
        ladder: g["ladder"].as_array().unwrap().iter().map(ladder).collect(),
        max_hold: g["max_hold"].as_array().unwrap().iter().map(f).collect(),
        indicator: g["indicator"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().map(|r| r.parse().unwrap()))
            .collect(),
    };
    let grid = Grid::new(spec, 48.0).unwrap();
    // The oracle reads the policies the generator expanded from the grid: the same points in
    // the same (row-major) order, or the comparison below means nothing.
    let policies = doc["policies"].as_array().unwrap();
    assert_eq!(policies.len(), grid.size(), "grid size");
    for (i, p) in policies.iter().enumerate() {
        let want = policy_params(p);
        assert_eq!(grid.params(i), want, "policy {i} of the grid");
    }

    let s = &doc["search"];
    let c = &s["constraints"];
    let mut opts = SearchOptions::new(exec, wallet)
        .with_holdout(f(&s["holdout_fraction"]))
        .unwrap();
    opts.objective = Objective::parse(s["objective"].as_str().unwrap()).unwrap();
    opts.constraints = Constraints {
        max_drawdown: opt_f(&c["max_drawdown"]),
        min_win_rate: opt_f(&c["min_win_rate"]),
        min_trades: c["min_trades"].as_u64().map(|t| t as u32),
        max_stop_out_rate: opt_f(&c["max_stop_out_rate"]),
        min_profit_factor: opt_f(&c["min_profit_factor"]),
    };
    opts.folds = s["folds"].as_u64().unwrap() as usize;
    opts.mode = Mode::ALL
        .into_iter()
        .find(|m| m.as_str() == s["mode"].as_str().unwrap())
        .unwrap();
    Case {
        calls,
        series,
        grid,
        opts,
    }
}

/// A sharpe of a wallet whose returns have no spread: `null`, or the enormous ratio of a spread
/// of an ulp or two.
fn degenerate(v: Option<f64>) -> bool {
    v.is_none_or(|x| x.abs() > 1e12)
}

/// The one known reading difference (tools/oracle/README.md, "v1 cost model"): under
/// `--cost-model v1` the engine's wallet takes `M = 1 + pnl / size` with the wallet's size
/// (SPEC §12), the oracle the trade record's size-1 multiple. Returns equal up to an ulp then
/// have no spread on one side (sharpe null) and a spread of an ulp on the other (|sharpe| ~
/// 1e15). Both mean "no spread"; nothing else is excused.
fn v1_no_spread(v1: bool, got: Option<f64>, want: Option<f64>) -> bool {
    v1 && got != want && degenerate(got) && degenerate(want)
}

/// Every §5 metric of a wallet against the oracle's, to `REL`; counts exactly.
fn check_metrics(ctx: &str, v1: bool, m: &Metrics, want: &Value, errors: &mut Vec<String>) {
    let nums = float_metrics(m);
    for (name, got) in nums {
        if name == "sharpe" && v1_no_spread(v1, got, opt_f(&want[name])) {
            continue;
        }
        if !close(got, opt_f(&want[name]), REL) {
            errors.push(format!("{ctx}: {name} = {got:?}, oracle {}", want[name]));
        }
    }
    for (name, got) in [
        ("trades", m.trades),
        ("ambiguous_trades", m.ambiguous_trades),
    ] {
        if Some(u64::from(got)) != want[name].as_u64() {
            errors.push(format!("{ctx}: {name} = {got}, oracle {}", want[name]));
        }
    }
    for (k, name) in [
        "no_entry",
        "max_positions",
        "same_token_open",
        "below_min_size",
    ]
    .iter()
    .enumerate()
    {
        if Some(u64::from(m.skipped[k])) != want["skipped"][name].as_u64() {
            errors.push(format!(
                "{ctx}: skipped.{name} = {}, oracle {}",
                m.skipped[k], want["skipped"][name]
            ));
        }
    }
}

/// How much was compared, so the test fails when everything turned out null.
#[derive(Default)]
struct Counts {
    callers: usize,
    robust: usize,
    infeasible: usize,
    sr0: usize,
    sr0_null: usize,
    dsr: usize,
    dsr_null: usize,
    pbo: usize,
    pbo_null: usize,
    walk_forward: usize,
    walk_forward_null: usize,
    folds: usize,
    verdicts: [usize; 3],
    /// Callers whose deflated Sharpe was not compared: see [`v1_no_spread`].
    excused: usize,
    /// The largest relative difference seen in sr0, dsr and compounded_oos_return.
    max_rel: f64,
}

impl Counts {
    /// Compares one §13 number to `REL`, keeping the largest relative difference seen.
    fn compare(
        &mut self,
        ctx: &str,
        name: &str,
        got: Option<f64>,
        want: &Value,
        errors: &mut Vec<String>,
    ) {
        let diff = rel_diff(got, opt_f(want));
        self.max_rel = self.max_rel.max(diff.unwrap_or(0.0));
        if !diff.is_some_and(|d| d <= REL) {
            errors.push(format!("{ctx}: {name} = {got:?}, oracle {want}"));
        }
    }
}

/// The choice of one caller (§5 on the calls the choice is made on) and its §13 robustness.
fn check_caller(
    ctx: &str,
    case: &Case,
    r: &CallerResult,
    w: &Value,
    n: &mut Counts,
    errors: &mut Vec<String>,
) {
    let v1 = case.opts.exec.cost_model() == CostModel::V1;
    n.callers += 1;
    // The choice itself first: §13 is computed around it.
    for (what, got, want) in [
        ("calls", r.calls as u64, w["calls"].as_u64()),
        ("best", r.best as u64, w["best"].as_u64()),
    ] {
        if Some(got) != want {
            errors.push(format!("{ctx}: {what} = {got}, oracle {}", w[what]));
        }
    }
    let best = r.best_scored();
    if Some(best.feasible) != w["feasible"].as_bool() {
        errors.push(format!(
            "{ctx}: feasible = {}, oracle {}",
            best.feasible, w["feasible"]
        ));
    }
    check_metrics(
        &format!("{ctx} best"),
        v1,
        &best.metrics,
        &w["metrics"],
        errors,
    );
    if let Some(h) = &r.holdout {
        check_metrics(
            &format!("{ctx} holdout out_of_sample"),
            v1,
            &h.out_of_sample,
            &w["out_of_sample"],
            errors,
        );
    }

    let wr = &w["robustness"];
    let rb = match (&r.robustness, wr.is_null()) {
        (None, true) => return,
        (Some(rb), false) => rb,
        (None, false) => return errors.push(format!("{ctx}: robustness null, oracle {wr}")),
        (Some(_), true) => return errors.push(format!("{ctx}: robustness given, oracle null")),
    };
    n.robust += 1;
    n.infeasible += usize::from(!best.feasible);
    // Every policy's in-sample sharpe: the trials and their variance come from them.
    let mut excused = false;
    for (s, ws) in r.scored.iter().zip(w["sharpes"].as_array().unwrap()) {
        if v1_no_spread(v1, s.metrics.sharpe, opt_f(ws)) {
            excused = true;
        } else if !close(s.metrics.sharpe, opt_f(ws), REL) {
            errors.push(format!(
                "{ctx}: policy {} sharpe = {:?}, oracle {ws}",
                s.index, s.metrics.sharpe
            ));
        }
    }
    let d = &rb.deflated;
    if excused {
        n.excused += 1;
    } else {
        if Some(d.trials as u64) != wr["trials"].as_u64() {
            errors.push(format!(
                "{ctx}: trials = {}, oracle {}",
                d.trials, wr["trials"]
            ));
        }
        for (name, got) in [("sr0", d.sr0), ("dsr", d.dsr)] {
            n.compare(ctx, name, got, &wr[name], errors);
        }
        if rb.verdict.as_str() != wr["verdict"].as_str().unwrap() {
            errors.push(format!(
                "{ctx}: verdict = {}, oracle {}",
                rb.verdict.as_str(),
                wr["verdict"]
            ));
        }
        n.sr0 += usize::from(d.sr0.is_some());
        n.sr0_null += usize::from(d.sr0.is_none());
        n.dsr += usize::from(d.dsr.is_some());
        n.dsr_null += usize::from(d.dsr.is_none());
    }
    // Exactly: §13.2 makes the order of the additions part of the result.
    if rb.pbo != opt_f(&wr["pbo"]) {
        errors.push(format!("{ctx}: pbo = {:?}, oracle {}", rb.pbo, wr["pbo"]));
    }
    n.pbo += usize::from(rb.pbo.is_some());
    n.pbo_null += usize::from(rb.pbo.is_none());
    n.verdicts[match rb.verdict {
        Verdict::Edge => 0,
        Verdict::Overfit => 1,
        Verdict::Inconclusive => 2,
    }] += 1;

    let ww = &wr["walk_forward"];
    match (&rb.walk_forward, ww.is_null()) {
        (None, true) => n.walk_forward_null += usize::from(case.opts.folds > 0),
        (Some(wf), false) => check_walk_forward(ctx, v1, wf, ww, n, errors),
        (None, false) => errors.push(format!("{ctx}: walk_forward null, oracle {ww}")),
        (Some(_), true) => errors.push(format!("{ctx}: walk_forward given, oracle null")),
    }
}

/// §13.3: every fold's choice exactly, its wallets' metrics, the compounded return and the
/// number of policy changes.
fn check_walk_forward(
    ctx: &str,
    v1: bool,
    wf: &WalkForward,
    ww: &Value,
    n: &mut Counts,
    errors: &mut Vec<String>,
) {
    n.walk_forward += 1;
    let want_folds = ww["folds"].as_array().unwrap();
    if wf.folds.len() != want_folds.len() {
        let (got, want) = (wf.folds.len(), want_folds.len());
        return errors.push(format!("{ctx}: {got} folds, oracle {want}"));
    }
    n.compare(
        ctx,
        "compounded_oos_return",
        Some(wf.compounded_oos_return),
        &ww["compounded_oos_return"],
        errors,
    );
    if Some(wf.policy_changes as u64) != ww["policy_changes"].as_u64() {
        errors.push(format!(
            "{ctx}: policy_changes = {}, oracle {}",
            wf.policy_changes, ww["policy_changes"]
        ));
    }
    for (fold, want) in wf.folds.iter().zip(want_folds) {
        n.folds += 1;
        let ctx = format!("{ctx} fold {}", fold.fold);
        if Some(fold.fold as u64) != want["fold"].as_u64()
            || Some(fold.best as u64) != want["best"].as_u64()
        {
            errors.push(format!(
                "{ctx}: fold {} best {}, oracle fold {} best {}",
                fold.fold, fold.best, want["fold"], want["best"]
            ));
            continue;
        }
        let (ins, oos) = (&fold.in_sample, &fold.out_of_sample);
        check_metrics(
            &format!("{ctx} in_sample"),
            v1,
            ins,
            &want["in_sample"],
            errors,
        );
        check_metrics(
            &format!("{ctx} out_of_sample"),
            v1,
            oos,
            &want["out_of_sample"],
            errors,
        );
    }
}

#[test]
fn robustness_agrees_with_the_independent_oracle() {
    const NAME: &str = "robustness_agrees_with_the_independent_oracle";
    if Command::new("python3").arg("--version").output().is_err() {
        quantbot_tests::skip(NAME, "python3 is not installed, the oracle cannot run");
        return;
    }
    // The Python side is the slow part: generate and run the oracle on every case in parallel.
    let cases: Vec<(String, Vec<u8>, Vec<u8>)> = cases()
        .into_par_iter()
        .map(|(seed, big)| {
            let seed_s = seed.to_string();
            let mut args = vec!["tools/oracle/gen.py", &seed_s, "--robust"];
            if big {
                args.push("--big");
            }
            let input = python(&args, None).expect("python3 runs");
            let out = python(&["tools/oracle/oracle.py"], Some(&input)).expect("python3 runs");
            (seed_s, input, out)
        })
        .collect();
    let mut errors = Vec::new();
    let mut n = Counts::default();
    for (seed_s, input, out) in &cases {
        let doc: Value = serde_json::from_slice(input).unwrap();
        let want: Value = serde_json::from_slice(out).unwrap();
        let case = parse_case(&doc);
        let windows: Vec<CallWindow<'_>> = case
            .calls
            .iter()
            .zip(&case.series)
            .map(|(call, s)| CallWindow {
                call,
                candles: s.whole(),
            })
            .collect();
        let prepared = Prepared::new(windows, &case.grid, &case.opts.exec);
        let result = search(&prepared, &case.grid, &case.opts);
        let want_rows = want["per_caller"].as_array().unwrap();
        let got_names: Vec<&str> = result
            .per_caller
            .iter()
            .map(|r| r.caller.as_str())
            .collect();
        let want_names: Vec<&str> = want_rows
            .iter()
            .map(|r| r["caller"].as_str().unwrap())
            .collect();
        if got_names != want_names {
            errors.push(format!(
                "seed {seed_s}: callers {got_names:?}, oracle {want_names:?}"
            ));
            continue;
        }
        for (r, w) in result.per_caller.iter().zip(want_rows) {
            let ctx = format!("seed {seed_s} caller {:?}", r.caller);
            check_caller(&ctx, &case, r, w, &mut n, &mut errors);
        }
    }
    println!(
        "oracle robustness cross-check: {} callers ({} with robustness, {} with an infeasible \
         best): {} sr0 ({} null), {} dsr ({} null), {} pbo ({} null), {} walk-forwards ({} null \
         with K > 0) with {} folds; verdicts edge {} overfit {} inconclusive {}; {} deflated \
         Sharpes not compared (v1, no spread); largest relative difference in sr0, dsr and \
         compounded_oos_return {:e}",
        n.callers,
        n.robust,
        n.infeasible,
        n.sr0,
        n.sr0_null,
        n.dsr,
        n.dsr_null,
        n.pbo,
        n.pbo_null,
        n.walk_forward,
        n.walk_forward_null,
        n.folds,
        n.verdicts[0],
        n.verdicts[1],
        n.verdicts[2],
        n.excused,
        n.max_rel,
    );
    assert!(
        errors.is_empty(),
        "{} disagreements with the oracle, first 40:\n{}",
        errors.len(),
        errors
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The comparison must have had something to compare, and the nulls must have been hit.
    assert!(n.dsr >= 40, "too few non-null dsr compared: {}", n.dsr);
    assert!(
        n.sr0_null >= 2 && n.dsr_null > n.sr0_null,
        "too few null sr0 ({}) or dsr ({}, some with an sr0)",
        n.sr0_null,
        n.dsr_null
    );
    assert!(
        n.infeasible >= 3,
        "too few infeasible bests: {}",
        n.infeasible
    );
    assert!(
        n.verdicts.iter().all(|&v| v >= 2),
        "every verdict should occur: {:?}",
        n.verdicts
    );
    assert!(n.pbo >= 30, "too few non-null pbo compared: {}", n.pbo);
    assert!(n.pbo_null >= 5, "too few null pbo: {}", n.pbo_null);
    assert!(
        n.walk_forward >= 10 && n.folds >= 30,
        "too few walk-forwards compared: {} ({} folds)",
        n.walk_forward,
        n.folds
    );
    assert!(
        n.walk_forward_null >= 3,
        "too few null walk-forwards: {}",
        n.walk_forward_null
    );
}
