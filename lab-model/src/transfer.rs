//! Moving a loaded dataset's call list and a search result between two instances of the
//! engine without loss (the lab's one-worker mode, where the page and its worker share no
//! memory): JSON with every f64 carried as its bit pattern, so nothing is rounded.

use std::ops::Range;

use quantbot_core::data::Call;
use quantbot_core::metrics::{Metrics, Scored};
use quantbot_core::optimize::{CallerResult, GroupedResult, HoldoutResult, SearchResult};
use quantbot_core::robust::{Deflated, Fold, Robustness, Verdict, WalkForward};
use quantbot_core::wallet::WalletRun;
use quantbot_core::window::Exclusion;
use serde_json::{json, Value};

use quantbot_format::dataset::Dataset;
use quantbot_format::Error;

type Result<T> = std::result::Result<T, Error>;

fn f(x: f64) -> Value {
    json!(x.to_bits())
}

fn of(x: Option<f64>) -> Value {
    x.map_or(Value::Null, f)
}

fn bad(what: &str) -> Error {
    Error::Data(format!("transfer: malformed {what}"))
}

fn get_f(v: &Value) -> Result<f64> {
    v.as_u64().map(f64::from_bits).ok_or_else(|| bad("number"))
}

fn get_of(v: &Value) -> Result<Option<f64>> {
    if v.is_null() {
        Ok(None)
    } else {
        get_f(v).map(Some)
    }
}

fn get_u(v: &Value) -> Result<u64> {
    v.as_u64().ok_or_else(|| bad("count"))
}

fn get_s(v: &Value) -> Result<String> {
    v.as_str().map(str::to_string).ok_or_else(|| bad("text"))
}

fn metrics(m: &Metrics) -> Value {
    json!([
        f(m.final_capital),
        f(m.total_return),
        m.trades,
        m.skipped,
        of(m.win_rate),
        of(m.mean_return),
        of(m.median_return),
        of(m.profit_factor),
        of(m.sharpe),
        f(m.max_drawdown),
        of(m.stop_out_rate),
        of(m.mean_hold_hours),
        of(m.capture),
        m.ambiguous_trades,
    ])
}

fn metrics_from(v: &Value) -> Result<Metrics> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 14)
        .ok_or_else(|| bad("metrics"))?;
    let skipped = a[3]
        .as_array()
        .filter(|s| s.len() == 4)
        .ok_or_else(|| bad("skips"))?;
    let mut sk = [0u32; 4];
    for (k, s) in skipped.iter().enumerate() {
        sk[k] = get_u(s)? as u32;
    }
    Ok(Metrics {
        final_capital: get_f(&a[0])?,
        total_return: get_f(&a[1])?,
        trades: get_u(&a[2])? as u32,
        skipped: sk,
        win_rate: get_of(&a[4])?,
        mean_return: get_of(&a[5])?,
        median_return: get_of(&a[6])?,
        profit_factor: get_of(&a[7])?,
        sharpe: get_of(&a[8])?,
        max_drawdown: get_f(&a[9])?,
        stop_out_rate: get_of(&a[10])?,
        mean_hold_hours: get_of(&a[11])?,
        capture: get_of(&a[12])?,
        ambiguous_trades: get_u(&a[13])? as u32,
    })
}

fn robustness(r: &Robustness) -> Value {
    let wf = r.walk_forward.as_ref().map(|w| {
        let folds: Vec<Value> = w
            .folds
            .iter()
            .map(|k| {
                let equity: Vec<Value> = k
                    .out_of_sample_equity
                    .iter()
                    .map(|&(t, e)| json!([t, f(e)]))
                    .collect();
                json!([
                    k.fold,
                    k.best,
                    metrics(&k.in_sample),
                    metrics(&k.out_of_sample),
                    equity
                ])
            })
            .collect();
        json!([f(w.compounded_oos_return), w.policy_changes, folds])
    });
    let d = &r.deflated;
    json!([
        d.trials,
        of(d.sr0),
        of(d.dsr),
        of(r.pbo),
        r.verdict.as_str(),
        wf
    ])
}

fn robustness_from(v: &Value) -> Result<Robustness> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 6)
        .ok_or_else(|| bad("robustness"))?;
    let verdict = Verdict::ALL
        .into_iter()
        .find(|x| a[4].as_str() == Some(x.as_str()))
        .ok_or_else(|| bad("verdict"))?;
    let walk_forward = match &a[5] {
        Value::Null => None,
        w => {
            let w = w
                .as_array()
                .filter(|w| w.len() == 3)
                .ok_or_else(|| bad("walk-forward"))?;
            let mut folds = Vec::new();
            for k in w[2].as_array().ok_or_else(|| bad("folds"))? {
                let k = k
                    .as_array()
                    .filter(|k| k.len() == 5)
                    .ok_or_else(|| bad("fold"))?;
                let mut equity = Vec::new();
                for p in k[4].as_array().ok_or_else(|| bad("equity"))? {
                    let t = p[0].as_i64().ok_or_else(|| bad("time"))?;
                    equity.push((t, get_f(&p[1])?));
                }
                folds.push(Fold {
                    fold: get_u(&k[0])? as usize,
                    best: get_u(&k[1])? as usize,
                    in_sample: metrics_from(&k[2])?,
                    out_of_sample: metrics_from(&k[3])?,
                    out_of_sample_equity: equity,
                });
            }
            Some(WalkForward {
                folds,
                compounded_oos_return: get_f(&w[0])?,
                policy_changes: get_u(&w[1])? as usize,
            })
        }
    };
    Ok(Robustness {
        deflated: Deflated {
            trials: get_u(&a[0])? as usize,
            sr0: get_of(&a[1])?,
            dsr: get_of(&a[2])?,
        },
        pbo: get_of(&a[3])?,
        walk_forward,
        verdict,
    })
}

