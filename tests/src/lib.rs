//! Helpers shared by the cross-crate tests: the golden-case reader (tests are data), the
//! independent oracle's cases ([`oracle`]) and small builders for calls, candles and policies.

pub mod oracle;

use quantbot_core::data::{Call, Candle};
use quantbot_core::indicator::Rule;
use quantbot_core::policy::{
    CostModel, EntryPrice, ExecConfig, ExecParams, Intrabar, Ladder, PolicyParams,
};

/// A candle with no volume.
pub fn bar(ts: i64, open: f64, high: f64, low: f64, close: f64) -> Candle {
    Candle {
        ts,
        open,
        high,
        low,
        close,
        volume: 0.0,
    }
}

/// A call of `caller` on token `mint` (chain "solana").
pub fn call(id: &str, caller: &str, mint: &str, alert_ts_ms: i64) -> Call {
    Call {
        call_id: id.to_string(),
        caller: caller.to_string(),
        chain: "solana".to_string(),
        mint: mint.to_string(),
        alert_ts_ms,
        price_at_alert: None,
    }
}

/// Parses `2:0.25/3:0.25` into a ladder.
pub fn parse_ladder(text: &str) -> Ladder {
    let levels = text
        .split('/')
        .map(|lv| {
            let (m, f) = lv
                .split_once(':')
                .expect("ladder level is multiple:fraction");
            (m.parse().unwrap(), f.parse().unwrap())
        })
        .collect();
    Ladder::new(levels).expect("valid ladder")
}

/// Parses `key=value` words into policy parameters (max_hold in hours, default 48).
pub fn parse_policy(words: &[&str]) -> PolicyParams {
    let mut p = PolicyParams::default();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .unwrap_or_else(|| panic!("bad policy word {w}"));
        let num = || Some(v.parse::<f64>().unwrap());
        match k {
            "tp" => p.tp = num(),
            "sl" => p.sl = num(),
            "trail" => p.trail = num(),
            "trail_activation" => p.trail_activation = num(),
            "be_trigger" => p.be_trigger = num(),
            "ladder" => p.ladder = Some(parse_ladder(v)),
            "max_hold" => p.max_hold_hours = v.parse().unwrap(),
            "indicator" => p.indicator = Some(v.parse::<Rule>().unwrap()),
            _ => panic!("unknown policy key {k}"),
        }
    }
    p
}

/// Parses `key=value` words into run options over a 60 s interval.
pub fn parse_opts(words: &[&str]) -> ExecConfig {
    let (mut entry, mut intrabar, mut cost) =
        (EntryPrice::Open, Intrabar::SlFirst, CostModel::Fills);
    let (mut fee, mut slip, mut be_offset) = (0.0, 0.0, 0.0);
    for w in words {
        let (k, v) = w
            .split_once('=')
            .unwrap_or_else(|| panic!("bad option word {w}"));
        match (k, v) {
            ("entry", "open") => entry = EntryPrice::Open,
            ("entry", "close") => entry = EntryPrice::Close,
            ("intrabar", "sl_first") => intrabar = Intrabar::SlFirst,
            ("intrabar", "tp_first") => intrabar = Intrabar::TpFirst,
            ("cost", "fills") => cost = CostModel::Fills,
            ("cost", "v1") => cost = CostModel::V1,
            ("fee", v) => fee = v.parse().unwrap(),
            ("slip", v) => slip = v.parse().unwrap(),
            ("be_offset", v) => be_offset = v.parse().unwrap(),
            _ => panic!("unknown option {w}"),
        }
    }
    ExecConfig::new(ExecParams {
        interval_s: 60,
        entry_price: entry,
        intrabar,
        cost_model: cost,
        fee_bps: fee,
        slippage_bps: slip,
        be_offset,
    })
    .unwrap()
}

/// One golden case of `tests/golden/trades.txt`.
#[derive(Debug, Clone)]
pub struct GoldenCase {
    pub name: String,
    pub policy: PolicyParams,
    pub opts: ExecConfig,
    pub bars: Vec<Candle>,
    /// Expected trade fields as `key=value` text.
    pub expect: Vec<(String, String)>,
}

