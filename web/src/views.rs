//! The work behind the views that explain a result (issue 18), run on the worker pool like a
//! search: one caller's selected policy (wallet, trades, decision log), a trade's candle chart,
//! the caller's grid under the other intrabar order, and the §7 baseline of every call. Each
//! rebuilds only the selected caller's calls, with the run's own options, so the numbers are
//! the search's own.

use quantbot_core::baseline::BaselineRow;
use quantbot_core::metrics::Scored;
use quantbot_core::optimize::{search, Mode, Prepared};
use quantbot_core::policy::Intrabar;
use quantbot_format::baseline::{row_of, summary_json};
use quantbot_format::options::V1Options;
use quantbot_lab_model::baseline::BaselineForm;
use quantbot_lab_model::detail::{policy_detail, trade_chart, PolicyDetail, TradeChart};

use crate::job::Loaded;

/// The run's grid, search options and the selected caller's calls, prepared.
fn with_caller<T>(
    data: &Loaded,
    options: &V1Options,
    caller: &str,
    f: impl FnOnce(
        &Prepared<'_>,
        &quantbot_core::grid::Grid,
        &quantbot_core::optimize::SearchOptions,
    ) -> T,
) -> Result<T, String> {
    let (grid, opts, _, windows) = crate::job::inputs(&data.ds, options)?;
    let windows: Vec<_> = windows
        .into_iter()
        .filter(|w| w.call.caller == caller)
        .collect();
    if windows.is_empty() {
        return Err(format!("no call of {caller} in the selection"));
    }
    let prepared = Prepared::new(windows, &grid, &opts.exec);
    Ok(f(&prepared, &grid, &opts))
}

/// Policy `index` of `caller` as the search scored it.
pub fn detail(
    data: &Loaded,
    options: &V1Options,
    caller: &str,
    index: usize,
) -> Result<PolicyDetail, String> {
    with_caller(data, options, caller, |p, g, o| {
        policy_detail(p, g, caller, index, o)
    })?
    .ok_or_else(|| format!("no grid point {index} for {caller}"))
}

/// The candle chart of the `call`-th scored call of `caller` under policy `index`.
pub fn chart(
    data: &Loaded,
    options: &V1Options,
    caller: &str,
    call: usize,
    index: usize,
) -> Result<TradeChart, String> {
    with_caller(data, options, caller, |p, g, o| {
        trade_chart(p, g, caller, call, index, o)
    })?
    .ok_or_else(|| format!("no trade of call {call} under grid point {index}"))
}

/// The other intrabar order of `options`.
pub fn other_intrabar(i: Intrabar) -> Intrabar {
    match i {
        Intrabar::SlFirst => Intrabar::TpFirst,
        Intrabar::TpFirst => Intrabar::SlFirst,
    }
}

/// Every grid point of `caller` scored under the other intrabar order (policy-index order).
pub fn rescored(data: &Loaded, options: &V1Options, caller: &str) -> Result<Vec<Scored>, String> {
    let mut other = options.clone();
    other.intrabar = other_intrabar(options.intrabar);
    with_caller(data, &other, caller, |p, g, o| {
        let mut o = o.clone();
        // The per-caller scores only: no grouped wallet, no robustness passes.
        o.mode = Mode::PerCaller;
        o.robustness = false;
        search(p, g, &o)
            .per_caller
            .into_iter()
            .find(|r| r.caller == caller)
            .map(|r| r.scored)
    })?
    .ok_or_else(|| format!("{caller} has too few calls to score"))
}

/// The baseline of every call of the dataset: its rows (in the dataset's call order) and the
/// summary document `quantbot backtest baseline --format json` prints.
pub fn baseline(
    data: &Loaded,
    form: &BaselineForm,
) -> Result<(Vec<BaselineRow>, serde_json::Value), String> {
    let ds = &data.ds;
    let cfg = form.config(ds.interval_s, ds.horizon_hours)?;
    let rows: Vec<BaselineRow> = {
        use rayon::prelude::*;
        ds.calls.par_iter().map(|c| row_of(ds, c, &cfg)).collect()
    };
    let summary = summary_json(&ds.calls, &rows);
    Ok((rows, summary))
}
