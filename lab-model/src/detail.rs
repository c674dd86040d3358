//! The selected policy of one caller (issue 18) as plain data: the wallet it runs on the
//! caller's calls (in sample under a holdout, as the search scored it), its trades with every
//! SPEC §3.5 field plus size and PnL, the decision log (every call, taken or skipped with the
//! reason, and the free cash at that moment), and a trade's candle chart: the call's candles,
//! the entry and every fill at the engine's prices and times, and the levels the engine held
//! before each candle ([`quantbot_core::sim::trade_path`]), with the indicator's series.
//! Everything is the engine's values; the page draws them.

use quantbot_core::data::Candle;
use quantbot_core::grid::Grid;
use quantbot_core::optimize::{Prepared, SearchOptions};
use quantbot_core::sim::trade_path;
use quantbot_core::wallet::SkipReason;
use serde::{Deserialize, Serialize};

use crate::table::{Cell, Table};

/// One trade the wallet took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeRow {
    /// The call's place among the caller's calls (what [`trade_chart`] takes).
    pub call: usize,
    pub call_id: String,
    pub token: String,
    pub entry_ts_ms: i64,
    pub entry_px: f64,
    pub exit_ts_ms: i64,
    pub exit_reason: String,
    pub gross_multiple: f64,
    /// `M` as the wallet credited it (the CLI's `trades.parquet` column).
    pub net_multiple: f64,
    pub peak_multiple: f64,
    pub mae: f64,
    pub ambiguous: bool,
    pub fills: u32,
    pub candles_held: u32,
    pub size: f64,
    pub pnl: f64,
}

/// What the wallet did with one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRow {
    pub call: usize,
    pub call_id: String,
    pub alert_ts_ms: i64,
    pub token: String,
    /// `None`: taken; else the skip reason (`max_positions`, `same_token_open`,
    /// `below_min_size`, `no_entry`).
    pub skipped: Option<String>,
    pub free_cash: f64,
    pub open: usize,
}

/// The selected policy of one caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDetail {
    pub caller: String,
    pub index: usize,
    pub label: String,
    /// Calls the wallet saw (the in-sample ones under a holdout).
    pub calls: usize,
    pub in_sample: bool,
    pub initial_capital: f64,
    pub final_capital: f64,
    /// Equity after each close: `(exit_ts_ms, equity)`.
    pub equity: Vec<(i64, f64)>,
    pub trades: Vec<TradeRow>,
    pub decisions: Vec<DecisionRow>,
}

/// The calls of `caller` the search scored (in time order; the in-sample prefix under a
/// holdout), as indices into `prepared`'s windows.
pub fn scored_calls<'p>(
    prepared: &'p Prepared<'_>,
    caller: &str,
    opts: &SearchOptions,
) -> Option<&'p [usize]> {
    let (_, calls) = prepared.callers().find(|(c, _)| *c == caller)?;
    let n = if opts.holdout_fraction() > 0.0 {
        Prepared::in_sample_count(calls.len(), opts.holdout_fraction())
    } else {
        calls.len()
    };
    Some(&calls[..n.min(calls.len())])
}

fn token(prepared: &Prepared<'_>, c: usize) -> String {
    let call = prepared.windows()[c].call;
    format!("{}:{}", call.chain, call.mint)
}

/// Policy `index` on `caller`'s scored calls in a fresh wallet: the run the search scored.
pub fn policy_detail(
    prepared: &Prepared<'_>,
    grid: &Grid,
    caller: &str,
    index: usize,
    opts: &SearchOptions,
) -> Option<PolicyDetail> {
    if index >= grid.size() {
        return None;
    }
    let calls = scored_calls(prepared, caller, opts)?;
    let trades = prepared.trades(calls, index, &opts.exec);
    let run = prepared.wallet(calls, &trades, |_| index, opts);
    let rows = run
        .taken
        .iter()
        .map(|t| {
            let c = calls[t.offer];
            let tr = trades[t.offer].expect("a taken offer has a trade");
            TradeRow {
                call: t.offer,
                call_id: prepared.windows()[c].call.call_id.clone(),
                token: token(prepared, c),
                entry_ts_ms: tr.entry_ts_ms,
                entry_px: tr.entry_px,
                exit_ts_ms: tr.exit_ts_ms,
                exit_reason: tr.exit_reason.as_str().to_string(),
                gross_multiple: tr.gross_multiple,
                net_multiple: t.multiple,
                peak_multiple: tr.peak_multiple,
                mae: tr.mae,
                ambiguous: tr.ambiguous,
                fills: tr.fills,
                candles_held: tr.candles_held,
                size: t.size,
                pnl: t.pnl,
            }
        })
        .collect();
    let decisions = run
        .decisions
        .iter()
        .map(|d| {
            let c = calls[d.offer];
            let call = prepared.windows()[c].call;
            DecisionRow {
                call: d.offer,
                call_id: call.call_id.clone(),
                alert_ts_ms: call.alert_ts_ms,
                token: token(prepared, c),
                skipped: d.outcome.err().map(|r| r.as_str().to_string()),
                free_cash: d.free_cash,
                open: d.open,
            }
        })
        .collect();
    let all = prepared.callers().find(|(c, _)| *c == caller)?.1.len();
    Some(PolicyDetail {
        caller: caller.to_string(),
        index,
        label: grid.label(index),
        calls: calls.len(),
        in_sample: calls.len() < all,
        initial_capital: run.initial_capital,
        final_capital: run.final_capital,
        equity: run.equity,
        trades: rows,
        decisions,
    })
}

