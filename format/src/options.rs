//! The options of `backtest v1-baseline` (SPEC §10) as the user types them: JSON lists as
//! text, numbers, choices. The CLI fills [`V1Options`] from its flags, the lab from its form;
//! both validate here, so a bad value gets the same message naming the same flag.

use std::collections::BTreeSet;
use std::sync::Arc;

use quantbot_core::grid::{Grid, GridError, GridSpec};
use quantbot_core::indicator::Rule;
use quantbot_core::metrics::{Constraints, Objective};
use quantbot_core::optimize::{Mode, SearchOptions};
use quantbot_core::policy::{CostModel, EntryPrice, ExecConfig, ExecError, Intrabar, Ladder};
use quantbot_core::select::{date_range, Bound, SelectError};
use quantbot_core::wallet::{WalletConfig, WalletError};
use serde_json::Value;

use crate::option_table::option_table;
use crate::{usage, usage_about, usage_at, Result};
use quantbot_core::wallet::WalletParams;

/// Seconds of an `--interval` value.
pub fn parse_interval(text: &str) -> Result<i64> {
    match text {
        "1m" => Ok(60),
        "5m" => Ok(300),
        "15m" => Ok(900),
        "1h" => Ok(3600),
        other => Err(usage_at(
            "--interval",
            format!("{other:?} is not one of 1m, 5m, 15m, 1h"),
        )),
    }
}

/// The `--interval` text of a number of seconds, when it is one of the four.
pub fn interval_name(seconds: i64) -> String {
    match seconds {
        60 => "1m".into(),
        300 => "5m".into(),
        900 => "15m".into(),
        3600 => "1h".into(),
        s => format!("{s}s"),
    }
}

/// Which calls to select (SPEC §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub from_ms: i64,
    pub to_ms: i64,
    pub from: Option<String>,
    pub to: Option<String>,
    pub chain: Option<String>,
    /// Caller-group entries (each matched by equal name or whole-word prefix).
    pub groups: Option<Vec<String>>,
    /// Only these callers, by exact name: one part of a run the CLI splits by callers to stay
    /// within its memory budget. No flag sets it, and it is not an option of the run.
    pub only_callers: Option<Arc<BTreeSet<String>>>,
}

impl Selection {
    /// `read_file` resolves `--caller-groups @file.json` (the lab has no files to read).
    pub fn new(
        from: Option<&str>,
        to: Option<&str>,
        chain: Option<&str>,
        groups: Option<&str>,
        read_file: &dyn Fn(&str) -> std::result::Result<String, String>,
    ) -> Result<Selection> {
        let (from_ms, to_ms) = date_range(from, to).map_err(date_error)?;
        Ok(Selection {
            from_ms,
            to_ms,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            chain: chain.map(str::to_string),
            groups: groups
                .map(|g| parse_caller_groups(g, read_file))
                .transpose()?,
            only_callers: None,
        })
    }

    /// Every call, every chain, every caller.
    pub fn all() -> Selection {
        Selection::new(None, None, None, None, &no_files).expect("the full range is valid")
    }
}

/// A date-range error of the engine as the flag it is about.
fn date_error(e: SelectError) -> crate::Error {
    let flag = |b| match b {
        Bound::From => "--from",
        Bound::To => "--to",
    };
    match e {
        SelectError::BadDate { bound, error } => usage_at(flag(bound), error),
        SelectError::EmptyRange { from, to } => {
            usage_about("--from", format!("--from {from} is not before --to {to}"))
        }
    }
}

/// A `read_file` for places without files (the browser).
pub fn no_files(path: &str) -> std::result::Result<String, String> {
    Err(format!("cannot read {path} here"))
}

/// The flag of caller groups (its messages may name a file after it).
const GROUPS: &str = "--caller-groups";

fn strings(origin: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(usage_about(
                    GROUPS,
                    format!("{origin}: expected caller names, got {other}"),
                )),
            })
            .collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(usage_about(
            GROUPS,
            format!("{origin}: expected a list of caller names, got {other}"),
        )),
    }
}

