//! The options of `backtest v1-baseline` (SPEC §10) as the user types them: JSON lists as
//! text, numbers, choices. The CLI fills [`V1Options`] from its flags, the lab from its form;
//! both validate here, so a bad value gets the same message naming the same flag.

use quantbot_core::grid::{Grid, GridError, GridSpec};
use quantbot_core::indicator::Rule;
use quantbot_core::metrics::{Constraints, Objective};
use quantbot_core::optimize::{Mode, SearchOptions};
use quantbot_core::policy::{CostModel, EntryPrice, ExecConfig, ExecError, Intrabar, Ladder};
use quantbot_core::select::date_range;
use quantbot_core::wallet::{WalletConfig, WalletError};
use serde_json::Value;

use crate::{usage, Result};

/// Seconds of an `--interval` value.
pub fn parse_interval(text: &str) -> Result<i64> {
    match text {
        "1m" => Ok(60),
        "5m" => Ok(300),
        "15m" => Ok(900),
        "1h" => Ok(3600),
        other => Err(usage(format!(
            "--interval: {other:?} is not one of 1m, 5m, 15m, 1h"
        ))),
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
        let (from_ms, to_ms) = date_range(from, to).map_err(|e| usage(e.to_string()))?;
        Ok(Selection {
            from_ms,
            to_ms,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            chain: chain.map(str::to_string),
            groups: groups
                .map(|g| parse_caller_groups(g, read_file))
                .transpose()?,
        })
    }

    /// Every call, every chain, every caller.
    pub fn all() -> Selection {
        Selection::new(None, None, None, None, &no_files).expect("the full range is valid")
    }
}

/// A `read_file` for places without files (the browser).
pub fn no_files(path: &str) -> std::result::Result<String, String> {
    Err(format!("cannot read {path} here"))
}

fn strings(flag: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(usage(format!("{flag}: expected caller names, got {other}"))),
            })
            .collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(usage(format!(
            "{flag}: expected a list of caller names, got {other}"
        ))),
    }
}

/// `--caller-groups`: a JSON array, a comma list, or `@file.json` (an array, or an object
/// mapping group names to caller names).
pub fn parse_caller_groups(
    text: &str,
    read_file: &dyn Fn(&str) -> std::result::Result<String, String>,
) -> Result<Vec<String>> {
    const FLAG: &str = "--caller-groups";
    let (json, origin) = if let Some(path) = text.strip_prefix('@') {
        let body = read_file(path).map_err(|e| usage(format!("{FLAG}: {path}: {e}")))?;
        (Some(body), format!("{FLAG} {path}"))
    } else if text.trim_start().starts_with('[') {
        (Some(text.to_string()), FLAG.to_string())
    } else {
        (None, FLAG.to_string())
    };
    let entries = match json {
        Some(body) => {
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| usage(format!("{origin}: not valid JSON: {e}")))?;
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
                    return Err(usage(format!(
                        "{origin}: expected an array or an object of groups, got {other}"
                    )))
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
        return Err(usage(format!("{origin}: no caller given")));
    }
    Ok(entries)
}

fn json_list(flag: &str, text: &str) -> Result<Vec<Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) if !items.is_empty() => Ok(items),
        Ok(Value::Array(_)) => Err(usage(format!("{flag}: the list is empty"))),
        _ => Err(usage(format!(
            "{flag}: expected a JSON list such as '[2.0,3.0]' or '[null,0.9]', got {text:?}"
        ))),
    }
}

/// A JSON list of numbers and `null`.
pub fn number_list(flag: &str, text: &str) -> Result<Vec<Option<f64>>> {
    json_list(flag, text)?
        .into_iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| usage(format!("{flag}: {n} is not a finite number"))),
            other => Err(usage(format!("{flag}: {other} is not a number or null"))),
        })
        .collect()
}

/// `--ladders`: a JSON list of ladders of `[multiple, fraction]` pairs, or `null`.
pub fn ladder_list(text: &str) -> Result<Vec<Option<Ladder>>> {
    const FLAG: &str = "--ladders";
    json_list(FLAG, text)?
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
                            return Err(usage(format!(
                                "{FLAG}: a ladder level must be [multiple, fraction], got {lv}"
                            )))
                        }
                    }
                }
                Ladder::new(pairs)
                    .map(Some)
                    .map_err(|e| usage(format!("{FLAG}: {e}")))
            }
            other => Err(usage(format!(
                "{FLAG}: expected a list of ladders like '[[[2,0.5],[3,0.5]]]', got {other}"
            ))),
        })
        .collect()
}

/// `--indicators`: a JSON list of rule texts (SPEC §3.7) and `null`.
pub fn rule_list(text: &str) -> Result<Vec<Option<Rule>>> {
    const FLAG: &str = "--indicators";
    json_list(FLAG, text)?
        .into_iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            Value::String(s) => s
                .parse::<Rule>()
                .map(Some)
                .map_err(|e| usage(format!("{FLAG}: {e}"))),
            other => Err(usage(format!("{FLAG}: {other} is not a rule text or null"))),
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
fn fraction(flag: &str, v: f64) -> Result<f64> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(usage(format!("{flag}: {v} must be a fraction in [0, 1]")))
    }
}

fn unit(flag: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(usage(format!(
            "{flag}: {v} must be a finite number at least 0"
        )))
    }
}

