//! A published result bundle opened in the lab (issue 19): the CLI's `--out-dir` folder
//! (`results.json`, `grid.parquet`, `trades.parquet`) read by URL, its per-caller table shown
//! from `results.json` as written, without the dataset and without recomputing. What the
//! bundle was run on (the dataset's manifest hash, the engine version) is compared with what the
//! link names, and the table's numbers are the document's.

use quantbot_core::data::{Call, Candle};
use quantbot_core::optimize::SearchResult;
use quantbot_format::options::V1Options;
use quantbot_format::parquet_read::{f64s, for_each_batch, i64s, strs, Floats};
use serde_json::Value;

use crate::detail::{Bar, Mark, TradeChart};
use crate::form::Form;
use crate::messages::Curves;
use crate::share::ShareLink;
use crate::table::{Cell, Table};
use crate::transfer;

/// The bundle's run: its options, dataset and engine, and the per-caller table.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleView {
    pub table: Table,
    pub objective: String,
    pub engine_version: Option<String>,
    pub manifest_sha256: Option<String>,
    /// The options in effect, as `(name, value)` in the document's order.
    pub options: Vec<(String, String)>,
    pub callers: usize,
}

/// The columns of the bundle's per-caller table.
pub const BUNDLE_COLUMNS: [&str; 11] = [
    "caller",
    "calls",
    "best policy",
    "objective",
    "final_capital",
    "total_return",
    "win_rate",
    "max_drawdown",
    "trades",
    "verdict",
    "flags",
];

/// The view of a `results.json` document (SPEC §10.1), or why it is not one.
pub fn bundle_view(doc: &Value) -> Result<BundleView, String> {
    let per = doc["per_caller"]
        .as_array()
        .ok_or("results.json: no per_caller list (is this a backtest v1-baseline bundle?)")?;
    let objective = doc["options"]["objective"]
        .as_str()
        .ok_or("results.json: no options.objective")?
        .to_string();
    let rows: Vec<Vec<Cell>> = per
        .iter()
        .map(|c| {
            let best = &c["best"];
            let m = &best["metrics"];
            let flags: Vec<&str> = c["flags"]
                .as_object()
                .map(|f| {
                    f.iter()
                        .filter(|(_, v)| v.as_bool() == Some(true))
                        .map(|(k, _)| k.as_str())
                        .collect()
                })
                .unwrap_or_default();
            vec![
                Cell::Text(c["caller"].as_str().unwrap_or("").to_string()),
                Cell::Num(c["calls"].as_f64()),
                Cell::Text(best["label"].as_str().unwrap_or("").to_string()),
                Cell::Num(m[objective.as_str()].as_f64()),
                Cell::Num(m["final_capital"].as_f64()),
                Cell::Num(m["total_return"].as_f64()),
                Cell::Num(m["win_rate"].as_f64()),
                Cell::Num(m["max_drawdown"].as_f64()),
                Cell::Num(m["trades"].as_f64()),
                match c["robustness"]["verdict"].as_str() {
                    Some(v) => Cell::Badge(v.to_string()),
                    None => Cell::Text(String::new()),
                },
                Cell::Text(flags.join(",")),
            ]
        })
        .collect();
    let options = doc["options"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => "–".into(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(BundleView {
        table: Table {
            columns: BUNDLE_COLUMNS.map(String::from).to_vec(),
            muted: per
                .iter()
                .map(|c| c["best"]["feasible"].as_bool() == Some(false))
                .collect(),
            rows,
        },
        objective,
        engine_version: doc["engine"]["version"].as_str().map(String::from),
        manifest_sha256: doc["dataset"]["manifest_sha256"].as_str().map(String::from),
        options,
        callers: per.len(),
    })
}

/// The bundle's file for the lab (`quantbot backtest v1-baseline --out-dir` writes it beside
/// `results.json`): the run's options as a share link's query, the search result with every f64
/// as its bit pattern, and each caller's best-policy equity, so the lab shows every view of the
/// run (leaderboard, per-caller table, heatmaps, grids) as computed, bit for bit, with nothing
/// rerun and no dataset loaded.
pub const LAB_FILE: &str = "lab.json";

/// The content of [`LAB_FILE`].
pub fn lab_json(options: &V1Options, result: &SearchResult, equity: &[Vec<(i64, f64)>]) -> Value {
    let link = ShareLink {
        form: Form::from_options(options),
        ..ShareLink::default()
    };
    serde_json::json!({
        "format": "quantbot-lab-run/1",
        "engine_version": quantbot_core::VERSION,
        "query": link.to_query(),
        "result": transfer::result_to_json(result),
        "equity": equity
            .iter()
            .map(|c| c.iter().map(|&(t, e)| (t, e.to_bits())).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    })
}

/// A run read back from [`LAB_FILE`]: its options (as the lab's form), result and equity.
#[derive(Debug)]
pub struct LabRun {
    pub form: Form,
    pub result: SearchResult,
    pub equity: Curves,
}

pub fn lab_run(v: &Value) -> Result<LabRun, String> {
    if v["format"].as_str() != Some("quantbot-lab-run/1") {
        return Err(format!("{LAB_FILE}: not a quantbot-lab-run/1 document"));
    }
    let query = v["query"]
        .as_str()
        .ok_or_else(|| format!("{LAB_FILE}: no query"))?;
    let result =
        transfer::result_from_json(&v["result"]).map_err(|e| format!("{LAB_FILE}: {e}"))?;
    let equity = v["equity"]
        .as_array()
        .ok_or_else(|| format!("{LAB_FILE}: no equity"))?
        .iter()
        .map(|c| {
            c.as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let t = p[0].as_i64().ok_or(())?;
                    let e = p[1].as_u64().ok_or(())?;
                    Ok((t, f64::from_bits(e)))
                })
                .collect::<Result<Vec<_>, ()>>()
        })
        .collect::<Result<Vec<_>, ()>>()
        .map_err(|()| format!("{LAB_FILE}: a malformed equity curve"))?;
    if equity.len() != result.per_caller.len() {
        return Err(format!(
            "{LAB_FILE}: {} equity curves for {} callers",
            equity.len(),
            result.per_caller.len()
        ));
    }
    Ok(LabRun {
        form: ShareLink::parse(query).form,
        result,
        equity,
    })
}

/// One row of the bundle's `trades.parquet`: a trade of a caller's best-policy wallet.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleTrade {
    pub call_id: String,
    pub caller: String,
    pub policy_index: i64,
    pub entry_ts_ms: i64,
    pub entry_px: f64,
    pub exit_ts_ms: i64,
    pub exit_reason: String,
    pub gross_multiple: f64,
    pub net_multiple: f64,
    pub size: f64,
    pub pnl: f64,
}