/// `--caller-groups`: a JSON array, a comma list, or `@file.json` (an array, or an object
/// mapping group names to caller names).
pub fn parse_caller_groups(
    text: &str,
    read_file: &dyn Fn(&str) -> std::result::Result<String, String>,
) -> Result<Vec<String>> {
    const FLAG: &str = GROUPS;
    let (json, origin) = if let Some(path) = text.strip_prefix('@') {
        let body = read_file(path).map_err(|e| usage_at(FLAG, format!("{path}: {e}")))?;
        (Some(body), format!("{FLAG} {path}"))
    } else if text.trim_start().starts_with('[') {
        (Some(text.to_string()), FLAG.to_string())
    } else {
        (None, FLAG.to_string())
    };
    let entries = match json {
        Some(body) => {
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| usage_about(GROUPS, format!("{origin}: not valid JSON: {e}")))?;
            match &v {
                Value::Array(_) => strings(&origin, &v)?,
                Value::Object(map) => {
                    let mut all = Vec::new();
                    for names in map.values() {
                        all.extend(strings(&origin, names)?);
                    }
                    all
                }
                other => {
                    return Err(usage_about(
                        GROUPS,
                        format!("{origin}: expected an array or an object of groups, got {other}"),
                    ))
                }
            }
        }
        None => text.split(',').map(|s| s.trim().to_string()).collect(),
    };
    let entries: Vec<String> = entries
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if entries.is_empty() {
        return Err(usage_about(GROUPS, format!("{origin}: no caller given")));
    }
    Ok(entries)
}

/// A non-empty JSON list; `example` shows the flag's own kind of list in the message.
fn json_list(flag: &'static str, text: &str, example: &str) -> Result<Vec<Value>> {
    let expected = format!("expected a JSON list such as {example}");
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) if !items.is_empty() => Ok(items),
        Ok(Value::Array(_)) => Err(usage_at(flag, "the list is empty")),
        Ok(_) => Err(usage_at(flag, format!("{expected}, got {text:?}"))),
        // Where the text stops being JSON, and why (an unclosed bracket, `NaN`, 1e400).
        Err(e) => Err(usage_at(
            flag,
            format!("{expected}, got {text:?} (not valid JSON: {e})"),
        )),
    }
}

/// A JSON list of numbers and `null`.
pub fn number_list(flag: &'static str, text: &str) -> Result<Vec<Option<f64>>> {
    json_list(flag, text, "'[2.0,3.0]' or '[null,0.9]'")?
        .into_iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| usage_at(flag, format!("{n} is not a finite number"))),
            other => Err(usage_at(flag, format!("{other} is not a number or null"))),
        })
        .collect()
}

/// `--ladders`: a JSON list of ladders of `[multiple, fraction]` pairs, or `null`.
pub fn ladder_list(text: &str) -> Result<Vec<Option<Ladder>>> {
    const FLAG: &str = "--ladders";
    json_list(FLAG, text, "'[[[2,0.5],[3,0.5]]]'")?
        .into_iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            Value::Array(levels) => {
                let mut pairs = Vec::new();
                for lv in &levels {
                    let pair = lv.as_array().filter(|p| p.len() == 2);
                    let nums = pair.and_then(|p| Some((p[0].as_f64()?, p[1].as_f64()?)));
                    match nums {
                        Some(p) => pairs.push(p),
                        None => {
                            return Err(usage_at(
                                FLAG,
                                format!("a ladder level must be [multiple, fraction], got {lv}"),
                            ))
                        }
                    }
                }
                Ladder::new(pairs)
                    .map(Some)
                    .map_err(|e| usage_at(FLAG, format!("{e}")))
            }
            other => Err(usage_at(
                FLAG,
                format!("expected a list of ladders like '[[[2,0.5],[3,0.5]]]', got {other}"),
            )),
        })
        .collect()
}

/// `--indicators`: a JSON list of rule texts (SPEC §3.7) and `null`.
pub fn rule_list(text: &str) -> Result<Vec<Option<Rule>>> {
    const FLAG: &str = "--indicators";
    json_list(FLAG, text, r#"'[null,"ema_cross:9:21"]'"#)?
        .into_iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            Value::String(s) => s
                .parse::<Rule>()
                .map(Some)
                .map_err(|e| usage_at(FLAG, format!("{e}"))),
            other => Err(usage_at(
                FLAG,
                format!("{other} is not a rule text or null"),
            )),
        })
        .collect()
}