/// A search result (the grouped wallet's history is left out: only its callers and metrics
/// travel).
pub fn result_to_json(r: &SearchResult) -> Value {
    json!({
        "evaluations": r.evaluations,
        "wallets": r.wallets,
        "wallet_points": r.wallet_points,
        "per_caller": r.per_caller.iter().map(|c| json!({
            "caller": c.caller,
            "calls": c.calls,
            "best": c.best,
            "collapsed": c.collapsed,
            "edge": c.edge,
            "kept": c.kept,
            "holdout": c.holdout.as_ref().map(|h| json!([
                metrics(&h.in_sample), metrics(&h.out_of_sample), h.in_sample_calls, h.out_of_sample_calls
            ])),
            "scored": c.scored.iter().map(|s| json!([s.index, s.feasible, metrics(&s.metrics)])).collect::<Vec<_>>(),
            "robustness": c.robustness.as_ref().map(robustness),
        })).collect::<Vec<_>>(),
        "grouped": r.grouped.as_ref().map(|g| json!({"callers": g.callers, "metrics": metrics(&g.metrics)})),
    })
}

/// The search result of [`result_to_json`].
pub fn result_from_json(v: &Value) -> Result<SearchResult> {
    let mut per_caller = Vec::new();
    for c in v["per_caller"]
        .as_array()
        .ok_or_else(|| bad("per_caller"))?
    {
        let holdout = match &c["holdout"] {
            Value::Null => None,
            h => {
                let a = h
                    .as_array()
                    .filter(|a| a.len() == 4)
                    .ok_or_else(|| bad("holdout"))?;
                Some(HoldoutResult {
                    in_sample: metrics_from(&a[0])?,
                    out_of_sample: metrics_from(&a[1])?,
                    in_sample_calls: get_u(&a[2])? as usize,
                    out_of_sample_calls: get_u(&a[3])? as usize,
                })
            }
        };
        let mut scored = Vec::new();
        for s in c["scored"].as_array().ok_or_else(|| bad("scored"))? {
            let a = s
                .as_array()
                .filter(|a| a.len() == 3)
                .ok_or_else(|| bad("point"))?;
            scored.push(Scored {
                index: get_u(&a[0])? as usize,
                feasible: a[1].as_bool().ok_or_else(|| bad("feasible"))?,
                metrics: metrics_from(&a[2])?,
            });
        }
        per_caller.push(CallerResult {
            caller: get_s(&c["caller"])?,
            calls: get_u(&c["calls"])? as usize,
            scored,
            best: get_u(&c["best"])? as usize,
            collapsed: c["collapsed"].as_bool().ok_or_else(|| bad("collapsed"))?,
            edge: c["edge"].as_bool().ok_or_else(|| bad("edge"))?,
            holdout,
            kept: c["kept"].as_bool().ok_or_else(|| bad("kept"))?,
            robustness: match &c["robustness"] {
                Value::Null => None,
                r => Some(robustness_from(r)?),
            },
        });
    }
    let grouped = match &v["grouped"] {
        Value::Null => None,
        g => {
            let m = metrics_from(&g["metrics"])?;
            let callers = g["callers"]
                .as_array()
                .ok_or_else(|| bad("callers"))?
                .iter()
                .map(get_s)
                .collect::<Result<Vec<_>>>()?;
            Some(GroupedResult {
                callers,
                wallet: WalletRun {
                    initial_capital: m.final_capital / (1.0 + m.total_return),
                    final_capital: m.final_capital,
                    taken: Vec::new(),
                    skips: Vec::new(),
                    equity: Vec::new(),
                    max_drawdown: m.max_drawdown,
                    max_open: 0,
                    decisions: Vec::new(),
                },
                metrics: m,
            })
        }
    };
    Ok(SearchResult {
        per_caller,
        grouped,
        evaluations: get_u(&v["evaluations"])?,
        wallets: get_u(&v["wallets"])?,
        wallet_points: get_u(&v["wallet_points"])?,
    })
}