/// Every option of `backtest v1-baseline` that changes results, as typed (lists as JSON
/// text). `Default` gives the CLI's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct V1Options {
    pub from: Option<String>,
    pub to: Option<String>,
    pub chain: Option<String>,
    pub caller_groups: Option<String>,
    pub tp_mults: Option<String>,
    pub sl_mults: String,
    pub trail_pcts: Option<String>,
    pub trail_activations: Option<String>,
    pub be_triggers: Option<String>,
    pub ladders: Option<String>,
    pub max_hold_hrs: Option<String>,
    pub indicators: String,
    pub initial_capital: f64,
    pub max_allocation_pct: f64,
    pub max_risk_per_trade: f64,
    pub max_concurrent_positions: u32,
    pub min_executable_size: f64,
    pub allow_same_token: bool,
    pub taker_fee_bps: f64,
    pub slippage_bps: f64,
    pub be_offset: f64,
    pub cost_model: CostModel,
    pub entry_price: EntryPrice,
    pub intrabar: Intrabar,
    pub mode: Mode,
    pub min_calls: usize,
    pub filter_collapsed: bool,
    pub filter_edge: bool,
    pub objective: Objective,
    pub max_drawdown: Option<f64>,
    pub min_win_rate: Option<f64>,
    pub min_trades: Option<u32>,
    pub max_stop_out_rate: Option<f64>,
    pub min_profit_factor: Option<f64>,
    pub holdout_fraction: f64,
}

impl Default for V1Options {
    fn default() -> Self {
        // The wallet's defaults are the engine's (SPEC §4).
        let w = WalletConfig::default();
        V1Options {
            from: None,
            to: None,
            chain: None,
            caller_groups: None,
            tp_mults: None,
            sl_mults: "[0.85,0.88,0.9,0.92,0.95]".into(),
            trail_pcts: None,
            trail_activations: None,
            be_triggers: None,
            ladders: None,
            max_hold_hrs: None,
            indicators: "[null]".into(),
            initial_capital: w.initial_capital(),
            max_allocation_pct: w.max_allocation_pct(),
            max_risk_per_trade: w.max_risk_per_trade(),
            max_concurrent_positions: w.max_concurrent_positions(),
            min_executable_size: w.min_executable_size(),
            allow_same_token: w.allow_same_token(),
            taker_fee_bps: 30.0,
            slippage_bps: 10.0,
            be_offset: 0.0,
            cost_model: CostModel::Fills,
            entry_price: EntryPrice::Open,
            intrabar: Intrabar::SlFirst,
            mode: Mode::Both,
            min_calls: 0,
            filter_collapsed: true,
            filter_edge: true,
            objective: Objective::FinalCapital,
            max_drawdown: None,
            min_win_rate: None,
            min_trades: None,
            max_stop_out_rate: None,
            min_profit_factor: None,
            holdout_fraction: 0.0,
        }
    }
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
            GridError::Value { dimension, source } => {
                usage(format!("{}: {source}", flag_of(dimension)))
            }
            GridError::Empty(d) => usage(format!("{}: the list is empty", flag_of(d))),
            other => usage(other.to_string()),
        })
    }

    fn grid_spec(&self, horizon_hours: f64) -> Result<GridSpec> {
        if self.ladders.is_some() && self.tp_mults.is_some() {
            return Err(usage(
                "--ladders and --tp-mults cannot be combined: a ladder is the take profit",
            ));
        }
        let tp = match (&self.ladders, &self.tp_mults) {
            (Some(_), _) => vec![None],
            (None, Some(t)) => number_list("--tp-mults", t)?,
            (None, None) => GridSpec::default().tp,
        };
        let opt_list = |flag: &str, text: &Option<String>| match text {
            Some(t) => number_list(flag, t),
            None => Ok(vec![None]),
        };
        // Without --max-hold-hrs: 48 h, or the whole window of a dataset exported with a
        // shorter horizon (the default must not be a usage error).
        let max_hold = match &self.max_hold_hrs {
            Some(text) => number_list("--max-hold-hrs", text)?
                .into_iter()
                .map(|h| {
                    h.ok_or_else(|| usage("--max-hold-hrs: null is not a time stop; give hours"))
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
        let exec = ExecConfig::new(
            interval_s,
            self.entry_price,
            self.intrabar,
            self.cost_model,
            self.taker_fee_bps,
            self.slippage_bps,
            self.be_offset,
        )
        .map_err(|e| {
            let flag = match e {
                ExecError::Fee(_) => "--taker-fee-bps",
                ExecError::Slippage(_) => "--slippage-bps",
                ExecError::BeOffset(_) => "--be-offset",
                ExecError::Interval(_) => "--interval",
            };
            usage(format!("{flag}: {e}"))
        })?;
        let wallet = WalletConfig::new(
            self.initial_capital,
            self.max_allocation_pct,
            self.max_risk_per_trade,
            self.max_concurrent_positions,
            self.min_executable_size,
            self.allow_same_token,
        )
        .map_err(|e| {
            let flag = match e {
                WalletError::InitialCapital(_) => "--initial-capital",
                WalletError::MaxAllocation(_) => "--max-allocation-pct",
                WalletError::MaxRisk(_) => "--max-risk-per-trade",
                WalletError::MaxPositions(_) => "--max-concurrent-positions",
                WalletError::MinSize(_) => "--min-executable-size",
            };
            usage(format!("{flag}: {e}"))
        })?;
        let mut opts = SearchOptions::new(exec, wallet)
            .with_holdout(self.holdout_fraction)
            .map_err(|e| usage(format!("--holdout-fraction: {e}")))?;
        opts.objective = self.objective;
        opts.mode = self.mode;
        opts.min_calls = self.min_calls;
        opts.filter_collapsed = self.filter_collapsed;
        opts.filter_edge = self.filter_edge;
        let frac = |flag: &str, v: Option<f64>| v.map(|v| fraction(flag, v)).transpose();
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
        let lists: [(&str, Option<&String>); 6] = [
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
