//! Golden cases: the hand-computed trades of `tests/golden/trades.txt` on both algorithms, the
//! fills cost model's closed form, and the original quantbot's published v1 vectors.

use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::optimize::{search, CallWindow, Mode, Prepared, SearchOptions};
use quantbot_core::policy::{CostModel, ExecConfig, ExecParams, Policy, PolicyParams};
use quantbot_core::sim::{simulate_reference, CallPrep};
use quantbot_core::store::Series;
use quantbot_core::trade::Trade;
use quantbot_core::wallet::{run_wallet, Offer, WalletConfig};
use quantbot_tests::{bar, call, parse_golden};

fn field(t: &Trade, key: &str) -> String {
    match key {
        "reason" => t.exit_reason.as_str().to_string(),
        "entry_ts" => t.entry_ts_ms.to_string(),
        "entry_px" => t.entry_px.to_string(),
        "exit_ts" => t.exit_ts_ms.to_string(),
        "gross" => t.gross_multiple.to_string(),
        "net" => t.net_multiple.to_string(),
        "peak" => t.peak_multiple.to_string(),
        "mae" => t.mae.to_string(),
        "fills" => t.fills.to_string(),
        "held" => t.candles_held.to_string(),
        "ambiguous" => t.ambiguous.to_string(),
        other => panic!("unknown expected field {other}"),
    }
}