impl PolicyDetail {
    /// Taken calls and skips by reason, in [`SkipReason::ALL`] order.
    pub fn counts(&self) -> (usize, [usize; 4]) {
        let mut skipped = [0; 4];
        let mut taken = 0;
        for d in &self.decisions {
            match &d.skipped {
                None => taken += 1,
                Some(why) => {
                    if let Some(k) = SkipReason::ALL.iter().position(|r| r.as_str() == why) {
                        skipped[k] += 1;
                    }
                }
            }
        }
        (taken, skipped)
    }
}

/// Columns of the trades table: the CLI's `trades.parquet` columns (SPEC §3.5 plus size and
/// PnL), the token after the call, and the hold in hours.
pub const TRADE_COLUMNS: [&str; 18] = [
    "call_id",
    "caller",
    "policy_index",
    "token",
    "entry_ts_ms",
    "entry_px",
    "exit_ts_ms",
    "exit_reason",
    "gross_multiple",
    "net_multiple",
    "peak_multiple",
    "mae",
    "ambiguous",
    "fills",
    "candles_held",
    "size_usd",
    "pnl_usd",
    "hold_hours",
];

/// Times as the tables show them: `YYYY-MM-DD HH:MM` UTC.
pub fn utc_minute(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let (y, m, d) = quantbot_core::select::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s % 3600 / 60)
}

pub fn trades_table(d: &PolicyDetail) -> Table {
    let num = |x: f64| Cell::Num(Some(x));
    let rows: Vec<Vec<Cell>> = d
        .trades
        .iter()
        .map(|t| {
            vec![
                Cell::Text(t.call_id.clone()),
                Cell::Text(d.caller.clone()),
                Cell::Num(Some(d.index as f64)),
                Cell::Text(t.token.clone()),
                Cell::Time(t.entry_ts_ms),
                num(t.entry_px),
                Cell::Time(t.exit_ts_ms),
                Cell::Text(t.exit_reason.clone()),
                num(t.gross_multiple),
                num(t.net_multiple),
                num(t.peak_multiple),
                num(t.mae),
                Cell::Text(if t.ambiguous { "yes" } else { "no" }.into()),
                num(f64::from(t.fills)),
                num(f64::from(t.candles_held)),
                num(t.size),
                num(t.pnl),
                num((t.exit_ts_ms - t.entry_ts_ms) as f64 / 3_600_000.0),
            ]
        })
        .collect();
    Table {
        columns: TRADE_COLUMNS.map(String::from).to_vec(),
        muted: rows.iter().map(|_| false).collect(),
        rows,
    }
}

/// The decision log: every call of the caller in the order the wallet decided.
pub fn decisions_table(d: &PolicyDetail) -> Table {
    let rows: Vec<Vec<Cell>> = d
        .decisions
        .iter()
        .map(|x| {
            vec![
                Cell::Text(x.call_id.clone()),
                Cell::Time(x.alert_ts_ms),
                Cell::Text(x.token.clone()),
                Cell::Badge(x.skipped.clone().unwrap_or_else(|| "taken".into())),
                Cell::Num(Some(x.free_cash)),
                Cell::Num(Some(x.open as f64)),
            ]
        })
        .collect();
    Table {
        columns: [
            "call_id",
            "alert",
            "token",
            "decision",
            "free cash",
            "open positions",
        ]
        .map(String::from)
        .to_vec(),
        muted: d.decisions.iter().map(|x| x.skipped.is_some()).collect(),
        rows,
    }
}

/// One candle as the chart reads it (time in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl From<&Candle> for Bar {
    fn from(k: &Candle) -> Bar {
        Bar {
            time: k.ts,
            open: k.open,
            high: k.high,
            low: k.low,
            close: k.close,
            volume: k.volume,
        }
    }
}

