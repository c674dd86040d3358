//! The lab's Baseline tab (SPEC §7) as plain state: its editable TP/SL settings (the flags of
//! `quantbot backtest baseline`, validated the same way), the per-alert table with every §7
//! column, the per-caller summary table read from the same summary document the CLI prints
//! (`quantbot_format::baseline::summary_json`), and the two distributions (ATH multiple on a
//! log axis, time to 2× in hours).

use quantbot_core::baseline::{BaselineConfig, BaselineParams, BaselineRow};
use quantbot_core::data::Call;
use quantbot_core::policy::Intrabar;
use quantbot_format::baseline::{metric_cells, Cell as Metric, METRIC_COLUMNS};
use serde_json::Value;

use crate::chart::{histogram, Histogram};
use crate::table::{Cell, Table};

/// The tab's settings as typed, one text per flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineForm {
    pub tp_mult: String,
    pub sl_mult: String,
    pub fee_bps: String,
    pub slippage_bps: String,
    /// `sl_first` or `tp_first`.
    pub intrabar_order: String,
}

impl Default for BaselineForm {
    fn default() -> Self {
        let p = BaselineParams::default();
        BaselineForm {
            tp_mult: p.tp.to_string(),
            sl_mult: p.sl.to_string(),
            fee_bps: p.fee_bps.to_string(),
            slippage_bps: p.slippage_bps.to_string(),
            intrabar_order: "sl_first".into(),
        }
    }
}

impl BaselineForm {
    /// The validated settings for a dataset's interval and horizon, or the message naming
    /// the flag at fault (as the CLI words it).
    pub fn config(&self, interval_s: i64, horizon_hours: f64) -> Result<BaselineConfig, String> {
        let num = |flag: &str, s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("{flag}: {s:?} is not a number"))
        };
        let intrabar = match self.intrabar_order.as_str() {
            "sl_first" => Intrabar::SlFirst,
            "tp_first" => Intrabar::TpFirst,
            other => {
                return Err(format!(
                    "--intrabar-order: {other:?} is not sl_first or tp_first"
                ))
            }
        };
        let params = BaselineParams {
            interval_s,
            horizon_hours,
            tp: num("--tp-mult", &self.tp_mult)?,
            sl: num("--sl-mult", &self.sl_mult)?,
            fee_bps: num("--fee-bps", &self.fee_bps)?,
            slippage_bps: num("--slippage-bps", &self.slippage_bps)?,
            intrabar,
        };
        BaselineConfig::new(params).map_err(|e| {
            use quantbot_core::baseline::BaselineError;
            use quantbot_core::policy::{ExecError, PolicyError};
            let flag = match &e {
                BaselineError::Policy(PolicyError::Tp(_)) => "--tp-mult",
                BaselineError::Policy(PolicyError::Sl(_)) => "--sl-mult",
                BaselineError::Exec(ExecError::Fee(_)) => "--fee-bps",
                BaselineError::Exec(ExecError::Slippage(_)) => "--slippage-bps",
                _ => "the dataset's interval or horizon",
            };
            format!("{flag}: {e}")
        })
    }
}

/// The per-alert table: one row per call, the columns of the CLI's `alerts.csv`.
pub fn alerts_table(calls: &[Call], rows: &[BaselineRow]) -> Table {
    let mut columns: Vec<String> = [
        "call_id",
        "caller",
        "chain",
        "mint",
        "alert_ts_ms",
        "status",
        "entry_ts_ms",
        "entry_px",
    ]
    .map(String::from)
    .to_vec();
    columns.extend(METRIC_COLUMNS.map(String::from));
    columns.extend(["tp_sl_exit_reason", "tp_sl_ret"].map(String::from));
    let table_rows: Vec<Vec<Cell>> = calls
        .iter()
        .zip(rows)
        .map(|(c, r)| {
            let mut cells = vec![
                Cell::Text(c.call_id.clone()),
                Cell::Text(c.caller.clone()),
                Cell::Text(c.chain.clone()),
                Cell::Text(c.mint.clone()),
                Cell::Time(c.alert_ts_ms),
                Cell::Badge(r.status.as_str().to_string()),
                r.entry_ts_ms.map_or(Cell::Num(None), Cell::Time),
                Cell::Num(r.entry_px),
            ];
            cells.extend(metric_cells(r).into_iter().map(|m| match m {
                Metric::Int(i) => Cell::Num(Some(i as f64)),
                Metric::Num(x) => Cell::Num(Some(x)),
                Metric::None => Cell::Num(None),
            }));
            let m = r.metrics.as_ref();
            cells.push(Cell::Text(m.map_or(String::new(), |m| {
                m.tp_sl_exit_reason.as_str().to_string()
            })));
            cells.push(Cell::Num(m.map(|m| m.tp_sl_ret)));
            cells
        })
        .collect();
    Table {
        columns,
        muted: rows.iter().map(|r| r.metrics.is_none()).collect(),
        rows: table_rows,
    }
}

