//! Validated plans: the raw flags of `args.rs` turned into the engine's validated types,
//! through the options shared with the lab (`quantbot_format::options`). Every error here is a
//! usage error (exit code 2) and names the flag.

use std::fmt;
use std::path::{Path, PathBuf};

use quantbot_core::grid::Grid;
use quantbot_core::metrics::Objective;
use quantbot_core::optimize::{Mode, SearchOptions};
use quantbot_core::policy::{CostModel, EntryPrice, Intrabar};
pub use quantbot_format::options::{interval_name, Selection, V1Options};

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

/// A shared-format error as the CLI reports it: usage (exit 2) or failure (exit 1).
pub fn cli_error(e: quantbot_format::Error) -> anyhow::Error {
    match e {
        quantbot_format::Error::Usage(m) => usage(m),
        quantbot_format::Error::Data(m) => anyhow::anyhow!(m),
    }
}

/// Seconds of an `--interval` value.
pub fn parse_interval(text: &str) -> anyhow::Result<i64> {
    quantbot_format::options::parse_interval(text).map_err(cli_error)
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

/// The selection of calls; `--caller-groups @file.json` is read here.
pub fn selection(
    from: Option<&str>,
    to: Option<&str>,
    chain: Option<&str>,
    groups: Option<&str>,
) -> anyhow::Result<Selection> {
    Selection::new(from, to, chain, groups, &read_file).map_err(cli_error)
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

/// The options of a `backtest v1-baseline` command line, as the lab would type them.
pub fn v1_options(a: &V1Args) -> V1Options {
    V1Options {
        from: a.from.clone(),
        to: a.to.clone(),
        chain: a.chain.clone(),
        caller_groups: a.caller_groups.clone(),
        tp_mults: a.tp_mults.clone(),
        sl_mults: a.sl_mults.clone(),
        trail_pcts: a.trail_pcts.clone(),
        trail_activations: a.trail_activations.clone(),
        be_triggers: a.be_triggers.clone(),
        ladders: a.ladders.clone(),
        max_hold_hrs: a.max_hold_hrs.clone(),
        indicators: a.indicators.clone(),
        initial_capital: a.initial_capital,
        max_allocation_pct: a.max_allocation_pct,
        max_risk_per_trade: a.max_risk_per_trade,
        max_concurrent_positions: a.max_concurrent_positions,
        min_executable_size: a.min_executable_size,
        allow_same_token: a.allow_same_token,
        taker_fee_bps: a.taker_fee_bps,
        slippage_bps: a.slippage_bps,
        be_offset: a.be_offset,
        cost_model: match a.cost_model {
            CostModelArg::Fills => CostModel::Fills,
            CostModelArg::V1 => CostModel::V1,
        },
        entry_price: match a.entry_price {
            EntryPriceArg::Open => EntryPrice::Open,
            EntryPriceArg::Close => EntryPrice::Close,
        },
        intrabar: match a.intrabar {
            IntrabarArg::SlFirst => Intrabar::SlFirst,
            IntrabarArg::TpFirst => Intrabar::TpFirst,
        },
        mode: match a.mode {
            ModeArg::PerCaller => Mode::PerCaller,
            ModeArg::Grouped => Mode::Grouped,
            ModeArg::Both => Mode::Both,
        },
        min_calls: a.min_calls,
        // On by default (as in the original); the last of --filter-x / --no-filter-x wins.
        filter_collapsed: !a.no_filter_collapsed,
        filter_edge: !a.no_filter_edge,
        objective: match a.objective {
            ObjectiveArg::FinalCapital => Objective::FinalCapital,
            ObjectiveArg::MeanReturn => Objective::MeanReturn,
            ObjectiveArg::MedianReturn => Objective::MedianReturn,
            ObjectiveArg::Sharpe => Objective::Sharpe,
            ObjectiveArg::ProfitFactor => Objective::ProfitFactor,
            ObjectiveArg::WinRate => Objective::WinRate,
            ObjectiveArg::Capture => Objective::Capture,
        },
        max_drawdown: a.max_drawdown,
        min_win_rate: a.min_win_rate,
        min_trades: a.min_trades,
        max_stop_out_rate: a.max_stop_out_rate,
        min_profit_factor: a.min_profit_factor,
        holdout_fraction: a.holdout_fraction,
    }
}

/// The grid of `backtest v1-baseline`, validated against the horizon.
pub fn grid(a: &V1Args, horizon_hours: f64) -> anyhow::Result<Grid> {
    v1_options(a).grid(horizon_hours).map_err(cli_error)
}

/// Run options of `backtest v1-baseline`.
pub fn search_options(a: &V1Args, interval_s: i64) -> anyhow::Result<SearchOptions> {
    if a.threads == Some(0) {
        return Err(usage("--threads: must be at least 1"));
    }
    v1_options(a).search_options(interval_s).map_err(cli_error)
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
    fn intervals_and_groups_files() {
        assert_eq!(parse_interval("5m").unwrap(), 300);
        let err = parse_interval("2m").unwrap_err();
        assert!(err.downcast_ref::<Usage>().is_some(), "{err}");
        let err = selection(None, None, None, Some("@/nonexistent.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent.json"), "{err}");
    }
}
