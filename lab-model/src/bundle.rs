//! A published result bundle opened in the lab (issue 19): the CLI's `--out-dir` folder
//! (`results.json`, `grid.parquet`, `trades.parquet`) read by URL, its per-caller table shown
//! from `results.json` as written, without the dataset and without recomputing. What the
//! bundle was run on (the dataset's manifest hash, the engine version) is compared with what the
//! link names, and the table's numbers are the document's.

use serde_json::Value;

use crate::table::{Cell, Table};

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