/// The flag that sets a grid dimension.
pub fn flag_of(dimension: &str) -> &'static str {
    match dimension {
        "tp" => "--tp-mults",
        "sl" => "--sl-mults",
        "trail" => "--trail-pcts",
        "trail_activation" => "--trail-activations",
        "be_trigger" => "--be-triggers",
        "ladder" => "--ladders",
        "max_hold" => "--max-hold-hrs",
        _ => "--indicators",
    }
}

/// A fraction in [0, 1] (SPEC §8: fractions above 1 are impossible).
fn fraction(flag: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(usage_at(flag, format!("{v} must be a fraction in [0, 1]")))
    }
}

fn unit(flag: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(usage_at(
            flag,
            format!("{v} must be a finite number at least 0"),
        ))
    }
}

// The one option table (see `option_table.rs`): the CLI's flags, the lab's form and the share
// link are generated from it. The wallet's defaults are the engine's (SPEC §4).
option_table! {
    /// Take-profit multiples, a JSON list; null means no take profit
    /// [default: [1.5,2,2.5,3,4,5]; [null] with --ladders].
    tp_mults: Option<String> = None; "--tp-mults", "take profit multiples", Grid;
    /// Stop-loss multiples in (0, 1), a JSON list; null means no stop ('[null,0.9]').
    sl_mults: String = "[0.85,0.88,0.9,0.92,0.95]".into(); "--sl-mults", "stop loss multiples", Grid;
    /// Trailing-stop distances in (0, 1), a JSON list [default: [null], no trailing stop].
    trail_pcts: Option<String> = None; "--trail-pcts", "trailing stops", Grid;
    /// Trailing-stop activation multiples ≥ 1, a JSON list [default: [null], active from entry].
    trail_activations: Option<String> = None; "--trail-activations", "trailing activations", Grid;
    /// Break-even trigger multiples > 1, a JSON list [default: [null], no break-even].
    be_triggers: Option<String> = None; "--be-triggers", "break-even triggers", Grid;
    /// Laddered take-profits, a JSON list of ladders of [multiple, fraction] pairs
    /// ('[[[2,0.5],[3,0.3],[4,0.2]]]'); cannot be combined with --tp-mults.
    ladders: Option<String> = None; "--ladders", "ladders", Grid;
    /// Time stops in hours, a JSON list [default: [48], or the dataset's horizon when shorter].
    max_hold_hrs: Option<String> = None; "--max-hold-hrs", "time stops (hours)", Grid;
    /// Indicator exits, a JSON list of rule texts and null:
    /// '[null,"ema_cross:9:21","rsi_below:14:70","tk_cross:9:26","vol_spike:30:4"]'.
    /// ema_cross:F:S fires when EMA(F) of closes crosses below EMA(S); rsi_below:N:L when
    /// Wilder's RSI(N) crosses below L; tk_cross:T:K when the Tenkan line (T) crosses below the
    /// Kijun line (K); vol_spike:W:Z when volume's z-score over W candles reaches Z.
    indicators: String = "[null]".into(); "--indicators", "indicator exits", Grid;
    /// Starting capital of each wallet, USD.
    initial_capital: f64 = WalletParams::default().initial_capital;
        "--initial-capital", "initial capital", Wallet;
    /// Largest share of free cash put into one position.
    max_allocation_pct: f64 = WalletParams::default().max_allocation_pct;
        "--max-allocation-pct", "max allocation", Wallet;
    /// Largest loss accepted at the stop in force at entry, USD (sizes positions).
    max_risk_per_trade: f64 = WalletParams::default().max_risk_per_trade;
        "--max-risk-per-trade", "max risk per trade", Wallet;
    /// Most positions open at once.
    max_concurrent_positions: u32 = WalletParams::default().max_concurrent_positions;
        "--max-concurrent-positions", "max positions", Wallet;
    /// Smallest position, USD; a smaller one is skipped.
    min_executable_size: f64 = WalletParams::default().min_executable_size;
        "--min-executable-size", "min size", Wallet;
    /// Allow two open positions on the same token.
    allow_same_token: bool = WalletParams::default().allow_same_token;
        "--allow-same-token", "same token twice", Wallet;
    /// Taker fee per side, basis points.
    taker_fee_bps: f64 = 30.0; "--taker-fee-bps", "taker fee (bps)", Wallet;
    /// Adverse slippage on every fill, basis points.
    slippage_bps: f64 = 10.0; "--slippage-bps", "slippage (bps)", Wallet;
    /// Break-even offset: once triggered, the stop is at least entry × (1 + offset).
    be_offset: f64 = 0.0; "--be-offset", "break-even offset", Wallet;
    /// fills: costs on every fill price; v1: the original quantbot's flat charge on the PnL.
    cost_model: CostModel = CostModel::Fills; "--cost-model", "cost model", Wallet;
    /// Entry at the entry candle's open (no look-ahead) or its close.
    entry_price: EntryPrice = EntryPrice::Open; "--entry-price", "entry price", Wallet;
    /// Which wins when one candle touches both the stop and a take-profit level.
    intrabar: Intrabar = Intrabar::SlFirst; "--intrabar", "intrabar order", Wallet;
    /// per-caller wallets, one grouped wallet of the kept callers, or both.
    mode: Mode = Mode::Both; "--mode", "mode", Search;
    /// Leave out callers with fewer eligible calls.
    min_calls: usize = 0; "--min-calls", "min calls", Search;
    /// Keep collapsed callers (no feasible policy, or the best loses money) out of the grouped
    /// wallet.
    filter_collapsed: bool = true; "--filter-collapsed", "grouped: leave out collapsed", Search;
    /// Keep callers whose best policy sits on the edge of the grid out of the grouped wallet.
    filter_edge: bool = true; "--filter-edge", "grouped: leave out edge", Search;
    /// What "best" means.
    objective: Objective = Objective::FinalCapital; "--objective", "objective", Search;
    /// Constraint: max drawdown at most this fraction.
    max_drawdown: Option<f64> = None; "--max-drawdown", "max drawdown", Search;
    /// Constraint: win rate at least this share.
    min_win_rate: Option<f64> = None; "--min-win-rate", "min win rate", Search;
    /// Constraint: at least this many trades.
    min_trades: Option<u32> = None; "--min-trades", "min trades", Search;
    /// Constraint: share of stop-loss exits at most this.
    max_stop_out_rate: Option<f64> = None; "--max-stop-out-rate", "max stop-out rate", Search;
    /// Constraint: profit factor at least this.
    min_profit_factor: Option<f64> = None; "--min-profit-factor", "min profit factor", Search;
    /// Share of each caller's latest calls held out of the choice and replayed after it.
    holdout_fraction: f64 = 0.0; "--holdout-fraction", "holdout fraction", Search;
    /// Walk-forward folds K per caller (SPEC §13.3): 0 is off; K folds need 2 × (K + 1) calls.
    folds: usize = 0; "--folds", "walk-forward folds", Search;
    /// First day of alerts (UTC), YYYY-MM-DD or a full timestamp [default: every call].
    from: Option<String> = None; "--from", "from", Selection;
    /// Last day of alerts (UTC), inclusive as a date; a full timestamp is an exclusive end.
    to: Option<String> = None; "--to", "to", Selection;
    /// Only calls on this chain.
    chain: Option<String> = None; "--chain", "chain", Selection;
    /// Callers to keep: a JSON array, a comma list, or @file.json (see `export --help`).
    caller_groups: Option<String> = None; "--caller-groups", "callers", Selection;
}