/// A dataset's calls and their status, without candles (what the page shows and counts).
pub fn calls_to_json(ds: &Dataset) -> Value {
    json!({
        "source_label": ds.source_label,
        "manifest_sha256": ds.manifest_sha256,
        "interval_s": ds.interval_s,
        "horizon_hours": f(ds.horizon_hours),
        "min_coverage": f(ds.min_coverage),
        "candles": ds.candle_count(),
        "candle_bytes": ds.candle_bytes(),
        "calls": ds.calls.iter().zip(&ds.status).map(|(c, st)| json!([
            c.call_id, c.caller, c.chain, c.mint, c.alert_ts_ms, of(c.price_at_alert),
            match st { Ok(_) => Value::Null, Err(e) => json!(e.as_str()) },
        ])).collect::<Vec<_>>(),
    })
}

/// The dataset of [`calls_to_json`] (no candles: eligible calls get empty windows) and its
/// candle count.
pub fn calls_from_json(v: &Value) -> Result<(Dataset, usize)> {
    let mut calls = Vec::new();
    let mut status: Vec<std::result::Result<Range<usize>, Exclusion>> = Vec::new();
    for c in v["calls"].as_array().ok_or_else(|| bad("calls"))? {
        let a = c
            .as_array()
            .filter(|a| a.len() == 7)
            .ok_or_else(|| bad("call"))?;
        calls.push(Call {
            call_id: get_s(&a[0])?,
            caller: get_s(&a[1])?,
            chain: get_s(&a[2])?,
            mint: get_s(&a[3])?,
            alert_ts_ms: a[4].as_i64().ok_or_else(|| bad("alert_ts_ms"))?,
            price_at_alert: get_of(&a[5])?,
        });
        status.push(match &a[6] {
            Value::Null => Ok(0..0),
            r => {
                let text = get_s(r)?;
                Err(Exclusion::ALL
                    .into_iter()
                    .find(|e| e.as_str() == text)
                    .ok_or_else(|| bad("reason"))?)
            }
        });
    }
    let ds = Dataset {
        source_label: get_s(&v["source_label"])?,
        manifest_sha256: v["manifest_sha256"].as_str().map(str::to_string),
        interval_s: v["interval_s"].as_i64().ok_or_else(|| bad("interval"))?,
        horizon_hours: get_f(&v["horizon_hours"])?,
        min_coverage: get_f(&v["min_coverage"])?,
        calls,
        tokens: Default::default(),
        status,
    };
    Ok((ds, get_u(&v["candles"])? as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(k: f64) -> Metrics {
        Metrics {
            final_capital: 10_000.0 + k / 3.0,
            total_return: k / 30_000.0,
            trades: 7,
            skipped: [1, 2, 3, 4],
            win_rate: Some(0.1 + k),
            mean_return: None,
            median_return: Some(-0.0),
            profit_factor: Some(f64::INFINITY),
            sharpe: Some(f64::MIN_POSITIVE),
            max_drawdown: 0.3,
            stop_out_rate: None,
            mean_hold_hours: Some(1e-300),
            capture: Some(-2.5),
            ambiguous_trades: 2,
        }
    }

    #[test]
    fn results_travel_bit_for_bit() {
        let r = SearchResult {
            per_caller: vec![CallerResult {
                caller: "Brook 💀🧲".into(),
                calls: 12,
                scored: vec![
                    Scored {
                        index: 0,
                        feasible: true,
                        metrics: m(1.0),
                    },
                    Scored {
                        index: 1,
                        feasible: false,
                        metrics: m(2.0),
                    },
                ],
                best: 1,
                collapsed: true,
                edge: false,
                holdout: Some(HoldoutResult {
                    in_sample: m(3.0),
                    out_of_sample: m(4.0),
                    in_sample_calls: 9,
                    out_of_sample_calls: 3,
                }),
                kept: false,
                robustness: Some(Robustness {
                    deflated: Deflated {
                        trials: 2,
                        sr0: Some(0.25),
                        dsr: None,
                    },
                    pbo: Some(1.0 / 70.0),
                    walk_forward: Some(WalkForward {
                        folds: vec![Fold {
                            fold: 1,
                            best: 1,
                            in_sample: m(5.0),
                            out_of_sample: m(6.0),
                            out_of_sample_equity: vec![(1_700_000_000_000, 10_000.1)],
                        }],
                        compounded_oos_return: 0.1 + 0.2,
                        policy_changes: 0,
                    }),
                    verdict: Verdict::Inconclusive,
                }),
            }],
            grouped: None,
            evaluations: 24,
            wallets: 3,
            wallet_points: 5,
        };
        let text = serde_json::to_string(&result_to_json(&r)).unwrap();
        let back = result_from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            quantbot_format::results::caller_flags(&back.per_caller[0]),
            ["infeasible", "collapsed", "not grouped"]
        );
        assert_eq!(
            back.per_caller[0].scored[0]
                .metrics
                .median_return
                .unwrap()
                .to_bits(),
            (-0.0f64).to_bits()
        );
        assert!(result_from_json(&json!({"per_caller": [{"caller": 1}]})).is_err());
    }
}
