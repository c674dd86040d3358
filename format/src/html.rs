//! Static result pages (`index.html` of an `--out-dir` bundle, and the published site's pages):
//! the run's tables in one HTML file with no script and no server, readable straight from the
//! folder. Here, not in the CLI, so the lab saves a run as the same bundle.

use quantbot_core::select::format_ts_ms;
use serde_json::Value;

use crate::results::RunReport;

/// A number with `digits` decimals, or `-` when it does not exist.
pub fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// A share as a percentage with one decimal (`0.123` → `12.3%`), or `-` when it does not exist.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{:.1}%", x * 100.0))
}

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
.bad{color:#a4262c}.muted{color:#667}code{background:#f3f4f8;padding:0 .2rem}\
figure{display:inline-block;margin:.4rem .8rem .4rem 0}figcaption{font-size:12px;color:#445}";

/// The Content-Security-Policy source of the pages' one inline style (`'sha256-…'`), for a
/// published site's `_headers`: the pages need nothing else (no script, no image file).
pub fn style_source() -> String {
    use sha2::{Digest, Sha256};
    format!("'sha256-{}'", base64(&Sha256::digest(STYLE.as_bytes())))
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A query value or path in a link, percent-encoded (RFC 3986: all but the unreserved
/// characters and `/`), so that no name can end the value or the attribute.
pub fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A whole page: the title escaped, the body as given (already escaped markup).
pub fn page(title: &str, body: &str) -> String {
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

/// A value of results.json as the page shows it: `not set` for `null`, text as it is, anything
/// else as JSON.
fn json_cell(v: &Value) -> String {
    match v {
        Value::Null => "not set".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A small chart of equity after each close (inline SVG: no script, no file), starting from
/// `start`; the dashed line is `start`. Green when it ends at or above it, red below. `title`
/// is escaped here.
pub fn equity_svg(title: &str, start: f64, equity: &[(i64, f64)]) -> String {
    const W: f64 = 240.0;
    const H: f64 = 64.0;
    let ys: Vec<f64> = std::iter::once(start)
        .chain(equity.iter().map(|&(_, e)| e))
        .filter(|e| e.is_finite())
        .collect();
    let (lo, hi) = ys
        .iter()
        .fold((start, start), |(lo, hi), &e| (lo.min(e), hi.max(e)));
    let y = |e: f64| {
        if hi > lo {
            2.0 + (hi - e) / (hi - lo) * (H - 4.0)
        } else {
            H / 2.0
        }
    };
    // With one point only (no trade), the line is flat across the chart.
    let n = (ys.len() - 1).max(1) as f64;
    let mut points: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(i, &e)| format!("{:.1},{:.1}", 2.0 + i as f64 * (W - 4.0) / n, y(e)))
        .collect();
    if ys.len() == 1 {
        points.push(format!("{:.1},{:.1}", W - 2.0, y(start)));
    }
    let last = *ys.last().unwrap_or(&start);
    let colour = if last >= start { "#1a7f37" } else { "#a4262c" };
    format!(
        "<svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\">\
         <title>{}</title>\
         <line x1=\"0\" y1=\"{y0:.1}\" x2=\"{W}\" y2=\"{y0:.1}\" stroke=\"#99a\" stroke-dasharray=\"3 3\"/>\
         <polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        esc(title),
        points.join(" "),
        y0 = y(start),
    )
}

/// The link from a bundle's page to the lab when the bundle sits in a published site as
/// `runs/NAME/` (`cargo xtask publish`): the lab is at `lab/`, two folders up.
pub fn lab_link_from_bundle(name: &str) -> String {
    format!("../../lab/?bundle=../runs/{}/", url_part(name))
}

/// The page of a v1-baseline bundle: the run's options and grid, the per-caller table with
/// the §13 verdicts, each caller's best-policy equity as a small chart (`equity`: in
/// `report.per_caller` order, after each close, in sample), holdout and grouped wallet, and a
/// link into the lab that works once the bundle is published as `runs/{bundle_name}/`.
pub fn v1_page(
    report: &RunReport,
    json: &Value,
    equity: &[Vec<(i64, f64)>],
    bundle_name: &str,
) -> String {
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
    body.push_str(&format!(
        "<p><a href=\"{}\">Open in the lab</a> <span class=\"muted\">(every view, without \
         computing again, once this folder is published with <code>cargo xtask publish</code> \
         as <code>runs/{}/</code>)</span></p>\n",
        esc(&lab_link_from_bundle(bundle_name)),
        esc(bundle_name)
    ));
    body.push_str("<h2>Options in effect</h2>\n");
    let options: Vec<Vec<(String, bool)>> = json["options"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| vec![(k.clone(), false), (json_cell(v), false)])
                .collect()
        })
        .unwrap_or_default();
    body.push_str(&table(&["option", "value"], &options));
    body.push_str(&format!(
        "<h2>Grid ({} policies)</h2>\n",
        json["grid"]["size"]
    ));
    let dims: Vec<Vec<(String, bool)>> = json["grid"]["dimensions"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .map(|d| {
                    let values: Vec<String> = d["values"]
                        .as_array()
                        .map(|v| v.iter().map(json_cell).collect())
                        .unwrap_or_default();
                    vec![(json_cell(&d["name"]), false), (values.join(", "), false)]
                })
                .collect()
        })
        .unwrap_or_default();
    body.push_str(&table(&["dimension", "values"], &dims));
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
    body.push_str(
        "<h2>Equity of each caller's best policy</h2>\n<p class=\"muted\">After each close, \
         from the initial capital (dashed)",
    );
    body.push_str(if report.holdout_fraction > 0.0 {
        "; in-sample calls.</p>\n"
    } else {
        ".</p>\n"
    });
    let start = json["options"]["initial_capital"].as_f64().unwrap_or(0.0);
    for (r, curve) in report.per_caller.iter().zip(equity) {
        let last = curve.last().map_or(start, |&(_, e)| e);
        body.push_str(&format!(
            "<figure>{}<figcaption>{} · {} → {}</figcaption></figure>\n",
            equity_svg(&r.caller, start, curve),
            esc(&r.caller),
            fixed(Some(start), 2),
            fixed(Some(last), 2),
        ));
    }
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
