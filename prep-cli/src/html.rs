//! Static result pages (`index.html` of an `--out-dir` bundle): the run's tables in one HTML
//! file with no script and no server, readable straight from the folder.

use quantbot_core::select::format_ts_ms;
use quantbot_format::results::RunReport;

use crate::output::{fmt_opt, pct};

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

/// A number on the page: `digits` decimals, or an en dash where results.json has `null` (the
/// number does not exist or is not finite).
fn fixed(v: Option<f64>, digits: usize) -> String {
    en_dash(fmt_opt(v.filter(|x| x.is_finite()), digits))
}

/// A share on the page as a percentage, or an en dash where results.json has `null`.
fn percent(v: Option<f64>) -> String {
    en_dash(pct(v.filter(|x| x.is_finite())))
}

/// The page marks a missing number with an en dash where the text table has `-`.
fn en_dash(text: String) -> String {
    if text == "-" {
        "–".to_string()
    } else {
        text
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
pub fn v1_page(report: &RunReport) -> String {
    let obj = report.objective;
    let mut body = String::from("<h1>Quantbot Lab — v1-baseline run</h1>\n");
    body.push_str(&format!(
        "<p class=\"muted\">engine {} · data <code>{}</code>{} · {} eligible calls, {} excluded · \
         grid of {} policies · objective {}</p>\n",
        esc(quantbot_core::VERSION),
        esc(&report.source_label),
        report
            .manifest_sha256
            .as_ref()
            .map(|h| format!(" (manifest {})", esc(&h[..12.min(h.len())])))
            .unwrap_or_default(),
        report.eligible,
        report.excluded,
        report.grid_size,
        obj.as_str()
    ));
    if let Some((first, last)) = report.alert_span {
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
        "dsr",
        "pbo",
        "verdict",
        "flags",
    ];
    let rows: Vec<Vec<(String, bool)>> = report
        .per_caller
        .iter()
        .map(|r| {
            let m = &r.metrics;
            vec![
                (r.caller.clone(), false),
                (r.calls.to_string(), true),
                (r.short_label.clone(), false),
                (en_dash(fmt_opt(r.objective_value, 4)), true),
                (fixed(Some(m.final_capital), 2), true),
                (percent(Some(m.total_return)), true),
                (percent(m.win_rate), true),
                (percent(Some(m.max_drawdown)), true),
                (m.trades.to_string(), true),
                (en_dash(fmt_opt(r.dsr(), 3)), true),
                (en_dash(fmt_opt(r.pbo(), 3)), true),
                (r.verdict().unwrap_or("–").to_string(), false),
                (r.quality_flags().join(", "), false),
            ]
        })
        .collect();
    body.push_str(&table(&header, &rows));
    if report.holdout_fraction > 0.0 {
        body.push_str("<h2>Holdout: in-sample vs out-of-sample</h2>\n");
        let mut rows = Vec::new();
        for r in &report.per_caller {
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
    match &report.grouped {
        None => body.push_str("<p class=\"muted\">none (per-caller mode, or no caller kept)</p>\n"),
        Some(g) => {
            let m = &g.metrics;
            let callers: Vec<String> = g.callers.iter().map(|c| esc(c)).collect();
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
                    (fixed(Some(m.final_capital), 2), true),
                    (percent(Some(m.total_return)), true),
                    (percent(m.win_rate), true),
                    (percent(Some(m.max_drawdown)), true),
                    (m.trades.to_string(), true),
                    (fixed(m.profit_factor, 3), true),
                    (fixed(m.sharpe, 3), true),
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
