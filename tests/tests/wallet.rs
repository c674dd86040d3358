//! The wallet's limits (SPEC §4, §12): never more than `max_concurrent_positions` open, never
//! two positions on one token unless allowed, every skip recorded with its reason.

use proptest::prelude::*;
use quantbot_core::data::Call;
use quantbot_core::policy::CostModel;
use quantbot_core::trade::{ExitReason, Trade};
use quantbot_core::wallet::{run_wallet, Offer, SkipReason, WalletConfig, WalletParams, WalletRun};
use quantbot_tests::{call, Rng};

fn trade(entry_ts_ms: i64, exit_ts_ms: i64, m: f64) -> Trade {
    Trade {
        entry_ts_ms,
        entry_px: 1.0,
        exit_ts_ms,
        exit_reason: if m > 1.0 {
            ExitReason::TakeProfit
        } else {
            ExitReason::StopLoss
        },
        gross_multiple: m,
        net_multiple: m,
        peak_multiple: m.max(1.0),
        mae: 0.0,
        ambiguous: false,
        fills: 1,
        candles_held: 1,
    }
}

fn run(calls: &[Call], trades: &[Option<Trade>], cfg: &WalletConfig) -> WalletRun {
    let offers: Vec<Offer<'_>> = calls
        .iter()
        .zip(trades)
        .map(|(c, t)| Offer {
            call_id: &c.call_id,
            token: (&c.chain, &c.mint),
            trade: t.as_ref(),
            entry_stop: Some(0.9),
        })
        .collect();
    run_wallet(&offers, cfg, CostModel::Fills, 0.0, 0.0)
}

fn cfg(max_positions: u32, allow_same_token: bool, capital: f64) -> WalletConfig {
    WalletConfig::new(WalletParams {
        initial_capital: capital,
        max_concurrent_positions: max_positions,
        allow_same_token,
        ..WalletParams::default()
    })
    .unwrap()
}

#[test]
fn max_positions_skips_the_rest() {
    let calls: Vec<Call> = (0..5)
        .map(|k| call(&format!("c{k}"), "A", &format!("m{k}"), 0))
        .collect();
    let trades: Vec<_> = (0..5).map(|_| Some(trade(0, 60_000, 1.5))).collect();
    let r = run(&calls, &trades, &cfg(3, false, 10_000.0));
    assert_eq!(r.taken.len(), 3);
    assert_eq!(r.max_open, 3);
    assert_eq!(
        r.skips,
        vec![(3, SkipReason::MaxPositions), (4, SkipReason::MaxPositions)]
    );
}

#[test]
fn a_position_closing_at_the_entry_instant_frees_its_slot() {
    // The first position exits exactly when the second enters: it is closed first (exit ≤ entry).
    let calls = vec![call("a", "A", "m1", 0), call("b", "A", "m1", 60_000)];
    let trades = vec![
        Some(trade(0, 60_000, 1.5)),
        Some(trade(60_000, 120_000, 1.5)),
    ];
    let r = run(&calls, &trades, &cfg(1, false, 10_000.0));
    assert_eq!(r.taken.len(), 2);
    assert!(r.skips.is_empty());
}

#[test]
fn same_token_is_skipped_unless_allowed() {
    let calls = vec![call("a", "A", "m1", 0), call("b", "B", "m1", 30_000)];
    let trades = vec![
        Some(trade(0, 60_000, 1.5)),
        Some(trade(30_000, 90_000, 1.5)),
    ];
    let r = run(&calls, &trades, &cfg(25, false, 10_000.0));
    assert_eq!(r.skips, vec![(1, SkipReason::SameTokenOpen)]);
    let r = run(&calls, &trades, &cfg(25, true, 10_000.0));
    assert_eq!(r.taken.len(), 2);
    // Another chain with the same mint is another token.
    let mut other = calls.clone();
    other[1].chain = "ethereum".into();
    assert_eq!(
        run(&other, &trades, &cfg(25, false, 10_000.0)).taken.len(),
        2
    );
}