/// Reads the golden cases from their text form.
pub fn parse_golden(text: &str) -> Vec<GoldenCase> {
    let mut cases: Vec<GoldenCase> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "case" {
            cases.push(GoldenCase {
                name: words[1].to_string(),
                policy: PolicyParams::default(),
                opts: parse_opts(&[]),
                bars: Vec::new(),
                expect: Vec::new(),
            });
            continue;
        }
        let case = cases.last_mut().expect("a case line comes first");
        match words[0] {
            "policy" => case.policy = parse_policy(&words[1..]),
            "opts" => case.opts = parse_opts(&words[1..]),
            "bar" => {
                let v: Vec<f64> = words[2..].iter().map(|x| x.parse().unwrap()).collect();
                let mut b = bar(words[1].parse().unwrap(), v[0], v[1], v[2], v[3]);
                // An optional fifth number is the volume.
                b.volume = v.get(4).copied().unwrap_or(0.0);
                case.bars.push(b);
            }
            "expect" => {
                case.expect = words[1..]
                    .iter()
                    .map(|w| {
                        let (k, v) = w.split_once('=').unwrap();
                        (k.to_string(), v.to_string())
                    })
                    .collect()
            }
            other => panic!("unknown golden line {other}"),
        }
    }
    cases
}

/// The deterministic generator of the random paths and grids in property tests (shared with
/// the engine's unit tests and the benchmark).
pub use quantbot_core::splitmix::SplitMix64 as Rng;

/// Prices on a grid of 1/64 so that candles often touch stop and take-profit levels exactly.
fn tick(x: f64) -> f64 {
    ((x * 64.0).round() / 64.0).max(1.0 / 64.0)
}

/// A random memecoin-like window of `n` candles at 60 s from `start_ts`: drift and noise, gaps
/// at the open, pumps, rugs, flat bars, missing bars and wide (ambiguous) candles.
pub fn random_path(rng: &mut Rng, n: usize, start_ts: i64) -> Vec<Candle> {
    let mut out = Vec::with_capacity(n);
    let mut ts = start_ts;
    let mut close = tick(0.5 + rng.unit() * 2.0);
    for _ in 0..n {
        let mut open = close;
        if rng.chance(0.08) {
            // A gap at the open: up or down by up to 60 %.
            open = tick(close * (0.4 + rng.unit() * 1.2));
        }
        let step = match rng.below(20) {
            0 => 1.5 + rng.unit() * 2.0, // pump
            1 => 0.2 + rng.unit() * 0.4, // rug
            2 | 3 => 1.0,                // flat
            _ => 0.9 + rng.unit() * 0.22,
        };
        let c = tick(open * step);
        let wide = rng.chance(0.1);
        let up = if wide {
            1.0 + rng.unit() * 1.5
        } else {
            1.0 + rng.unit() * 0.08
        };
        let down = if wide {
            0.4 + rng.unit() * 0.5
        } else {
            1.0 - rng.unit() * 0.08
        };
        let high = tick(open.max(c) * up).max(open.max(c));
        let low = tick(open.min(c) * down).min(open.min(c));
        out.push(Candle {
            ts,
            open,
            high,
            low,
            close: c,
            volume: (rng.below(1000) as f64) * if rng.chance(0.05) { 50.0 } else { 1.0 },
        });
        close = c;
        ts += 60
            * if rng.chance(0.1) {
                1 + rng.below(3) as i64
            } else {
                1
            };
    }
    out
}

