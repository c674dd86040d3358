//! Golden indicator series (SPEC §3.7) on a 12-candle path, each value derived by hand from the
//! SPEC's formulas (written out in the comments) and compared exactly.

use quantbot_core::data::Candle;
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::indicator::{ema, midline, rsi, volume_z, Rule};
use quantbot_core::optimize::{search, CallWindow, Prepared, SearchOptions};
use quantbot_core::policy::ExecConfig;
use quantbot_core::store::Series;
use quantbot_core::wallet::WalletConfig;
use quantbot_tests::{call, random_path, Rng};

/// Closes 10 11 12 11 10 9 10 12 13 12 10 9; open = previous close (10 first);
/// high = max(open, close) + 1; low = min(open, close) − 1; volume 1 except 10 at position 9.
fn path() -> Vec<Candle> {
    let closes = [
        10.0, 11.0, 12.0, 11.0, 10.0, 9.0, 10.0, 12.0, 13.0, 12.0, 10.0, 9.0,
    ];
    let mut open = 10.0;
    closes
        .iter()
        .enumerate()
        .map(|(j, &close)| {
            let c = Candle {
                ts: 60 * j as i64,
                open,
                high: f64::max(open, close) + 1.0,
                low: f64::min(open, close) - 1.0,
                close,
                volume: if j == 9 { 10.0 } else { 1.0 },
            };
            open = close;
            c
        })
        .collect()
}

fn some(xs: &[f64], from: usize) -> Vec<Option<f64>> {
    (0..from)
        .map(|_| None)
        .chain(xs.iter().map(|&x| Some(x)))
        .collect()
}

#[test]
fn ema_cross_series() {
    let w = path();
    // EMA(3): seed at position 2 = (10 + 11 + 12) / 3 = 11, then e += 0.5 × (close − e):
    // 11, 10.5, 9.75, 9.875, 10.9375, 11.96875, 11.984375, 10.9921875, 9.99609375.
    let ema3 = some(
        &[
            11.0, 11.0, 10.5, 9.75, 9.875, 10.9375, 11.96875, 11.984375, 10.9921875, 9.99609375,
        ],
        2,
    );
    assert_eq!(ema(&w, 3), ema3);
    // EMA(1): k = 1, so it is the close itself.
    assert_eq!(
        ema(&w, 1),
        some(&w.iter().map(|c| c.close).collect::<Vec<_>>(), 0)
    );
    // d = close − EMA(3) = 1, 0, −0.5, −0.75, 0.125, 1.0625, 1.03125, 0.015625, −0.9921875, …:
    // crosses down at positions 3 (1 → 0) and 10 (0.015625 → −0.9921875).
    let s: Rule = "ema_cross:1:3".parse().unwrap();
    let series = s.series(&w);
    assert_eq!(
        series.signal,
        some(
            &[
                1.0,
                0.0,
                -0.5,
                -0.75,
                0.125,
                1.0625,
                1.03125,
                0.015625,
                -0.9921875,
                -0.99609375
            ],
            2
        )
    );
    assert_eq!(series.fires, vec![3, 10]);
}

#[test]
fn rsi_series() {
    let w = path();
    // Changes from position 1: +1 +1 −1 −1 −1 +1 +2 +1 −1 −2 −1. RSI(2):
    // position 2: gain = (1 + 1) / 2 = 1, loss = 0 → 100;
    // then gain = (gain × 1 + max(ch, 0)) / 2, loss likewise with max(−ch, 0).
    let rsi_of = |g: f64, l: f64| {
        if l == 0.0 {
            100.0
        } else {
            100.0 - 100.0 / (1.0 + g / l)
        }
    };
    let changes = [1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 2.0, 1.0, -1.0, -2.0, -1.0];
    let (mut g, mut l) = ((1.0 + 1.0) / 2.0, 0.0 / 2.0);
    let mut want = vec![None, None, Some(rsi_of(g, l))];
    for &ch in &changes[2..] {
        g = (g * (2.0 - 1.0) + f64::max(ch, 0.0)) / 2.0;
        l = (l * (2.0 - 1.0) + f64::max(-ch, 0.0)) / 2.0;
        want.push(Some(rsi_of(g, l)));
    }
    assert_eq!(rsi(&w, 2), want);
    // Spot values: position 3 is exactly 50 (gain = loss = 0.5); position 5 is 12.5
    // (gain 0.125, loss 0.875); position 9 is just above 50, position 10 far below.
    assert_eq!(want[3], Some(50.0));
    assert_eq!(want[5], Some(12.5));
    assert!(want[9].unwrap() > 50.0 && want[10].unwrap() < 50.0);
    // rsi − 50 crosses down at 3 (50 → 0 exactly) and at 10.
    let r: Rule = "rsi_below:2:50".parse().unwrap();
    assert_eq!(r.series(&w).fires, vec![3, 10]);
}

