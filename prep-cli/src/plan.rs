//! Validated plans: the raw flags of `args.rs` turned into the engine's validated types. Every
//! error here is a usage error (exit code 2) and names the flag.

use std::fmt;
use std::path::{Path, PathBuf};

use quantbot_core::grid::{Grid, GridError, GridSpec};
use quantbot_core::indicator::Rule;
use quantbot_core::metrics::{Constraints, Objective};
use quantbot_core::optimize::{Mode, SearchOptions};
use quantbot_core::policy::{CostModel, EntryPrice, ExecConfig, Intrabar, Ladder};
use quantbot_core::select::date_range;
use quantbot_core::wallet::WalletConfig;
use serde_json::Value;

use crate::args::{
    CostModelArg, EntryPriceArg, IntrabarArg, ModeArg, ObjectiveArg, SourceArgs, SourceLayout,
    V1Args,
};

/// A usage error: a bad flag or value (exit code 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// Seconds of an `--interval` value.
pub fn parse_interval(text: &str) -> anyhow::Result<i64> {
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

/// Where the data comes from, checked.
#[derive(Debug, Clone)]
pub enum Source {
    DuckDb { path: PathBuf, layout: SourceLayout },
    Data { dir: PathBuf },
}

impl Source {
    pub fn from_args(a: &SourceArgs) -> Source {
        match (&a.data, &a.duckdb) {
            (Some(dir), _) => Source::Data { dir: dir.clone() },
            (None, Some(p)) => Source::DuckDb {
                path: p.clone(),
                layout: a.source,
            },
            (None, None) => Source::DuckDb {
                path: PathBuf::from("data/alerts.duckdb"),
                layout: a.source,
            },
        }
    }
}

/// Which calls to select.
#[derive(Debug, Clone)]
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
    pub fn new(
        from: Option<&str>,
        to: Option<&str>,
        chain: Option<&str>,
        groups: Option<&str>,
    ) -> anyhow::Result<Selection> {
        let (from_ms, to_ms) = date_range(from, to).map_err(|e| usage(e.to_string()))?;
        Ok(Selection {
            from_ms,
            to_ms,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            chain: chain.map(str::to_string),
            groups: groups.map(parse_caller_groups).transpose()?,
        })
    }
}

fn strings(flag: &str, v: &Value) -> anyhow::Result<Vec<String>> {
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
pub fn parse_caller_groups(text: &str) -> anyhow::Result<Vec<String>> {
    const FLAG: &str = "--caller-groups";
    let (json, origin) = if let Some(path) = text.strip_prefix('@') {
        let body = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("{FLAG}: cannot read {path}: {e}")))?;
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

fn json_list(flag: &str, text: &str) -> anyhow::Result<Vec<Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) if !items.is_empty() => Ok(items),
        Ok(Value::Array(_)) => Err(usage(format!("{flag}: the list is empty"))),
        _ => Err(usage(format!(
            "{flag}: expected a JSON list such as '[2.0,3.0]' or '[null,0.9]', got {text:?}"
        ))),
    }
}