/// The trades of a bundle's `trades.parquet` (every page checked as any Parquet the lab reads).
pub fn read_trades(name: &str, bytes: bytes::Bytes) -> Result<Vec<BundleTrade>, String> {
    let mut out = Vec::new();
    for_each_batch(name, bytes, |b| {
        let (id, caller, why) = (
            strs(name, b, "call_id")?,
            strs(name, b, "caller")?,
            strs(name, b, "exit_reason")?,
        );
        let (pi, entry_ts, exit_ts) = (
            i64s(name, b, "policy_index")?,
            i64s(name, b, "entry_ts_ms")?,
            i64s(name, b, "exit_ts_ms")?,
        );
        let [px, gross, net, size, pnl] = [
            "entry_px",
            "gross_multiple",
            "net_multiple",
            "size_usd",
            "pnl_usd",
        ]
        .map(|k| f64s(name, b, k).map(Floats::of));
        let (px, gross, net, size, pnl) = (px?, gross?, net?, size?, pnl?);
        for i in 0..b.num_rows() {
            out.push(BundleTrade {
                call_id: id.value(i).to_string(),
                caller: caller.value(i).to_string(),
                policy_index: pi.value(i),
                entry_ts_ms: entry_ts.value(i),
                entry_px: px.get(i),
                exit_ts_ms: exit_ts.value(i),
                exit_reason: why.value(i).to_string(),
                gross_multiple: gross.get(i),
                net_multiple: net.get(i),
                size: size.get(i),
                pnl: pnl.get(i),
            });
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The bundle's trades as a table (a click opens the trade's candles).
pub fn bundle_trades_table(trades: &[BundleTrade]) -> Table {
    let rows: Vec<Vec<Cell>> = trades
        .iter()
        .map(|t| {
            vec![
                Cell::Text(t.caller.clone()),
                Cell::Text(t.call_id.clone()),
                Cell::Num(Some(t.policy_index as f64)),
                Cell::Time(t.entry_ts_ms),
                Cell::Num(Some(t.entry_px)),
                Cell::Time(t.exit_ts_ms),
                Cell::Text(t.exit_reason.clone()),
                Cell::Num(Some(t.gross_multiple)),
                Cell::Num(Some(t.net_multiple)),
                Cell::Num(Some(t.size)),
                Cell::Num(Some(t.pnl)),
            ]
        })
        .collect();
    Table {
        columns: [
            "caller",
            "call_id",
            "policy_index",
            "entry_ts_ms",
            "entry_px",
            "exit_ts_ms",
            "exit_reason",
            "gross_multiple",
            "net_multiple",
            "size_usd",
            "pnl_usd",
        ]
        .map(String::from)
        .to_vec(),
        muted: vec![false; rows.len()],
        rows,
    }
}

/// The chart of a bundle's trade on its call's window: the candles, the entry at the engine's
/// price and time, and the exit at the trade's last fill time and average fill price (gross
/// multiple × entry; the bundle keeps no fill list and no level path).
pub fn bundle_trade_chart(
    t: &BundleTrade,
    call: &Call,
    window: &[Candle],
    interval_s: i64,
) -> TradeChart {
    // The entry on the candle it opens at or in; a fill on the first candle that has closed by
    // its time (an intrabar fill is stamped with its candle's close).
    let entry_at = window
        .iter()
        .rev()
        .find(|k| k.ts * 1000 <= t.entry_ts_ms)
        .map_or(t.entry_ts_ms.div_euclid(1000), |k| k.ts);
    let exit_at = window
        .iter()
        .find(|k| (k.ts + interval_s) * 1000 >= t.exit_ts_ms)
        .map_or(t.exit_ts_ms.div_euclid(1000), |k| k.ts);
    TradeChart {
        call_id: t.call_id.clone(),
        token: format!("{}:{}", call.chain, call.mint),
        policy: format!("#{}", t.policy_index),
        bars: window.iter().map(Bar::from).collect(),
        marks: vec![
            Mark {
                time: entry_at,
                ts_ms: t.entry_ts_ms,
                price: t.entry_px,
                kind: "entry".into(),
                fraction: 1.0,
            },
            Mark {
                time: exit_at,
                ts_ms: t.exit_ts_ms,
                price: t.gross_multiple * t.entry_px,
                kind: t.exit_reason.clone(),
                fraction: 1.0,
            },
        ],
        levels: Vec::new(),
        indicator: Vec::new(),
        fires: Vec::new(),
        exit_reason: t.exit_reason.clone(),
        exit_ts_ms: t.exit_ts_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_is_the_documents_numbers() {
        let doc = json!({
            "engine": {"name": "quantbot", "version": "0.1.0"},
            "dataset": {"manifest_sha256": "ab"},
            "options": {"objective": "sharpe", "to": null, "tp_mults": "[2]"},
            "per_caller": [{
                "caller": "<b>x</b>", "calls": 12,
                "best": {"label": "tp=2", "feasible": false,
                         "metrics": {"sharpe": 0.1 + 0.2, "final_capital": 10_001.5,
                                     "total_return": 0.00015, "win_rate": null,
                                     "max_drawdown": 0.0, "trades": 3}},
                "flags": {"collapsed": true, "edge": false},
                "robustness": {"verdict": "inconclusive"}
            }]
        });
        let v = bundle_view(&doc).unwrap();
        assert_eq!(v.objective, "sharpe");
        assert_eq!(v.manifest_sha256.as_deref(), Some("ab"));
        assert_eq!(v.engine_version.as_deref(), Some("0.1.0"));
        assert_eq!(v.callers, 1);
        let r = &v.table.rows[0];
        assert_eq!(r[0], Cell::Text("<b>x</b>".into()));
        assert_eq!(r[3], Cell::Num(Some(0.1 + 0.2)));
        assert_eq!(r[6], Cell::Num(None));
        assert_eq!(r[9], Cell::Badge("inconclusive".into()));
        assert_eq!(r[10], Cell::Text("collapsed".into()));
        assert_eq!(v.table.muted, [true]);
        assert!(v.options.contains(&("to".into(), "–".into())));
        assert!(bundle_view(&json!({"summary": 1}))
            .unwrap_err()
            .starts_with("results.json: "));
    }
}
