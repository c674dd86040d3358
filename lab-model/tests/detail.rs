//! The selected policy's wallet, decision log and trade charts against the search's own scores:
//! every grid point's detail ends at the final capital the search scored, its decision log
//! counts the trades and skips the metrics count, and each trade's chart marks the entry and
//! every fill at the engine's prices and times, with the stop line ending at a stop's fill.

use quantbot_core::data::{Call, Candle};
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::indicator::Rule;
use quantbot_core::optimize::{search, CallWindow, Prepared, SearchOptions};
use quantbot_core::policy::{ExecConfig, ExecParams};
use quantbot_core::splitmix::SplitMix64;
use quantbot_core::store::Series;
use quantbot_core::wallet::{WalletConfig, WalletParams};
use quantbot_lab_model::detail::{
    decisions_table, policy_detail, trade_chart, trades_table, TRADE_COLUMNS,
};

/// 60 calls of three callers on two tokens (so tokens are often already open), random walks
/// of 300 one-minute candles, some up 3×, some down to 0.3×.
fn fixture() -> (Vec<Call>, Vec<Series>) {
    let mut rng = SplitMix64::new(18);
    let calls: Vec<Call> = (0..60)
        .map(|k| Call {
            call_id: format!("c{k:02}"),
            caller: ["A", "B", "C"][k % 3].into(),
            chain: "sol".into(),
            mint: format!("m{}", k % 2),
            alert_ts_ms: k as i64 * 1_800_000,
            price_at_alert: None,
        })
        .collect();
    let series = (0..60)
        .map(|k| {
            let mut p: f64 = 1.0;
            let drift = (k % 7) as f64 / 7.0 - 0.45;
            let candles: Vec<Candle> = (0..300)
                .map(|i| {
                    let open = p;
                    p *= 1.0 + (rng.unit() - 0.5 + drift * 0.05) * 0.08;
                    let close = p;
                    let hi = open.max(close) * (1.0 + rng.unit() * 0.03);
                    let lo = open.min(close) * (1.0 - rng.unit() * 0.03);
                    Candle {
                        ts: k as i64 * 1800 + i as i64 * 60,
                        open,
                        high: hi,
                        low: lo,
                        close,
                        volume: 1.0 + rng.unit() * 10.0,
                    }
                })
                .collect();
            Series::new(&candles)
        })
        .collect();
    (calls, series)
}

/// Each call's window: its whole series.
fn whole_windows<'a>(calls: &'a [Call], series: &'a [Series]) -> Vec<CallWindow<'a>> {
    calls
        .iter()
        .zip(series)
        .map(|(call, s)| CallWindow {
            call,
            candles: s.window(0..s.len()),
        })
        .collect()
}