#[test]
fn skip_reasons_in_order() {
    // Call c is both over the position limit and on an open token: max_positions comes first.
    let calls = vec![
        call("a", "A", "m1", 0),
        call("b", "A", "m2", 0),
        call("c", "A", "m1", 0),
    ];
    let trades = vec![Some(trade(0, 60_000, 1.5)); 3];
    let r = run(&calls, &trades, &cfg(2, false, 10_000.0));
    assert_eq!(r.skips, vec![(2, SkipReason::MaxPositions)]);
    // No entry is recorded as such; a wallet too small for the minimum size skips the rest.
    let calls = vec![call("a", "A", "m1", 0), call("b", "A", "m2", 0)];
    let r = run(
        &calls,
        &[None, Some(trade(0, 60_000, 1.5))],
        &cfg(2, false, 100.0),
    );
    assert_eq!(
        r.skips,
        vec![(0, SkipReason::NoEntry), (1, SkipReason::BelowMinSize)]
    );
    assert_eq!(r.skip_counts(), [1, 0, 0, 1]);
    assert_eq!(r.final_capital, 100.0);
}

#[test]
fn equity_and_drawdown() {
    // Two positions of 400 each; the first loses half (−200), the second doubles (+400).
    let calls = vec![call("a", "A", "m1", 0), call("b", "A", "m2", 0)];
    let trades = vec![Some(trade(0, 60_000, 0.5)), Some(trade(0, 120_000, 2.0))];
    let w = WalletConfig::new(WalletParams {
        max_risk_per_trade: 1e9,
        ..WalletParams::default()
    })
    .unwrap();
    let r = run(&calls, &trades, &w);
    assert_eq!(r.taken[0].size, 400.0);
    assert_eq!(r.taken[1].size, 0.04 * 9_600.0);
    // After the first close: cash 9,216 + 200 = 9,416, plus 384 at cost = 9,800 (−2 %).
    assert_eq!(r.equity[0], (60_000, 9_800.0));
    assert!((r.max_drawdown - 0.02).abs() < 1e-15);
    assert_eq!(r.final_capital, 9_800.0 + 384.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// At every entry the wallet holds at most `max_concurrent_positions`, and never two
    /// positions on one token when that is not allowed; each offer is taken or skipped once.
    #[test]
    fn limits_hold_on_random_offers(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let n = 1 + rng.below(60) as usize;
        let calls: Vec<Call> = (0..n)
            .map(|k| call(&format!("c{k:02}"), "A", &format!("m{}", rng.below(6)), 0))
            .collect();
        let trades: Vec<Option<Trade>> = (0..n)
            .map(|_| {
                if rng.chance(0.05) {
                    return None;
                }
                let entry = 60_000 * rng.below(50) as i64;
                let exit = entry + 60_000 * rng.below(20) as i64;
                Some(trade(entry, exit, 0.5 + rng.unit() * 2.0))
            })
            .collect();
        let allow = rng.chance(0.3);
        let max = 1 + rng.below(6) as u32;
        let w = WalletConfig::new(WalletParams {
            max_allocation_pct: rng.pick(&[0.04, 0.3]),
            max_concurrent_positions: max,
            allow_same_token: allow,
            ..WalletParams::default()
        })
        .unwrap();
        let r = run(&calls, &trades, &w);
        prop_assert!(r.max_open <= max as usize);
        prop_assert_eq!(r.taken.len() + r.skips.len(), n);
        for (i, a) in r.taken.iter().enumerate() {
            // Positions open at a's entry: taken earlier and not yet exited (exit > entry).
            let open: Vec<_> = r.taken[..i].iter().filter(|b| b.exit_ts_ms > a.entry_ts_ms).collect();
            prop_assert!(open.len() < max as usize);
            if !allow {
                let token = &calls[a.offer].mint;
                prop_assert!(open.iter().all(|b| &calls[b.offer].mint != token));
            }
        }
        for &(k, why) in &r.skips {
            prop_assert_eq!(trades[k].is_none(), why == SkipReason::NoEntry);
        }
    }
}
