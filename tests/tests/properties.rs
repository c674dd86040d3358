//! Property tests of the engine's identities (SPEC §3.6, §4, §5, §9) on random paths and grids:
//! fast evaluator == reference simulator, thread-count independence, cash conservation, the
//! best of a grid == the best of its policies run one by one, and exits inside the window.

use proptest::prelude::*;
use quantbot_core::data::{Call, Candle};
use quantbot_core::grid::Grid;
use quantbot_core::metrics::{rank_order, Constraints, Metrics, Objective, Scored};
use quantbot_core::optimize::{search, CallWindow, Mode, Prepared, SearchOptions, SearchResult};
use quantbot_core::policy::ExecConfig;
use quantbot_core::sim::{entry, simulate_reference, CallPrep};
use quantbot_core::store::Series;
use quantbot_core::wallet::{run_wallet, Offer, WalletConfig, WalletParams};
use quantbot_tests::{call, random_exec, random_grid_spec, random_path, Rng};

/// Random cases without a regression file (failures print their seed instead).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// SPEC §3.6: both algorithms give identical trades, every field bit for bit.
    #[test]
    fn fast_evaluator_equals_reference(seed in any::<u64>(), n in 1usize..160) {
        let mut rng = Rng::new(seed);
        let path = random_path(&mut rng, n, 1_700_000_000);
        let exec = random_exec(&mut rng);
        let grid = Grid::new(random_grid_spec(&mut rng, true), 48.0).unwrap();
        let series = Series::new(&path);
        let prep = CallPrep::new(series.whole(), &exec, &grid.rules()).unwrap();
        for i in 0..grid.size() {
            let policy = grid.policy(i);
            let reference = simulate_reference(&path, &exec, &policy).unwrap();
            let fast = prep.evaluate(&exec, &policy);
            prop_assert_eq!(reference, fast, "policy {}: {}", i, grid.label(i));
        }
    }

    /// A trade never exits before its entry or after the close of its deadline candle.
    #[test]
    fn exits_stay_inside_entry_and_deadline(seed in any::<u64>(), n in 1usize..160) {
        let mut rng = Rng::new(seed);
        let path = random_path(&mut rng, n, 1_700_000_000);
        let exec = random_exec(&mut rng);
        let grid = Grid::new(random_grid_spec(&mut rng, true), 48.0).unwrap();
        let e = entry(path.as_slice(), &exec).unwrap();
        for i in 0..grid.size() {
            let policy = grid.policy(i);
            let t = simulate_reference(&path, &exec, &policy).unwrap();
            let tmax = path[0].ts * 1000 + policy.max_hold_ms();
            let last = path.iter().rposition(|c| c.ts * 1000 < tmax).unwrap();
            prop_assert!(t.exit_ts_ms >= t.entry_ts_ms);
            prop_assert!((t.candles_held as usize) <= last);
            prop_assert!(t.exit_ts_ms <= (path[last].ts + 60) * 1000);
            if last >= e.first_checked {
                prop_assert!(t.candles_held as usize >= e.first_checked);
            }
            prop_assert!(t.fills >= 1);
        }
    }
}

proptest! {
    #![proptest_config(config(1500))]

    /// SPEC §3.6: `evaluate_each` (first passages remembered from one policy to the next,
    /// trades reused across time stops) gives the reference simulator's trades, every field
    /// bit for bit, on candles held as the CLI holds them (volumes only when a rule reads them).
    #[test]
    fn evaluate_each_equals_reference(seed in any::<u64>(), n in 1usize..200) {
        let mut rng = Rng::new(seed);
        let path = random_path(&mut rng, n, 1_700_000_000);
        let exec = random_exec(&mut rng);
        let mut spec = random_grid_spec(&mut rng, true);
        // Several time stops, longer and shorter than the one before, so the reuse across
        // them is exercised both ways.
        spec.max_hold = vec![0.5, 0.05, 3.0, 0.25, 1.0];
        let grid = Grid::new(spec, 48.0).unwrap();
        let policies = grid.policies();
        let mut series = Series::new(&path);
        if !grid.reads_volume() {
            series.drop_volume();
        }
        let prep = CallPrep::new(series.whole(), &exec, &grid.rules()).unwrap();
        let mut each = Vec::new();
        prep.evaluate_each_shared(&exec, &policies, |k, t, same| each.push((k, t, same)));
        prop_assert_eq!(each.len(), policies.len());
        for &(k, t, same) in &each {
            let reference = simulate_reference(&path, &exec, &policies[k]).unwrap();
            prop_assert_eq!(t, reference, "policy {}: {}", k, grid.label(k));
            // A trade said to be its family predecessor's is that trade (the search shares
            // the two policies' wallets on it).
            if same {
                let before = (0..k).rev().find(|&j| policies[j].same_but_hold(&policies[k]));
                prop_assert!(before.is_some(), "policy {} has no predecessor", k);
                prop_assert_eq!(t, each[before.unwrap()].1, "policy {}", k);
            }
        }
        let shared = each.iter().filter(|e| e.2).count();
        prop_assert_eq!(
            each.iter().map(|e| e.1).collect::<Vec<_>>(),
            {
                let mut plain = Vec::new();
                prep.evaluate_each(&exec, &policies, |_, t| plain.push(t));
                plain
            },
            "{} shared", shared
        );
    }
}