#[test]
fn tk_cross_series() {
    let w = path();
    // Highs 11 12 13 13 12 11 11 13 14 14 13 11; lows 9 9 10 10 9 8 8 9 11 11 9 8.
    // line(2) from position 1: (max of 2 highs + min of 2 lows) / 2.
    let t2 = some(
        &[
            10.5, 11.0, 11.5, 11.0, 10.0, 9.5, 10.5, 11.5, 12.5, 11.5, 10.5,
        ],
        1,
    );
    // line(4) from position 3.
    let k4 = some(&[11.0, 11.0, 10.5, 10.5, 10.5, 11.0, 11.0, 11.5, 11.0], 3);
    assert_eq!(midline(&w, 2), t2);
    assert_eq!(midline(&w, 4), k4);
    // d = 0.5, 0, −0.5, −1, 0, 0.5, 1.5, 0, −0.5: crosses down at 4 and 10 (not at 7: d[6] < 0).
    let r: Rule = "tk_cross:2:4".parse().unwrap();
    let s = r.series(&w);
    assert_eq!(
        s.signal,
        some(&[0.5, 0.0, -0.5, -1.0, 0.0, 0.5, 1.5, 0.0, -0.5], 3)
    );
    assert_eq!(s.fires, vec![4, 10]);
}

#[test]
fn volume_spike_series() {
    let w = path();
    // Window of 3 from position 2: all ones give std 0 → z = 0. Position 9: [1, 1, 10], mean 4,
    // std = sqrt((9 + 9 + 36) / 3) = sqrt(18), z = 6 / sqrt(18). Position 10: [1, 10, 1]:
    // z = −3 / sqrt(18). Position 11: [10, 1, 1]: z = −3 / sqrt(18).
    let s18 = f64::sqrt(18.0);
    let want = some(
        &[
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            6.0 / s18,
            -3.0 / s18,
            -3.0 / s18,
        ],
        2,
    );
    assert_eq!(volume_z(&w, 3), want);
    // z ≥ 1 only at position 9 (6 / sqrt(18) ≈ 1.414).
    let r: Rule = "vol_spike:3:1".parse().unwrap();
    assert_eq!(r.series(&w).fires, vec![9]);
    let r: Rule = "vol_spike:3:1.5".parse().unwrap();
    assert!(r.series(&w).fires.is_empty());
}

#[test]
fn adding_a_rule_keeps_the_indices_and_results_of_the_null_points() {
    // SPEC §12: the indicator dimension is last. A grid with indicators [null] (the default)
    // and the same grid with [null, rule] agree point for point: index i of the first is index
    // 2i of the second, with the same metrics.
    let mut rng = Rng::new(7);
    let calls: Vec<_> = (0..12)
        .map(|k| {
            call(
                &format!("c{k}"),
                ["A", "B"][k % 2],
                &format!("m{k}"),
                1_700_000_000_000,
            )
        })
        .collect();
    let paths: Vec<_> = (0..12)
        .map(|_| random_path(&mut rng, 100, 1_700_000_000))
        .collect();
    let series: Vec<Series> = paths.iter().map(|p| Series::new(p)).collect();
    let windows: Vec<CallWindow<'_>> = calls
        .iter()
        .zip(&series)
        .map(|(call, s)| CallWindow {
            call,
            candles: s.whole(),
        })
        .collect();
    let mut spec = GridSpec {
        trail: vec![None, Some(0.25)],
        ..GridSpec::default()
    };
    let exec = ExecConfig::defaults(60).unwrap();
    let opts = SearchOptions::new(exec.clone(), WalletConfig::default());
    let null_only = Grid::new(spec.clone(), 48.0).unwrap();
    spec.indicator = vec![None, Some("ema_cross:3:8".parse().unwrap())];
    let with_rule = Grid::new(spec, 48.0).unwrap();
    let a = search(
        &Prepared::new(windows.clone(), &null_only, &exec),
        &null_only,
        &opts,
    );
    let b = search(
        &Prepared::new(windows, &with_rule, &exec),
        &with_rule,
        &opts,
    );
    assert_eq!(with_rule.size(), 2 * null_only.size());
    let mut differs = 0;
    for (ra, rb) in a.per_caller.iter().zip(&b.per_caller) {
        for (i, sa) in ra.scored.iter().enumerate() {
            assert_eq!(null_only.label(i), with_rule.label(2 * i));
            assert_eq!(
                sa.metrics,
                rb.scored[2 * i].metrics,
                "caller {} index {i}",
                ra.caller
            );
            differs += usize::from(sa.metrics != rb.scored[2 * i + 1].metrics);
        }
    }
    assert!(
        differs > 0,
        "the rule should change some results on these paths"
    );
}
