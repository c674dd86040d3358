//! Reading the independent oracle's cases (`tools/oracle/gen.py`) into engine types, shared by
//! `tests/oracle.rs` (§3–§5, §7) and `tests/oracle_robustness.rs` (§13): running the Python
//! side, numbers, the execution and wallet options, the calls with their candles, a policy.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use quantbot_core::data::{Call, Candle};
use quantbot_core::metrics::Metrics;
use quantbot_core::policy::{
    CostModel, EntryPrice, ExecConfig, ExecParams, Intrabar, Ladder, PolicyParams,
};
use quantbot_core::wallet::{WalletConfig, WalletParams};
use serde_json::Value;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `python3 ARGS` in the repository's root with `stdin`, its stdout; `None` when python3 cannot
/// start (the caller reports the test as skipped). A failing script fails the test.
pub fn python(args: &[&str], stdin: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut child = Command::new("python3")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 {args:?} failed");
    Some(out.stdout)
}

/// A number the case must hold.
pub fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// A number, or `None` for `null`.
pub fn opt_f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The relative difference of two values (0 when equal or both missing), `None` when only one
/// is missing.
pub fn rel_diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => Some(0.0),
        (Some(x), Some(y)) if x == y => Some(0.0),
        (Some(x), Some(y)) => Some((x - y).abs() / x.abs().max(y.abs()).max(1e-300)),
        _ => None,
    }
}

/// Equal to within `rel` (relative), or both missing.
pub fn close(a: Option<f64>, b: Option<f64>, rel: f64) -> bool {
    rel_diff(a, b).is_some_and(|d| d <= rel)
}

/// The case's execution options (`interval_s`, `options.entry_price`, …).
pub fn exec_config(doc: &Value) -> ExecConfig {
    let o = &doc["options"];
    ExecConfig::new(ExecParams {
        interval_s: doc["interval_s"].as_i64().unwrap(),
        entry_price: match o["entry_price"].as_str().unwrap() {
            "open" => EntryPrice::Open,
            _ => EntryPrice::Close,
        },
        intrabar: match o["intrabar"].as_str().unwrap() {
            "sl_first" => Intrabar::SlFirst,
            _ => Intrabar::TpFirst,
        },
        cost_model: match o["cost_model"].as_str().unwrap() {
            "fills" => CostModel::Fills,
            _ => CostModel::V1,
        },
        fee_bps: f(&o["fee_bps"]),
        slippage_bps: f(&o["slippage_bps"]),
        be_offset: f(&o["be_offset"]),
    })
    .unwrap()
}

/// The case's wallet (`options.wallet`).
pub fn wallet_config(doc: &Value) -> WalletConfig {
    let w = &doc["options"]["wallet"];
    WalletConfig::new(WalletParams {
        initial_capital: f(&w["initial_capital"]),
        max_allocation_pct: f(&w["max_allocation_pct"]),
        max_risk_per_trade: f(&w["max_risk_per_trade"]),
        max_concurrent_positions: w["max_concurrent_positions"].as_u64().unwrap() as u32,
        min_executable_size: f(&w["min_executable_size"]),
        allow_same_token: w["allow_same_token"].as_bool().unwrap(),
    })
    .unwrap()
}

/// The case's calls, each with its candles (`[ts, open, high, low, close, volume]` rows).
pub fn calls_with_candles(doc: &Value) -> Vec<(Call, Vec<Candle>)> {
    doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let call = Call {
                call_id: c["call_id"].as_str().unwrap().into(),
                caller: c["caller"].as_str().unwrap().into(),
                chain: c["chain"].as_str().unwrap().into(),
                mint: c["mint"].as_str().unwrap().into(),
                alert_ts_ms: c["alert_ts_ms"].as_i64().unwrap(),
                price_at_alert: None,
            };
            let candles = c["candles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| Candle {
                    ts: b[0].as_i64().unwrap(),
                    open: f(&b[1]),
                    high: f(&b[2]),
                    low: f(&b[3]),
                    close: f(&b[4]),
                    volume: f(&b[5]),
                })
                .collect();
            (call, candles)
        })
        .collect()
}

/// A ladder (`[[multiple, fraction], …]`), or `None` for `null`.
pub fn ladder(v: &Value) -> Option<Ladder> {
    v.as_array()
        .map(|l| Ladder::new(l.iter().map(|lv| (f(&lv[0]), f(&lv[1]))).collect()).unwrap())
}

/// A policy of the case's `policies` list.
pub fn policy_params(p: &Value) -> PolicyParams {
    PolicyParams {
        tp: opt_f(&p["tp"]),
        sl: opt_f(&p["sl"]),
        trail: opt_f(&p["trail"]),
        trail_activation: opt_f(&p["trail_activation"]),
        be_trigger: opt_f(&p["be_trigger"]),
        ladder: ladder(&p["ladder"]),
        max_hold_hours: f(&p["max_hold_hours"]),
        indicator: p["indicator"].as_str().map(|r| r.parse().unwrap()),
    }
}

/// The §5 metrics that are floats, under the names the oracle's JSON uses, in §5 order (the
/// counts are compared apart).
pub fn float_metrics(m: &Metrics) -> [(&'static str, Option<f64>); 11] {
    [
        ("final_capital", Some(m.final_capital)),
        ("total_return", Some(m.total_return)),
        ("win_rate", m.win_rate),
        ("mean_return", m.mean_return),
        ("median_return", m.median_return),
        ("profit_factor", m.profit_factor),
        ("sharpe", m.sharpe),
        ("max_drawdown", Some(m.max_drawdown)),
        ("stop_out_rate", m.stop_out_rate),
        ("mean_hold_hours", m.mean_hold_hours),
        ("capture", m.capture),
    ]
}