impl V1Options {
    /// The selection of calls.
    pub fn selection(
        &self,
        read_file: &dyn Fn(&str) -> std::result::Result<String, String>,
    ) -> Result<Selection> {
        Selection::new(
            self.from.as_deref(),
            self.to.as_deref(),
            self.chain.as_deref(),
            self.caller_groups.as_deref(),
            read_file,
        )
    }

    /// The grid, validated against the dataset's horizon.
    pub fn grid(&self, horizon_hours: f64) -> Result<Grid> {
        Grid::new(self.grid_spec(horizon_hours)?, horizon_hours).map_err(|e| match e {
            GridError::Value { dimension, source } => usage_at(flag_of(dimension), source),
            GridError::Empty(d) => usage_at(flag_of(d), "the list is empty"),
            other => usage(other.to_string()),
        })
    }

    fn grid_spec(&self, horizon_hours: f64) -> Result<GridSpec> {
        if self.ladders.is_some() && self.tp_mults.is_some() {
            return Err(usage_about(
                "--ladders",
                "--ladders and --tp-mults cannot be combined: a ladder is the take profit",
            ));
        }
        let tp = match (&self.ladders, &self.tp_mults) {
            (Some(_), _) => vec![None],
            (None, Some(t)) => number_list("--tp-mults", t)?,
            (None, None) => GridSpec::default().tp,
        };
        let opt_list = |flag: &'static str, text: &Option<String>| match text {
            Some(t) => number_list(flag, t),
            None => Ok(vec![None]),
        };
        // Without --max-hold-hrs: 48 h, or the whole window of a dataset exported with a
        // shorter horizon (the default must not be a usage error).
        let max_hold = match &self.max_hold_hrs {
            Some(text) => number_list("--max-hold-hrs", text)?
                .into_iter()
                .map(|h| {
                    h.ok_or_else(|| {
                        usage_at("--max-hold-hrs", "null is not a time stop; give hours")
                    })
                })
                .collect::<Result<Vec<f64>>>()?,
            None => vec![GridSpec::default().max_hold[0].min(horizon_hours)],
        };
        Ok(GridSpec {
            tp,
            sl: number_list("--sl-mults", &self.sl_mults)?,
            trail: opt_list("--trail-pcts", &self.trail_pcts)?,
            trail_activation: opt_list("--trail-activations", &self.trail_activations)?,
            be_trigger: opt_list("--be-triggers", &self.be_triggers)?,
            ladder: match &self.ladders {
                Some(t) => ladder_list(t)?,
                None => vec![None],
            },
            max_hold,
            indicator: rule_list(&self.indicators)?,
        })
    }

    /// Execution, wallet, objective, constraints and mode.
    pub fn search_options(&self, interval_s: i64) -> Result<SearchOptions> {
        let exec = ExecConfig::new(quantbot_core::policy::ExecParams {
            interval_s,
            entry_price: self.entry_price,
            intrabar: self.intrabar,
            cost_model: self.cost_model,
            fee_bps: self.taker_fee_bps,
            slippage_bps: self.slippage_bps,
            be_offset: self.be_offset,
        })
        .map_err(|e| {
            let flag = match e {
                ExecError::Fee(_) => "--taker-fee-bps",
                ExecError::Slippage(_) => "--slippage-bps",
                ExecError::BeOffset(_) => "--be-offset",
                ExecError::Interval(_) => "--interval",
            };
            usage_at(flag, e)
        })?;
        let wallet = WalletConfig::new(quantbot_core::wallet::WalletParams {
            initial_capital: self.initial_capital,
            max_allocation_pct: self.max_allocation_pct,
            max_risk_per_trade: self.max_risk_per_trade,
            max_concurrent_positions: self.max_concurrent_positions,
            min_executable_size: self.min_executable_size,
            allow_same_token: self.allow_same_token,
        })
        .map_err(|e| {
            let flag = match e {
                WalletError::InitialCapital(_) => "--initial-capital",
                WalletError::MaxAllocation(_) => "--max-allocation-pct",
                WalletError::MaxRisk(_) => "--max-risk-per-trade",
                WalletError::MaxPositions(_) => "--max-concurrent-positions",
                WalletError::MinSize(_) => "--min-executable-size",
            };
            usage_at(flag, e)
        })?;
        let mut opts = SearchOptions::new(exec, wallet)
            .with_holdout(self.holdout_fraction)
            .map_err(|e| usage_at("--holdout-fraction", e))?;
        opts.objective = self.objective;
        opts.mode = self.mode;
        opts.min_calls = self.min_calls;
        opts.filter_collapsed = self.filter_collapsed;
        opts.filter_edge = self.filter_edge;
        opts.folds = self.folds;
        let frac = |flag: &'static str, v: Option<f64>| v.map(|v| fraction(flag, v)).transpose();
        opts.constraints = Constraints {
            max_drawdown: frac("--max-drawdown", self.max_drawdown)?,
            min_win_rate: frac("--min-win-rate", self.min_win_rate)?,
            min_trades: self.min_trades,
            max_stop_out_rate: frac("--max-stop-out-rate", self.max_stop_out_rate)?,
            min_profit_factor: self
                .min_profit_factor
                .map(|v| unit("--min-profit-factor", v))
                .transpose()?,
        };
        Ok(opts)
    }

    /// Every problem at once (for inline messages): each list and value is checked on its
    /// own, then the grid as a whole when every list parses.
    pub fn problems(&self, horizon_hours: f64, interval_s: i64) -> Vec<crate::Error> {
        let mut out = Vec::new();
        if let Err(e) = self.selection(&no_files) {
            out.push(e);
        }
        let lists: [(&'static str, Option<&String>); 6] = [
            ("--tp-mults", self.tp_mults.as_ref()),
            ("--sl-mults", Some(&self.sl_mults)),
            ("--trail-pcts", self.trail_pcts.as_ref()),
            ("--trail-activations", self.trail_activations.as_ref()),
            ("--be-triggers", self.be_triggers.as_ref()),
            ("--max-hold-hrs", self.max_hold_hrs.as_ref()),
        ];
        let before = out.len();
        for (flag, text) in lists {
            if let Some(Err(e)) = text.map(|t| number_list(flag, t)) {
                out.push(e);
            }
        }
        if let Some(Err(e)) = self.ladders.as_deref().map(ladder_list) {
            out.push(e);
        }
        if let Err(e) = rule_list(&self.indicators) {
            out.push(e);
        }
        if out.len() == before {
            if let Err(e) = self.grid(horizon_hours) {
                out.push(e);
            }
        }
        if let Err(e) = self.search_options(interval_s) {
            out.push(e);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_groups() {
        assert_eq!(
            number_list("--sl-mults", "[null,0.9]").unwrap(),
            vec![None, Some(0.9)]
        );
        assert!(number_list("--sl-mults", "[]").is_err());
        assert!(number_list("--sl-mults", "0.9")
            .unwrap_err()
            .to_string()
            .contains("--sl-mults"));
        assert!(number_list("--sl-mults", "[\"a\"]").is_err());
        assert_eq!(
            parse_caller_groups("[\"Brook\",\"Alpha\"]", &no_files).unwrap(),
            vec!["Brook", "Alpha"]
        );
        assert_eq!(
            parse_caller_groups("Brook, Alpha", &no_files).unwrap(),
            vec!["Brook", "Alpha"]
        );
        assert!(parse_caller_groups("[1]", &no_files).is_err());
        assert!(parse_caller_groups("@/nonexistent.json", &no_files)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent.json"));
        let rules = rule_list("[null,\"ema_cross:9:21\"]").unwrap();
        assert_eq!(rules.len(), 2);
        let err = rule_list("[\"ema_cross:21:9\"]").unwrap_err().to_string();
        assert!(
            err.contains("--indicators") && err.contains("ema_cross:21:9"),
            "{err}"
        );
        let l = ladder_list("[[[2,0.5],[3,0.3],[4,0.2]]]").unwrap();
        assert_eq!(l[0].as_ref().unwrap().label(), "2:0.5/3:0.3/4:0.2");
        assert!(ladder_list("[[[3,0.5],[2,0.5]]]")
            .unwrap_err()
            .to_string()
            .contains("increasing"));
        assert_eq!(parse_interval("5m").unwrap(), 300);
        assert!(parse_interval("2m").is_err());
    }

    #[test]
    fn problems_name_every_bad_flag() {
        let ok = V1Options::default();
        assert_eq!(ok.problems(48.0, 60), vec![]);
        assert_eq!(ok.grid(48.0).unwrap().size(), 30);
        let bad = V1Options {
            sl_mults: "[1.2]".into(),
            indicators: "[\"ema_cross:21:9\"]".into(),
            taker_fee_bps: -1.0,
            holdout_fraction: 0.3,
            from: Some("2025-13-01".into()),
            ..V1Options::default()
        };
        let flags: Vec<_> = bad
            .problems(48.0, 60)
            .iter()
            .map(|e| e.flag().unwrap_or("?").to_string())
            .collect();
        assert_eq!(flags, ["--from", "--indicators", "--taker-fee-bps"]);
        // The grid-level check runs once every list parses.
        let sl = V1Options {
            sl_mults: "[1.2]".into(),
            ..V1Options::default()
        };
        let p = sl.problems(48.0, 60);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].flag(), Some("--sl-mults"));
        let both = V1Options {
            tp_mults: Some("[2]".into()),
            ladders: Some("[[[2,1]]]".into()),
            ..V1Options::default()
        };
        assert!(both.problems(48.0, 60)[0].to_string().contains("--ladders"));
        // Fractions above 1 are impossible (SPEC §8); a profit factor above 1 is fine.
        let rate = V1Options {
            min_win_rate: Some(1.5),
            min_profit_factor: Some(1.5),
            ..V1Options::default()
        };
        let p = rate.problems(48.0, 60);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].flag(), Some("--min-win-rate"));
    }
}