#[test]
fn golden_trades_on_both_algorithms() {
    let text = include_str!("../golden/trades.txt");
    let cases = parse_golden(text);
    assert!(cases.len() >= 23, "the golden file lost cases");
    let mut failures = Vec::new();
    for case in &cases {
        let policy = Policy::new(case.policy.clone()).unwrap();
        let reference = simulate_reference(&case.bars, &case.opts, &policy).unwrap();
        let rules: Vec<_> = case.policy.indicator.into_iter().collect();
        let series = Series::new(&case.bars);
        let fast = CallPrep::new(series.whole(), &case.opts, &rules)
            .unwrap()
            .evaluate(&case.opts, &policy);
        assert_eq!(
            reference, fast,
            "{}: the two algorithms disagree",
            case.name
        );
        for (k, want) in &case.expect {
            // Expected numbers are compared as f64 values parsed from the file (bit for bit).
            let got = field(&reference, k);
            let same = match (got.parse::<f64>(), want.parse::<f64>()) {
                (Ok(g), Ok(w)) => g == w,
                _ => &got == want,
            };
            if !same {
                failures.push(format!("{}: {k} = {got}, expected {want}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

fn exec(cost: CostModel, fee: f64, slip: f64) -> ExecConfig {
    ExecConfig::new(ExecParams {
        cost_model: cost,
        fee_bps: fee,
        slippage_bps: slip,
        ..ExecParams::default()
    })
    .unwrap()
}

fn policy(tp: Option<f64>, sl: Option<f64>) -> Policy {
    Policy::new(PolicyParams {
        tp,
        sl,
        ..Default::default()
    })
    .unwrap()
}

/// A path from P0 = 1 that reaches `peak` in candle 1 and then drifts down to `end`.
fn path_to(peak: f64, end: f64) -> Vec<quantbot_core::data::Candle> {
    let mut v = vec![bar(0, 1.0, 1.0, 1.0, 1.0), bar(60, 1.0, peak, 1.0, peak)];
    v.push(bar(120, peak, peak, end, end));
    v
}

#[test]
fn fills_cost_model_closed_form() {
    // 2x TP, 30 bps fee, 10 bps slippage: M = (1 − 0.003)² · 2 · 0.999 / 1.001.
    let cfg = exec(CostModel::Fills, 30.0, 10.0);
    let t = simulate_reference(&path_to(2.5, 2.0), &cfg, &policy(Some(2.0), None)).unwrap();
    let closed_form = (1.0 - 0.003) * (1.0 - 0.003) * 2.0 * 0.999 / 1.001;
    assert_eq!(t.gross_multiple, 2.0);
    assert!(
        (t.net_multiple - closed_form).abs() <= 4.0 * f64::EPSILON,
        "{} vs {closed_form}",
        t.net_multiple
    );
    // The SPEC's order of operations, literally: tokens = size(1 − f)/(P0(1 + s)), fill =
    // tokens·φ·X·(1 − s)·(1 − f), M = fill / size.
    let tokens = 1.0 * (1.0 - 0.003) / (1.0 * (1.0 + 0.001));
    assert_eq!(
        t.net_multiple,
        tokens * 1.0 * 2.0 * (1.0 - 0.001) * (1.0 - 0.003) / 1.0
    );
}

/// Offers of one trade per call, for wallet tests.
fn offers<'a>(
    calls: &'a [quantbot_core::data::Call],
    trades: &'a [Trade],
    stop: Option<f64>,
) -> Vec<Offer<'a>> {
    calls
        .iter()
        .zip(trades)
        .map(|(c, t)| Offer {
            call_id: &c.call_id,
            token: (&c.chain, &c.mint),
            trade: Some(t),
            entry_stop: stop,
        })
        .collect()
}

#[test]
fn v1_published_vectors_single_trades() {
    let cfg = exec(CostModel::V1, 30.0, 10.0);
    let w = WalletConfig::default();
    // 2x TP on size 400 (sl 0.9 → risk limit 200 / 0.1 = 2000 > 4 % of 10,000).
    let tp = simulate_reference(&path_to(2.5, 2.0), &cfg, &policy(Some(2.0), Some(0.9))).unwrap();
    let calls = vec![call("c1", "A", "m1", 0)];
    let run = run_wallet(
        &offers(&calls, &[tp], Some(0.9)),
        &w,
        CostModel::V1,
        30.0,
        10.0,
    );
    assert_eq!(run.taken[0].size, 400.0);
    assert_eq!(format!("{:.6}", run.taken[0].pnl), "396.800000");
    assert_eq!(format!("{:.6}", run.final_capital), "10396.800000");
    // Stop at 0.85.
    let sl = simulate_reference(&path_to(1.0, 0.5), &cfg, &policy(Some(2.0), Some(0.85))).unwrap();
    assert_eq!(sl.gross_multiple, 0.85);
    let run = run_wallet(
        &offers(&calls, &[sl], Some(0.85)),
        &w,
        CostModel::V1,
        30.0,
        10.0,
    );
    assert_eq!(run.taken[0].size, 400.0);
    assert_eq!(format!("{:.6}", run.taken[0].pnl), "-63.200000");
    assert_eq!(format!("{:.6}", run.final_capital), "9936.800000");
}

#[test]
fn v1_sizing_vectors() {
    let w = WalletConfig::default();
    assert_eq!(w.size(10_000.0, Some(0.9)), 400.0);
    assert_eq!(w.size(100.0, Some(0.9)), 4.0);
    // A tight stop: the risk limit binds (200 / 0.02 = 10,000 > 400, so 4 % still binds);
    // a wide one: 200 / 0.5 = 400 binds together with 4 %.
    assert_eq!(w.size(20_000.0, Some(0.5)), 400.0);
    assert_eq!(w.size(10_000.0, None), 200.0);
}

#[test]
fn v1_ten_simultaneous_calls_all_open() {
    let cfg = exec(CostModel::V1, 30.0, 10.0);
    let calls: Vec<_> = (0..10)
        .map(|k| call(&format!("c{k}"), "A", &format!("m{k}"), 0))
        .collect();
    let t = simulate_reference(&path_to(2.5, 2.0), &cfg, &policy(Some(2.0), Some(0.9))).unwrap();
    let trades = vec![t; 10];
    let run = run_wallet(
        &offers(&calls, &trades, Some(0.9)),
        &WalletConfig::default(),
        CostModel::V1,
        30.0,
        10.0,
    );
    assert_eq!(run.taken.len(), 10);
    assert_eq!(run.max_open, 10, "all ten are open at once");
    let mut expected = 400.0;
    for taken in &run.taken {
        assert!(
            (taken.size - expected).abs() < 1e-9,
            "{} vs {expected}",
            taken.size
        );
        expected *= 0.96;
    }
    assert_eq!(format!("{:.2}", run.final_capital), "13324.86");
}

#[test]
fn v1_grid_picks_the_peak_take_profit() {
    // One call peaking at 2.5 then falling back: tp 2.5 beats 2 (sells lower) and 3 (never
    // reached, exits at the end at 1.25).
    let candles = vec![
        bar(0, 1.0, 1.0, 0.95, 1.0),
        bar(60, 1.0, 2.5, 1.0, 2.4),
        bar(120, 2.4, 2.4, 1.25, 1.25),
    ];
    let calls = [call("c1", "A", "m1", 0)];
    let series = Series::new(&candles);
    let windows = vec![CallWindow {
        call: &calls[0],
        candles: series.whole(),
    }];
    let spec = GridSpec {
        tp: vec![Some(2.0), Some(2.5), Some(3.0)],
        sl: vec![Some(0.85), Some(0.9)],
        ..GridSpec::default()
    };
    let grid = Grid::new(spec, 48.0).unwrap();
    let cfg = exec(CostModel::V1, 30.0, 10.0);
    let prepared = Prepared::new(windows, &grid, &cfg);
    let mut opts = SearchOptions::new(cfg, WalletConfig::default());
    opts.mode = Mode::PerCaller;
    let result = search(&prepared, &grid, &opts);
    assert_eq!(grid.size(), 6);
    let best = &result.per_caller[0];
    assert_eq!(grid.params(best.best).tp, Some(2.5));
    // Both stops give the same wallet; the lower index wins the tie.
    assert_eq!(best.best, 2);
    assert!(!best.edge, "2.5 is inside the tp values");
}