/// A JSON list of numbers and `null`.
pub fn number_list(flag: &str, text: &str) -> anyhow::Result<Vec<Option<f64>>> {
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

fn ladder_list(text: &str) -> anyhow::Result<Vec<Option<Ladder>>> {
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

fn rule_list(text: &str) -> anyhow::Result<Vec<Option<Rule>>> {
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

/// The grid of `backtest v1-baseline`, validated against the horizon.
pub fn grid(a: &V1Args, horizon_hours: f64) -> anyhow::Result<Grid> {
    if a.ladders.is_some() && a.tp_mults.is_some() {
        return Err(usage(
            "--ladders and --tp-mults cannot be combined: a ladder is the take profit",
        ));
    }
    let tp = match (&a.ladders, &a.tp_mults) {
        (Some(_), _) => vec![None],
        (None, Some(t)) => number_list("--tp-mults", t)?,
        (None, None) => GridSpec::default().tp,
    };
    let opt_list = |flag: &str, text: &Option<String>| -> anyhow::Result<Vec<Option<f64>>> {
        match text {
            Some(t) => number_list(flag, t),
            None => Ok(vec![None]),
        }
    };
    // Without --max-hold-hrs: 48 h, or the whole window of a dataset exported with a shorter
    // horizon (the default must not be a usage error).
    let max_hold = match &a.max_hold_hrs {
        Some(text) => number_list("--max-hold-hrs", text)?
            .into_iter()
            .map(|h| h.ok_or_else(|| usage("--max-hold-hrs: null is not a time stop; give hours")))
            .collect::<anyhow::Result<Vec<f64>>>()?,
        None => vec![GridSpec::default().max_hold[0].min(horizon_hours)],
    };
    let spec = GridSpec {
        tp,
        sl: number_list("--sl-mults", &a.sl_mults)?,
        trail: opt_list("--trail-pcts", &a.trail_pcts)?,
        trail_activation: opt_list("--trail-activations", &a.trail_activations)?,
        be_trigger: opt_list("--be-triggers", &a.be_triggers)?,
        ladder: match &a.ladders {
            Some(t) => ladder_list(t)?,
            None => vec![None],
        },
        max_hold,
        indicator: rule_list(&a.indicators)?,
    };
    Grid::new(spec, horizon_hours).map_err(|e| match e {
        GridError::Value { dimension, source } => {
            usage(format!("{}: {source}", flag_of(dimension)))
        }
        GridError::Empty(d) => usage(format!("{}: the list is empty", flag_of(d))),
        other => usage(other.to_string()),
    })
}

fn unit(flag: &str, v: f64) -> anyhow::Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(usage(format!(
            "{flag}: {v} must be a finite number at least 0"
        )))
    }
}

/// Run options of `backtest v1-baseline`.
pub fn search_options(a: &V1Args, interval_s: i64) -> anyhow::Result<SearchOptions> {
    let exec = ExecConfig::new(
        interval_s,
        match a.entry_price {
            EntryPriceArg::Open => EntryPrice::Open,
            EntryPriceArg::Close => EntryPrice::Close,
        },
        match a.intrabar {
            IntrabarArg::SlFirst => Intrabar::SlFirst,
            IntrabarArg::TpFirst => Intrabar::TpFirst,
        },
        match a.cost_model {
            CostModelArg::Fills => CostModel::Fills,
            CostModelArg::V1 => CostModel::V1,
        },
        a.taker_fee_bps,
        a.slippage_bps,
        a.be_offset,
    )
    .map_err(|e| {
        let flag = match e {
            quantbot_core::policy::ExecError::Fee(_) => "--taker-fee-bps",
            quantbot_core::policy::ExecError::Slippage(_) => "--slippage-bps",
            quantbot_core::policy::ExecError::BeOffset(_) => "--be-offset",
            quantbot_core::policy::ExecError::Interval(_) => "--interval",
        };
        usage(format!("{flag}: {e}"))
    })?;
    let wallet = WalletConfig::new(
        a.initial_capital,
        a.max_allocation_pct,
        a.max_risk_per_trade,
        a.max_concurrent_positions,
        a.min_executable_size,
        a.allow_same_token,
    )
    .map_err(|e| {
        let flag = match e {
            quantbot_core::wallet::WalletError::InitialCapital(_) => "--initial-capital",
            quantbot_core::wallet::WalletError::MaxAllocation(_) => "--max-allocation-pct",
            quantbot_core::wallet::WalletError::MaxRisk(_) => "--max-risk-per-trade",
            quantbot_core::wallet::WalletError::MaxPositions(_) => "--max-concurrent-positions",
            quantbot_core::wallet::WalletError::MinSize(_) => "--min-executable-size",
        };
        usage(format!("{flag}: {e}"))
    })?;
    let mut opts = SearchOptions::new(exec, wallet)
        .with_holdout(a.holdout_fraction)
        .map_err(|e| usage(format!("--holdout-fraction: {e}")))?;
    opts.objective = match a.objective {
        ObjectiveArg::FinalCapital => Objective::FinalCapital,
        ObjectiveArg::MeanReturn => Objective::MeanReturn,
        ObjectiveArg::MedianReturn => Objective::MedianReturn,
        ObjectiveArg::Sharpe => Objective::Sharpe,
        ObjectiveArg::ProfitFactor => Objective::ProfitFactor,
        ObjectiveArg::WinRate => Objective::WinRate,
        ObjectiveArg::Capture => Objective::Capture,
    };
    opts.mode = match a.mode {
        ModeArg::PerCaller => Mode::PerCaller,
        ModeArg::Grouped => Mode::Grouped,
        ModeArg::Both => Mode::Both,
    };
    opts.min_calls = a.min_calls;
    // On by default (as in the original); the last of --filter-x / --no-filter-x wins.
    opts.filter_collapsed = !a.no_filter_collapsed;
    opts.filter_edge = !a.no_filter_edge;
    opts.constraints = Constraints {
        max_drawdown: a
            .max_drawdown
            .map(|v| unit("--max-drawdown", v))
            .transpose()?,
        min_win_rate: a
            .min_win_rate
            .map(|v| unit("--min-win-rate", v))
            .transpose()?,
        min_trades: a.min_trades,
        max_stop_out_rate: a
            .max_stop_out_rate
            .map(|v| unit("--max-stop-out-rate", v))
            .transpose()?,
        min_profit_factor: a
            .min_profit_factor
            .map(|v| unit("--min-profit-factor", v))
            .transpose()?,
    };
    if a.threads == Some(0) {
        return Err(usage("--threads: must be at least 1"));
    }
    Ok(opts)
}

/// Fails (exit 1) when `dir` exists and is not empty, unless `force`.
pub fn check_out_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            anyhow::bail!(
                "{} exists and is not empty; give --force to replace it",
                dir.display()
            );
        }
    } else if dir.exists() {
        anyhow::bail!("{} exists and is not a folder", dir.display());
    }
    Ok(())
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
            parse_caller_groups("[\"Brook\",\"Alpha\"]").unwrap(),
            vec!["Brook", "Alpha"]
        );
        assert_eq!(
            parse_caller_groups("Brook, Alpha").unwrap(),
            vec!["Brook", "Alpha"]
        );
        assert!(parse_caller_groups("[1]").is_err());
        assert!(parse_caller_groups("@/nonexistent.json")
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
}