/// Several callers with a few calls each, some sharing tokens and alert instants.
struct Market {
    calls: Vec<Call>,
    paths: Vec<Vec<Candle>>,
    /// `paths`, compact, as the search reads them.
    series: Vec<Series>,
}

fn market(rng: &mut Rng) -> Market {
    let callers = ["Alpha", "Brook 💀🧲", "brook", "Zed"];
    let mut calls = Vec::new();
    let mut paths = Vec::new();
    let n = 4 + rng.below(14) as usize;
    for k in 0..n {
        let upto = 1 + rng.below(callers.len() as u64) as usize;
        let caller = rng.pick(&callers[..upto]);
        let start = 1_700_000_000 + 60 * rng.below(240) as i64;
        let mint = format!("m{}", rng.below(5));
        calls.push(call(&format!("c{:03}", k), caller, &mint, start * 1000));
        let len = if rng.chance(0.05) {
            0
        } else {
            1 + rng.below(120) as usize
        };
        paths.push(random_path(rng, len, start));
    }
    let series = paths.iter().map(|p| Series::new(p)).collect();
    Market {
        calls,
        paths,
        series,
    }
}

fn windows(m: &Market) -> Vec<CallWindow<'_>> {
    m.calls
        .iter()
        .zip(&m.series)
        .map(|(call, s)| CallWindow {
            call,
            candles: s.whole(),
        })
        .collect()
}

fn random_options(rng: &mut Rng, exec: ExecConfig) -> SearchOptions {
    let wallet = WalletConfig::new(WalletParams {
        initial_capital: rng.pick(&[1_000.0, 10_000.0]),
        max_allocation_pct: rng.pick(&[0.04, 0.25, 1.0]),
        max_risk_per_trade: rng.pick(&[50.0, 200.0, 1e9]),
        max_concurrent_positions: 1 + rng.below(4) as u32,
        min_executable_size: rng.pick(&[0.0, 10.0, 100.0]),
        allow_same_token: rng.chance(0.3),
    })
    .unwrap();
    let mut opts = SearchOptions::new(exec, wallet);
    opts.objective = rng.pick(&Objective::ALL);
    opts.mode = rng.pick(&[Mode::PerCaller, Mode::Grouped, Mode::Both]);
    opts.min_calls = rng.below(3) as usize;
    opts.filter_collapsed = rng.chance(0.5);
    opts.filter_edge = rng.chance(0.5);
    opts.constraints = Constraints {
        max_drawdown: rng.chance(0.3).then(|| rng.pick(&[0.01, 0.05, 0.2])),
        min_win_rate: rng.chance(0.3).then(|| rng.pick(&[0.2, 0.5])),
        min_trades: rng.chance(0.3).then(|| rng.below(4) as u32),
        max_stop_out_rate: rng.chance(0.2).then_some(0.5),
        min_profit_factor: rng.chance(0.2).then_some(1.0),
    };
    if rng.chance(0.3) {
        opts = opts.with_holdout(rng.pick(&[0.3, 0.5])).unwrap();
    }
    // SPEC §13's walk-forward, so its folds are searched on every thread count too.
    opts.folds = rng.pick(&[0, 0, 1, 2, 4]);
    opts
}