/// A mark on the chart: the entry, or a fill (its exit reason), at the engine's price and
/// time (`ts_ms`), drawn on the candle that holds it (`time`, seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub time: i64,
    pub ts_ms: i64,
    pub price: f64,
    pub kind: String,
    /// The share of the position this fill sold (1 for the entry).
    pub fraction: f64,
}

/// A line over time (`None`: no value at that candle, a gap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub name: String,
    /// 0: over the candles; 1: in a pane of its own (RSI, volume z-score).
    pub pane: u8,
    pub points: Vec<(i64, Option<f64>)>,
}

/// The candle chart of one trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeChart {
    pub call_id: String,
    pub token: String,
    pub policy: String,
    pub bars: Vec<Bar>,
    /// The entry first, then every fill in order.
    pub marks: Vec<Mark>,
    /// The levels the engine held before each checked candle: take profit (the next pending
    /// level), stop loss, break-even once armed, trailing stop once active.
    pub levels: Vec<Line>,
    /// The indicator rule's series (EMA lines, Tenkan/Kijun over the candles; RSI or the
    /// volume z-score with its threshold in a pane of their own).
    pub indicator: Vec<Line>,
    /// Times (seconds) of the candles where the rule fired.
    pub fires: Vec<i64>,
    pub exit_reason: String,
    pub exit_ts_ms: i64,
}

/// The chart of policy `index` on the `call`-th of `caller`'s scored calls (its window from
/// the entry candle to the horizon).
pub fn trade_chart(
    prepared: &Prepared<'_>,
    grid: &Grid,
    caller: &str,
    call: usize,
    index: usize,
    opts: &SearchOptions,
) -> Option<TradeChart> {
    let calls = scored_calls(prepared, caller, opts)?;
    let c = *calls.get(call)?;
    if index >= grid.size() {
        return None;
    }
    let w = &prepared.windows()[c];
    let candles = w.candles.to_vec();
    let policy = grid.policy(index);
    let path = trade_path(&candles, &opts.exec, &policy).ok()?;
    let bars = candles.iter().map(Bar::from).collect();
    let mut marks = vec![Mark {
        time: candles[0].ts,
        ts_ms: path.trade.entry_ts_ms,
        price: path.trade.entry_px,
        kind: "entry".into(),
        fraction: 1.0,
    }];
    marks.extend(path.fills.iter().map(|f| Mark {
        time: candles[f.pos].ts,
        ts_ms: f.ts_ms,
        price: f.px,
        kind: f.reason.as_str().to_string(),
        fraction: f.fraction,
    }));
    let level_line = |name: &str, f: &dyn Fn(&quantbot_core::sim::LevelPoint) -> Option<f64>| {
        let points: Vec<(i64, Option<f64>)> = path.levels.iter().map(|l| (l.ts, f(l))).collect();
        points.iter().any(|p| p.1.is_some()).then(|| Line {
            name: name.to_string(),
            pane: 0,
            points,
        })
    };
    let levels = [
        level_line("take_profit", &|l| l.take_profit),
        level_line("stop_loss", &|l| l.stops.stop_loss),
        level_line("break_even", &|l| l.stops.break_even),
        level_line("trailing_stop", &|l| l.stops.trailing),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (indicator, fires) = match &policy.params().indicator {
        Some(rule) => {
            let s = rule.series(&candles);
            let own_pane = matches!(
                rule,
                quantbot_core::indicator::Rule::RsiBelow { .. }
                    | quantbot_core::indicator::Rule::VolSpike { .. }
            );
            let mut lines: Vec<Line> = s
                .lines
                .into_iter()
                .map(|(name, v)| Line {
                    name,
                    pane: u8::from(own_pane),
                    points: candles.iter().zip(v).map(|(k, v)| (k.ts, v)).collect(),
                })
                .collect();
            // The threshold the rule crosses, in its own pane.
            let threshold = match *rule {
                quantbot_core::indicator::Rule::RsiBelow { level, .. } => Some(level),
                quantbot_core::indicator::Rule::VolSpike { z, .. } => Some(z),
                _ => None,
            };
            if let Some(t) = threshold {
                lines.push(Line {
                    name: "threshold".into(),
                    pane: 1,
                    points: candles.iter().map(|k| (k.ts, Some(t))).collect(),
                });
            }
            let fires = s.fires.iter().map(|&j| candles[j as usize].ts).collect();
            (lines, fires)
        }
        None => (Vec::new(), Vec::new()),
    };
    Some(TradeChart {
        call_id: w.call.call_id.clone(),
        token: format!("{}:{}", w.call.chain, w.call.mint),
        policy: grid.label(index),
        bars,
        marks,
        levels,
        indicator,
        fires,
        exit_reason: path.trade.exit_reason.as_str().to_string(),
        exit_ts_ms: path.trade.exit_ts_ms,
    })
}
