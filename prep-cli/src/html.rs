//! Static result pages (`index.html` of an `--out-dir` bundle): the run's tables in one HTML
//! file with no script and no server, readable straight from the folder.

use quantbot_core::select::format_ts_ms;
use serde_json::Value;

use crate::v1::{short_label, Run};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2330}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.25rem .6rem;border-bottom:1px solid #dde}\
th{text-align:left;background:#f3f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.bad{color:#a4262c}.muted{color:#667}code{background:#f3f4f8;padding:0 .2rem}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        esc(title)
    )
}

fn fmt(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => "–".to_string(),
    }
}

fn pct(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{:.1}%", x * 100.0),
        None => "–".to_string(),
    }
}

/// Builds an HTML table from a header and rows of (text, numeric) cells.
pub fn table(header: &[&str], rows: &[Vec<(String, bool)>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in header {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for (cell, numeric) in r {
            if *numeric {
                s.push_str(&format!("<td class=\"n\">{}</td>", esc(cell)));
            } else {
                s.push_str(&format!("<td>{}</td>", esc(cell)));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

/// The page of a v1-baseline bundle.
pub fn v1_page(run: &Run<'_>, json: &Value) -> String {
    let obj = run.opts.objective;
    let mut body = String::from("<h1>Quantbot Lab — v1-baseline run</h1>\n");
    let (ok, ex) = run.ds.coverage();
    body.push_str(&format!(
        "<p class=\"muted\">engine {} · data <code>{}</code>{} · {ok} eligible calls, {} excluded · \
         grid of {} policies · objective {}</p>\n",
        esc(quantbot_core::VERSION),
        esc(&run.ds.source_label),
        run.ds
            .manifest_sha256
            .as_ref()
            .map(|h| format!(" (manifest {})", esc(&h[..12.min(h.len())])))
            .unwrap_or_default(),
        ex.iter().sum::<usize>(),
        run.grid.size(),
        obj.as_str()
    ));
    if let (Some(first), Some(last)) = (
        run.ds.calls.iter().map(|c| c.alert_ts_ms).min(),
        run.ds.calls.iter().map(|c| c.alert_ts_ms).max(),
    ) {
        body.push_str(&format!(
            "<p class=\"muted\">alerts from {} to {} UTC</p>\n",
            format_ts_ms(first),
            format_ts_ms(last)
        ));
    }
    body.push_str("<h2>Per caller</h2>\n");
    let header = [
        "caller",
        "calls",
        "best policy",
        obj.as_str(),
        "final capital",
        "return",
        "win rate",
        "max drawdown",
        "trades",
        "flags",
    ];
    let mut rows = Vec::new();
    for (r, j) in run
        .result
        .per_caller
        .iter()
        .zip(json["per_caller"].as_array().into_iter().flatten())
    {
        let m = &j["best"]["metrics"];
        let mut flags = Vec::new();
        if j["best"]["feasible"] == false {
            flags.push("infeasible");
        }
        if r.collapsed {
            flags.push("collapsed");
        }
        if r.edge {
            flags.push("edge");
        }
        rows.push(vec![
            (r.caller.clone(), false),
            (r.calls.to_string(), true),
            (short_label(&run.grid.params(r.best)), false),
            (
                obj.value(&r.best_scored().metrics)
                    .map_or("–".into(), |v| format!("{v:.4}")),
                true,
            ),
            (fmt(&m["final_capital"], 2), true),
            (pct(&m["total_return"]), true),
            (pct(&m["win_rate"]), true),
            (pct(&m["max_drawdown"]), true),
            (m["trades"].to_string(), true),
            (flags.join(", "), false),
        ]);
    }
    body.push_str(&table(&header, &rows));
    if run.opts.holdout_fraction() > 0.0 {
        body.push_str("<h2>Holdout: in-sample vs out-of-sample</h2>\n");
        let mut rows = Vec::new();
        for r in &run.result.per_caller {
            if let Some(h) = &r.holdout {
                rows.push(vec![
                    (r.caller.clone(), false),
                    (h.in_sample_calls.to_string(), true),
                    (format!("{:.2}", h.in_sample.final_capital), true),
                    (h.out_of_sample_calls.to_string(), true),
                    (format!("{:.2}", h.out_of_sample.final_capital), true),
                ]);
            }
        }
        body.push_str(&table(
            &[
                "caller",
                "in-sample calls",
                "in-sample final",
                "out-of-sample calls",
                "out-of-sample final",
            ],
            &rows,
        ));
    }
    body.push_str("<h2>Grouped wallet</h2>\n");
    match &json["grouped"] {
        Value::Null => {
            body.push_str("<p class=\"muted\">none (per-caller mode, or no caller kept)</p>\n")
        }
        g => {
            let m = &g["metrics"];
            let callers: Vec<String> = g["callers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(esc))
                .collect();
            body.push_str(&format!("<p>callers: {}</p>\n", callers.join(", ")));
            body.push_str(&table(
                &[
                    "final capital",
                    "return",
                    "win rate",
                    "max drawdown",
                    "trades",
                    "profit factor",
                    "sharpe",
                ],
                &[vec![
                    (fmt(&m["final_capital"], 2), true),
                    (pct(&m["total_return"]), true),
                    (pct(&m["win_rate"]), true),
                    (pct(&m["max_drawdown"]), true),
                    (m["trades"].to_string(), true),
                    (fmt(&m["profit_factor"], 3), true),
                    (fmt(&m["sharpe"], 3), true),
                ]],
            ));
        }
    }
    body.push_str(
        "<p class=\"muted\">Every grid point of every caller is in <code>grid.parquet</code>; the \
         best policies' trades in <code>trades.parquet</code>; the full result in \
         <code>results.json</code>.</p>",
    );
    page("Quantbot Lab — v1-baseline", &body)
}