fn run_with_threads(threads: usize, f: impl FnOnce() -> SearchResult + Send) -> SearchResult {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

proptest! {
    #![proptest_config(config(200))]

    /// SPEC §9: the same inputs give identical results on 1, 2 and 8 threads.
    #[test]
    fn results_do_not_depend_on_thread_count(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let m = market(&mut rng);
        let exec = random_exec(&mut rng);
        let grid = Grid::new(random_grid_spec(&mut rng, true), 48.0).unwrap();
        let opts = random_options(&mut rng, exec.clone());
        let go = || {
            let prepared = Prepared::new(windows(&m), &grid, &exec);
            search(&prepared, &grid, &opts)
        };
        let one = run_with_threads(1, go);
        prop_assert_eq!(&one, &run_with_threads(2, go));
        prop_assert_eq!(&one, &run_with_threads(8, go));
    }

    /// SPEC §4: the wallet conserves cash (final = initial + Σ PnL), and every offer is either
    /// taken or skipped once.
    #[test]
    fn wallet_conserves_cash(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let m = market(&mut rng);
        let exec = random_exec(&mut rng);
        let grid = Grid::new(random_grid_spec(&mut rng, false), 48.0).unwrap();
        let opts = random_options(&mut rng, exec.clone());
        for i in 0..grid.size() {
            let policy = grid.policy(i);
            let trades: Vec<_> = m.paths.iter().map(|p| simulate_reference(p, &exec, &policy).ok()).collect();
            let offers: Vec<Offer<'_>> = m.calls.iter().zip(&trades).map(|(c, t)| Offer {
                call_id: &c.call_id,
                token: (&c.chain, &c.mint),
                trade: t.as_ref(),
                entry_stop: policy.entry_stop(),
            }).collect();
            let run = run_wallet(&offers, &opts.wallet, exec.cost_model(), exec.fee_bps(), exec.slippage_bps());
            let pnl: f64 = run.taken.iter().map(|t| t.pnl).sum();
            let expected = run.initial_capital + pnl;
            prop_assert!((run.final_capital - expected).abs() <= 1e-9 * run.initial_capital.max(expected.abs()),
                "final {} vs initial + Σ pnl {}", run.final_capital, expected);
            prop_assert_eq!(run.taken.len() + run.skips.len(), offers.len());
            prop_assert!(run.max_open <= opts.wallet.max_concurrent_positions() as usize);
        }
    }

    /// SPEC §5/§6: the best policy of the search equals the best found by running each policy
    /// alone through the reference simulator and a fresh wallet.
    #[test]
    fn best_of_grid_equals_best_run_one_by_one(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let m = market(&mut rng);
        let exec = random_exec(&mut rng);
        let grid = Grid::new(random_grid_spec(&mut rng, true), 48.0).unwrap();
        let mut opts = random_options(&mut rng, exec.clone());
        opts.min_calls = 0;
        let prepared = Prepared::new(windows(&m), &grid, &exec);
        let result = search(&prepared, &grid, &opts);
        for r in &result.per_caller {
            let mut calls: Vec<usize> = (0..m.calls.len()).filter(|&k| m.calls[k].caller == r.caller).collect();
            calls.sort_by(|&a, &b| (m.calls[a].alert_ts_ms, m.calls[a].call_id.as_bytes())
                .cmp(&(m.calls[b].alert_ts_ms, m.calls[b].call_id.as_bytes())));
            let n_in = Prepared::in_sample_count(calls.len(), opts.holdout_fraction());
            let calls = &calls[..n_in];
            let mut one_by_one: Vec<Scored> = Vec::new();
            for i in 0..grid.size() {
                let policy = grid.policy(i);
                let trades: Vec<_> = calls.iter().map(|&k| simulate_reference(&m.paths[k], &exec, &policy).ok()).collect();
                let offers: Vec<Offer<'_>> = calls.iter().zip(&trades).map(|(&k, t)| Offer {
                    call_id: &m.calls[k].call_id,
                    token: (&m.calls[k].chain, &m.calls[k].mint),
                    trade: t.as_ref(),
                    entry_stop: policy.entry_stop(),
                }).collect();
                let run = run_wallet(&offers, &opts.wallet, exec.cost_model(), exec.fee_bps(), exec.slippage_bps());
                let metrics = Metrics::of(&run);
                one_by_one.push(Scored { index: i, feasible: opts.constraints.feasible(&metrics), metrics });
            }
            let best = one_by_one.iter().min_by(|a, b| rank_order(opts.objective, a, b)).unwrap();
            prop_assert_eq!(r.best, best.index);
            prop_assert_eq!(r.best_scored(), best);
            prop_assert_eq!(&r.scored, &one_by_one);
        }
    }
}