/// A random grid specification over values that often coincide with the 1/64 price grid.
pub fn random_grid_spec(rng: &mut Rng, with_rules: bool) -> quantbot_core::grid::GridSpec {
    let some = |rng: &mut Rng, xs: &[f64], k: usize| -> Vec<Option<f64>> {
        let mut v: Vec<Option<f64>> = (0..k).map(|_| Some(rng.pick(xs))).collect();
        if v.is_empty() || rng.chance(0.4) {
            v.push(None);
        }
        v.dedup();
        v
    };
    let use_ladder = rng.chance(0.3);
    let tp = if use_ladder {
        vec![None]
    } else {
        {
            let k = 1 + rng.below(3) as usize;
            some(rng, &[1.25, 1.5, 2.0, 2.5, 3.0, 5.0], k)
        }
    };
    let ladder = if use_ladder {
        let ladders = [
            "2:0.5/3:0.5",
            "1.5:0.25/2:0.25/3:0.25",
            "1.25:0.3/2:0.3/4:0.4",
            "2:0.1/2.5:0.1/3:0.1/3.5:0.1/4:0.1/4.5:0.1/5:0.1/5.5:0.1/6:0.1/6.5:0.1",
            "3:0.5",
        ];
        let mut v: Vec<Option<Ladder>> = vec![Some(parse_ladder(rng.pick(&ladders)))];
        if rng.chance(0.5) {
            v.push(Some(parse_ladder(rng.pick(&ladders))));
        }
        v
    } else {
        vec![None]
    };
    let rules = [
        "ema_cross:2:5",
        "ema_cross:3:8",
        "rsi_below:3:50",
        "rsi_below:5:40",
        "tk_cross:2:6",
        "vol_spike:4:1.5",
        "vol_spike:10:2",
    ];
    let mut indicator: Vec<Option<Rule>> = vec![None];
    if with_rules && rng.chance(0.6) {
        indicator.push(Some(rng.pick(&rules).parse().unwrap()));
    }
    quantbot_core::grid::GridSpec {
        tp,
        sl: {
            let k = 1 + rng.below(2) as usize;
            some(rng, &[0.5, 0.75, 0.8, 0.875, 0.9, 0.95], k)
        },
        trail: {
            let k = rng.below(2) as usize;
            some(rng, &[0.1, 0.125, 0.25, 0.5], k)
        },
        trail_activation: {
            let k = rng.below(2) as usize;
            some(rng, &[1.0, 1.25, 1.5, 2.0], k)
        },
        be_trigger: {
            let k = rng.below(2) as usize;
            some(rng, &[1.125, 1.25, 1.5, 2.0], k)
        },
        ladder,
        max_hold: {
            let mut v = vec![rng.pick(&[0.25, 0.5, 1.0, 2.0, 3.0])];
            if rng.chance(0.4) {
                v.push(rng.pick(&[0.05, 0.75, 1.5, 4.0]));
            }
            v.dedup();
            v
        },
        indicator,
    }
}

/// Random run options: entry price, intrabar order, cost model, fees, break-even offset.
pub fn random_exec(rng: &mut Rng) -> ExecConfig {
    ExecConfig::new(ExecParams {
        interval_s: 60,
        entry_price: if rng.chance(0.5) {
            EntryPrice::Open
        } else {
            EntryPrice::Close
        },
        intrabar: if rng.chance(0.5) {
            Intrabar::SlFirst
        } else {
            Intrabar::TpFirst
        },
        cost_model: if rng.chance(0.7) {
            CostModel::Fills
        } else {
            CostModel::V1
        },
        fee_bps: rng.pick(&[0.0, 10.0, 30.0]),
        slippage_bps: rng.pick(&[0.0, 10.0, 50.0]),
        be_offset: rng.pick(&[0.0, 0.0, 0.125, 0.5]),
    })
    .unwrap()
}

/// Records that the test `test` did not run because its input is missing (`reason`: which file,
/// folder or program): the test must return right after. A line goes to stderr (written to the
/// stream itself, which the test harness does not capture), and when `cargo xtask test` runs,
/// one `file<TAB>test<TAB>reason` line is appended to the file named by `QUANTBOT_SKIP_LOG`
/// (xtask/src/tally.rs reads it), so the summary counts the test as skipped rather than passed,
/// names it, and fails the run under `CI=true`. A log that cannot be written fails the test: a
/// skip never passes silently.
#[track_caller]
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    const LOG_VAR: &str = "QUANTBOT_SKIP_LOG";
    let file = std::panic::Location::caller().file();
    let reason = reason.replace(['\t', '\n'], " ");
    let _ = std::io::stderr().write_all(format!("SKIPPED {test} ({file}): {reason}\n").as_bytes());
    if let Some(log) = std::env::var_os(LOG_VAR) {
        // One write of the whole line: tests in other threads and binaries append to it too.
        let line = format!("{file}\t{test}\t{reason}\n");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .unwrap_or_else(|e| panic!("{LOG_VAR} {}: {e}", log.to_string_lossy()));
    }
}