#[test]
fn every_points_detail_is_the_wallet_the_search_scored() {
    let (calls, series) = fixture();
    let windows = whole_windows(&calls, &series);
    let spec = GridSpec {
        tp: vec![Some(1.3), Some(2.0), None],
        sl: vec![Some(0.9), None],
        trail: vec![None, Some(0.15)],
        max_hold: vec![2.0, 5.0],
        indicator: vec![None, Some(Rule::EmaCross { fast: 5, slow: 12 })],
        ..GridSpec::default()
    };
    let grid = Grid::new(spec, 5.0).unwrap();
    let exec = ExecConfig::new(ExecParams::default()).unwrap();
    // Two positions at most and large sizes: every skip reason but no_entry happens.
    let wallet = WalletConfig::new(WalletParams {
        max_concurrent_positions: 2,
        max_allocation_pct: 0.6,
        max_risk_per_trade: 1e9,
        min_executable_size: 1500.0,
        ..WalletParams::default()
    })
    .unwrap();
    let opts = SearchOptions::new(exec, wallet).with_holdout(0.25).unwrap();
    let prepared = Prepared::new(windows, &grid, &opts.exec);
    let result = search(&prepared, &grid, &opts);
    let mut reasons_seen = [0usize; 4];
    let (mut charts, mut stop_fills) = (0, 0);
    for r in &result.per_caller {
        for s in &r.scored {
            let d = policy_detail(&prepared, &grid, &r.caller, s.index, &opts).unwrap();
            assert!(
                d.in_sample,
                "under a holdout the wallet sees the in-sample calls"
            );
            assert_eq!(d.final_capital.to_bits(), s.metrics.final_capital.to_bits());
            let (taken, skipped) = d.counts();
            assert_eq!(taken, s.metrics.trades as usize);
            assert_eq!(skipped.map(|n| n as u32), s.metrics.skipped);
            assert_eq!(d.trades.len(), taken);
            assert_eq!(d.decisions.len(), d.calls);
            for k in 0..4 {
                reasons_seen[k] += skipped[k];
            }
            let pnl: f64 = d.trades.iter().map(|t| t.pnl).sum();
            assert!((d.initial_capital + pnl - d.final_capital).abs() < 1e-6);
            let table = trades_table(&d);
            assert_eq!(table.columns, TRADE_COLUMNS);
            assert_eq!(table.rows.len(), taken);
            assert_eq!(decisions_table(&d).rows.len(), d.calls);
            if s.index % 7 != 0 {
                continue;
            }
            for t in &d.trades {
                let c = trade_chart(&prepared, &grid, &r.caller, t.call, s.index, &opts).unwrap();
                charts += 1;
                assert_eq!(c.call_id, t.call_id);
                let entry = &c.marks[0];
                assert_eq!((entry.kind.as_str(), entry.ts_ms), ("entry", t.entry_ts_ms));
                assert_eq!(entry.price.to_bits(), t.entry_px.to_bits());
                let last = c.marks.last().unwrap();
                assert_eq!(last.ts_ms, t.exit_ts_ms);
                assert_eq!(c.marks.len(), 1 + t.fills as usize);
                assert_eq!(c.exit_reason, t.exit_reason);
                // Marks sit on the candle they happened on: at its open or its close.
                for m in &c.marks {
                    assert!(c.bars.iter().any(|b| b.time == m.time));
                    assert!(m.time * 1000 == m.ts_ms || (m.time + 60) * 1000 == m.ts_ms);
                }
                if t.exit_reason == "stop_loss" {
                    let line = c.levels.iter().find(|l| l.name == "stop_loss").unwrap();
                    let end = line.points.last().unwrap();
                    let bar = c.bars.iter().find(|b| b.time == end.0).unwrap();
                    // Unless the candle opened below the stop (a gap fills at the open), the
                    // stop line ends at the fill's price.
                    if bar.open > end.1.unwrap() {
                        assert_eq!(end.1.unwrap().to_bits(), last.price.to_bits());
                        stop_fills += 1;
                    }
                    assert_eq!(end.0, last.time);
                }
                if grid.params(s.index).indicator.is_some() {
                    assert_eq!(c.indicator.len(), 2, "two EMA lines");
                    assert!(c.indicator.iter().all(|l| l.pane == 0));
                }
            }
        }
    }
    assert!(charts > 50, "{charts} charts");
    assert!(
        stop_fills > 0,
        "no stop-loss fill at the stop's level was checked"
    );
    assert!(
        reasons_seen[1..].iter().all(|&n| n > 0),
        "every wallet skip reason happens: {reasons_seen:?}"
    );
    // A policy index outside the grid, or an unknown caller, has no detail.
    assert!(policy_detail(&prepared, &grid, "A", grid.size(), &opts).is_none());
    assert!(policy_detail(&prepared, &grid, "Z", 0, &opts).is_none());
}

/// A bundle's `lab.json` gives the lab back the run as computed: the options (through the
/// share link's form), every score and the equity curves, bit for bit.
#[test]
fn a_bundles_lab_file_gives_back_the_run_bit_for_bit() {
    use quantbot_format::options::V1Options;
    use quantbot_lab_model::bundle::{lab_json, lab_run};
    let (calls, series) = fixture();
    let windows = whole_windows(&calls, &series);
    let mut options = V1Options::default();
    options.set("--tp-mults", "[1.3,2,null]");
    options.set("--sl-mults", "[0.9,null]");
    options.set("--max-hold-hrs", "[2,5]");
    options.set("--folds", "2");
    let grid = options.grid(5.0).unwrap();
    let opts = options.search_options(60).unwrap();
    let prepared = Prepared::new(windows, &grid, &opts.exec);
    let result = search(&prepared, &grid, &opts);
    let equity: Vec<Vec<(i64, f64)>> = result
        .per_caller
        .iter()
        .map(|r| {
            let d = policy_detail(&prepared, &grid, &r.caller, r.best, &opts).unwrap();
            d.equity
        })
        .collect();
    // Through text, as the file travels.
    let text = serde_json::to_string(&lab_json(&options, &result, &equity)).unwrap();
    let back = lab_run(&serde_json::from_str(&text).unwrap()).unwrap();
    // Every caller's scores, best, flags and robustness; the grouped wallet's metrics (its
    // history does not travel: no view reads it).
    assert_eq!(back.result.per_caller, result.per_caller);
    let (a, b) = (back.result.grouped.unwrap(), result.grouped.unwrap());
    assert_eq!((a.callers, a.metrics), (b.callers, b.metrics));
    assert_eq!(back.form.options(5.0, 60).unwrap(), options);
    assert_eq!(
        format!("{:?}", back.equity),
        format!("{equity:?}"),
        "the equity curves"
    );
    assert!(lab_run(&serde_json::json!({"format": "other"})).is_err());
}