/// The summary's fields the table shows, with their headers.
pub const SUMMARY_COLUMNS: [(&str, &str); 13] = [
    ("calls", "calls"),
    ("ok", "ok"),
    ("median_ath_mult", "median ATH ×"),
    ("pct_hit_2x", "reach 2× (%)"),
    ("pct_hit_3x", "reach 3× (%)"),
    ("pct_hit_4x", "reach 4× (%)"),
    ("median_time_to_2x_s", "median time to 2× (s)"),
    ("median_dd_pre2x", "median drawdown before 2×"),
    ("tp_sl_win_rate", "TP/SL win rate"),
    ("tp_sl_profit_factor", "TP/SL profit factor"),
    ("tp_sl_expectancy", "TP/SL expectancy"),
    ("missing", "missing"),
    ("bad_entry", "bad entry"),
];

/// The per-caller summary table from the summary document (one row per caller, then
/// `(all)`): the numbers are the document's, as `--format json` prints them.
pub fn summary_table(summary: &Value) -> Table {
    let row = |name: &str, s: &Value| {
        let mut cells = vec![Cell::Text(name.to_string())];
        cells.extend(
            SUMMARY_COLUMNS
                .iter()
                .map(|(key, _)| Cell::Num(s[key].as_f64())),
        );
        cells
    };
    let mut rows: Vec<Vec<Cell>> = summary["per_caller"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| row(s["caller"].as_str().unwrap_or(""), s))
        .collect();
    rows.push(row("(all)", &summary["overall"]));
    let mut columns = vec!["caller".to_string()];
    columns.extend(SUMMARY_COLUMNS.iter().map(|(_, h)| h.to_string()));
    Table {
        columns,
        muted: vec![false; rows.len()],
        rows,
    }
}

/// The two distributions: ATH multiple (log axis) and time to 2× in hours, over `ok` calls
/// (of one caller when `caller` is given).
pub fn distributions(
    calls: &[Call],
    rows: &[BaselineRow],
    caller: Option<&str>,
) -> (Histogram, Histogram) {
    let ms: Vec<_> = calls
        .iter()
        .zip(rows)
        .filter(|(c, _)| caller.is_none_or(|x| c.caller == x))
        .filter_map(|(_, r)| r.metrics.as_ref())
        .collect();
    let ath: Vec<f64> = ms.iter().map(|m| m.ath_mult).collect();
    let t2: Vec<f64> = ms
        .iter()
        .filter_map(|m| m.time_to_2x_s)
        .map(|s| s as f64 / 3600.0)
        .collect();
    (histogram(&ath, 20, true), histogram(&t2, 24, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantbot_core::baseline::baseline_call;
    use quantbot_core::data::Candle;
    use quantbot_format::baseline::summary_json;

    #[test]
    fn the_form_validates_like_the_cli_and_the_tables_read_the_engine() {
        let f = BaselineForm::default();
        assert!(f.config(60, 48.0).is_ok());
        let bad = BaselineForm {
            sl_mult: "1.5".into(),
            ..f.clone()
        };
        assert!(bad.config(60, 48.0).unwrap_err().starts_with("--sl-mult: "));
        let nan = BaselineForm {
            fee_bps: "x".into(),
            ..f.clone()
        };
        assert_eq!(
            nan.config(60, 48.0).unwrap_err(),
            "--fee-bps: \"x\" is not a number"
        );
        let cfg = f.config(60, 1.0).unwrap();
        // Two calls: one doubles, one has no candle.
        let candles: Vec<Candle> = (0..30)
            .map(|i| {
                let p = 1.0 + i as f64 * 0.05;
                Candle {
                    ts: i * 60,
                    open: p,
                    high: p * 1.01,
                    low: p * 0.99,
                    close: p,
                    volume: 1.0,
                }
            })
            .collect();
        let rows = vec![
            baseline_call(Some(&candles), &cfg),
            baseline_call(None, &cfg),
        ];
        let calls: Vec<Call> = ["x", "y"]
            .iter()
            .map(|id| Call {
                call_id: id.to_string(),
                caller: "<b>A</b>".into(),
                chain: "sol".into(),
                mint: "m".into(),
                alert_ts_ms: 0,
                price_at_alert: None,
            })
            .collect();
        let t = alerts_table(&calls, &rows);
        assert_eq!(t.columns.len(), 8 + METRIC_COLUMNS.len() + 2);
        assert_eq!(t.rows[0][5], Cell::Badge("ok".into()));
        assert_eq!(t.muted, [false, true]);
        let ath = rows[0].metrics.as_ref().unwrap().ath_mult;
        assert_eq!(t.rows[0][8], Cell::Num(Some(ath)));
        let s = summary_json(&calls, &rows);
        let st = summary_table(&s);
        assert_eq!(st.rows.len(), 2);
        assert_eq!(st.rows[0][0], Cell::Text("<b>A</b>".into()));
        assert_eq!(st.rows[1][1], Cell::Num(Some(2.0)));
        assert_eq!(
            st.rows[0][3],
            Cell::Num(s["overall"]["median_ath_mult"].as_f64())
        );
        let (a, t2) = distributions(&calls, &rows, Some("<b>A</b>"));
        assert_eq!(a.bins.iter().map(|b| b.count).sum::<usize>(), 1);
        assert_eq!(t2.bins.iter().map(|b| b.count).sum::<usize>(), 1);
    }
}
