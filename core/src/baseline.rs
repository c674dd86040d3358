//! Baseline per-alert metrics (SPEC §7, §12): how far each call ran and fell, when, and one
//! simple TP/SL trade; plus the per-caller and overall summaries.

use crate::data::{validate_candles, Candle};
use crate::num::{mean, median};
use crate::policy::{
    CostModel, EntryPrice, ExecConfig, ExecError, ExecParams, Intrabar, Policy, PolicyError,
    PolicyParams,
};
use crate::sim::simulate_reference;
use crate::trade::ExitReason;

/// The raw settings of the baseline run, as a user gives them; [`BaselineConfig::new`]
/// validates them. The defaults are SPEC §10's (`backtest baseline`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineParams {
    /// The candle interval in seconds.
    pub interval_s: i64,
    /// The window's length; the TP/SL trade holds for all of it.
    pub horizon_hours: f64,
    /// The TP/SL trade's take-profit, a multiple of P0.
    pub tp: f64,
    /// The TP/SL trade's stop, a multiple of P0.
    pub sl: f64,
    pub fee_bps: f64,
    pub slippage_bps: f64,
    pub intrabar: Intrabar,
}

impl Default for BaselineParams {
    fn default() -> Self {
        BaselineParams {
            interval_s: 60,
            horizon_hours: 48.0,
            tp: 2.0,
            sl: 0.5,
            fee_bps: 30.0,
            slippage_bps: 50.0,
            intrabar: Intrabar::SlFirst,
        }
    }
}

/// Settings of the baseline run: the window horizon and the simple TP/SL trade.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineConfig {
    exec: ExecConfig,
    policy: Policy,
}

impl BaselineConfig {
    /// Validates the TP/SL trade settings. The trade holds for the whole horizon under the
    /// fills cost model, entering at the open without a break-even offset.
    pub fn new(params: BaselineParams) -> Result<BaselineConfig, BaselineError> {
        let exec = ExecConfig::new(ExecParams {
            interval_s: params.interval_s,
            entry_price: EntryPrice::Open,
            intrabar: params.intrabar,
            cost_model: CostModel::Fills,
            fee_bps: params.fee_bps,
            slippage_bps: params.slippage_bps,
            be_offset: 0.0,
        })?;
        let policy = Policy::new(PolicyParams {
            tp: Some(params.tp),
            sl: Some(params.sl),
            max_hold_hours: params.horizon_hours,
            ..Default::default()
        })?;
        Ok(BaselineConfig { exec, policy })
    }

    pub fn exec(&self) -> &ExecConfig {
        &self.exec
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// A baseline setting no run may hold, as the execution or policy error it makes; the inner
/// variant names the field: `Exec(Interval | Fee | Slippage)` for `interval_s`, `fee_bps`,
/// `slippage_bps`; `Policy(Tp | Sl | MaxHold)` for `tp`, `sl`, `horizon_hours`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaselineError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// A call's baseline status, tested in this order (SPEC §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No candle at or after the alert, or fewer than 2 in the window.
    Missing,
    /// P0 is not finite and positive.
    BadEntry,
    /// A §8 failure inside the window.
    InvalidCandles,
    Ok,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Missing => "missing",
            Status::BadEntry => "bad_entry",
            Status::InvalidCandles => "invalid_candles",
            Status::Ok => "ok",
        }
    }
}

/// The §7 metrics of one `ok` call. Times are seconds from the entry candle's open.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineMetrics {
    pub ath_mult: f64,
    pub time_to_ath_s: i64,
    pub time_to_2x_s: Option<i64>,
    pub time_to_3x_s: Option<i64>,
    pub time_to_4x_s: Option<i64>,
    pub dd_initial: f64,
    pub dd_overall: f64,
    pub dd_pre2x: Option<f64>,
    pub dd_after_2x: Option<f64>,
    pub dd_after_3x: Option<f64>,
    pub dd_after_4x: Option<f64>,
    pub dd_after_ath: Option<f64>,
    pub peak_pnl_pct: f64,
    pub ret_end: f64,
    pub tp_sl_exit_reason: ExitReason,
    pub tp_sl_ret: f64,
}

/// One row of the baseline: the entry (when there is an entry candle) and, for `ok`, metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRow {
    pub status: Status,
    pub entry_ts_ms: Option<i64>,
    pub entry_px: Option<f64>,
    pub metrics: Option<BaselineMetrics>,
}

fn min_low(w: &[Candle]) -> f64 {
    w.iter().map(|c| c.low).fold(f64::INFINITY, f64::min)
}

/// The baseline of one call. `window` is the call's window (entry candle first, see
/// [`crate::window::call_window`]); `None` or empty when there is no candle at or after the alert.
pub fn baseline_call(window: Option<&[Candle]>, cfg: &BaselineConfig) -> BaselineRow {
    let Some(w) = window.filter(|w| !w.is_empty()) else {
        return BaselineRow {
            status: Status::Missing,
            entry_ts_ms: None,
            entry_px: None,
            metrics: None,
        };
    };
    let e = w[0];
    let row = |status, metrics| BaselineRow {
        status,
        entry_ts_ms: Some(e.ts * 1000),
        entry_px: Some(e.open),
        metrics,
    };
    if w.len() < 2 {
        return row(Status::Missing, None);
    }
    let p0 = e.open;
    if !(p0.is_finite() && p0 > 0.0) {
        return row(Status::BadEntry, None);
    }
    if validate_candles(w, cfg.exec.interval_s()).is_err() {
        return row(Status::InvalidCandles, None);
    }

    let ath = w.iter().map(|c| c.high).fold(f64::NEG_INFINITY, f64::max);
    let ath_pos = w
        .iter()
        .position(|c| c.high == ath)
        .expect("the maximum is in the window");
    let since = |i: usize| w[i].ts - e.ts;
    let hit = |k: f64| {
        let level = k * p0;
        w.iter().position(|c| c.high >= level)
    };
    let after = |i: usize, reference: f64| {
        (i + 1 < w.len()).then(|| min_low(&w[i + 1..]) / reference - 1.0)
    };
    let dd_overall = min_low(w) / p0 - 1.0;
    let dd_initial = match w.iter().skip(1).position(|c| c.high > p0) {
        Some(k) => min_low(&w[..k + 1]) / p0 - 1.0,
        None => dd_overall,
    };
    let (h2, h3, h4) = (hit(2.0), hit(3.0), hit(4.0));
    let trade = simulate_reference(w, &cfg.exec, &cfg.policy)
        .expect("P0 was checked to be finite and positive");
    let ath_mult = ath / p0;
    row(
        Status::Ok,
        Some(BaselineMetrics {
            ath_mult,
            time_to_ath_s: since(ath_pos),
            time_to_2x_s: h2.map(since),
            time_to_3x_s: h3.map(since),
            time_to_4x_s: h4.map(since),
            dd_initial,
            dd_overall,
            dd_pre2x: h2.map(|i| min_low(&w[..=i]) / p0 - 1.0),
            dd_after_2x: h2.and_then(|i| after(i, 2.0 * p0)),
            dd_after_3x: h3.and_then(|i| after(i, 3.0 * p0)),
            dd_after_4x: h4.and_then(|i| after(i, 4.0 * p0)),
            dd_after_ath: after(ath_pos, ath),
            peak_pnl_pct: (ath_mult - 1.0) * 100.0,
            ret_end: w[w.len() - 1].close / p0 - 1.0,
            tp_sl_exit_reason: trade.exit_reason,
            tp_sl_ret: trade.net_multiple - 1.0,
        }),
    )
}

/// Summary of a set of baseline rows (SPEC §12): counts by status, medians over `ok` rows that
/// have the value, hit percentages of `ok` rows, and the TP/SL trade's results.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineSummary {
    pub calls: u32,
    pub ok: u32,
    pub missing: u32,
    pub bad_entry: u32,
    pub invalid_candles: u32,
    pub median_ath_mult: Option<f64>,
    pub median_time_to_2x_s: Option<f64>,
    pub median_dd_pre2x: Option<f64>,
    pub pct_hit_2x: Option<f64>,
    pub pct_hit_3x: Option<f64>,
    pub pct_hit_4x: Option<f64>,
    pub tp_sl_win_rate: Option<f64>,
    pub tp_sl_profit_factor: Option<f64>,
    pub tp_sl_expectancy: Option<f64>,
}

impl BaselineSummary {
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a BaselineRow>) -> BaselineSummary {
        let rows: Vec<&BaselineRow> = rows.into_iter().collect();
        let count = |s: Status| rows.iter().filter(|r| r.status == s).count() as u32;
        let ok: Vec<&BaselineMetrics> = rows.iter().filter_map(|r| r.metrics.as_ref()).collect();
        let n = ok.len();
        let pct = |f: fn(&BaselineMetrics) -> bool| {
            (n > 0).then(|| 100.0 * ok.iter().filter(|m| f(m)).count() as f64 / n as f64)
        };
        let rets: Vec<f64> = ok.iter().map(|m| m.tp_sl_ret).collect();
        let (mut pos, mut neg, mut has_loss) = (0.0, 0.0, false);
        for &r in &rets {
            if r > 0.0 {
                pos += r;
            } else if r < 0.0 {
                neg += r;
                has_loss = true;
            }
        }
        BaselineSummary {
            calls: rows.len() as u32,
            ok: n as u32,
            missing: count(Status::Missing),
            bad_entry: count(Status::BadEntry),
            invalid_candles: count(Status::InvalidCandles),
            median_ath_mult: median(&mut ok.iter().map(|m| m.ath_mult).collect::<Vec<_>>()),
            median_time_to_2x_s: median(
                &mut ok
                    .iter()
                    .filter_map(|m| m.time_to_2x_s.map(|t| t as f64))
                    .collect::<Vec<_>>(),
            ),
            median_dd_pre2x: median(&mut ok.iter().filter_map(|m| m.dd_pre2x).collect::<Vec<_>>()),
            pct_hit_2x: pct(|m| m.time_to_2x_s.is_some()),
            pct_hit_3x: pct(|m| m.time_to_3x_s.is_some()),
            pct_hit_4x: pct(|m| m.time_to_4x_s.is_some()),
            tp_sl_win_rate: (n > 0)
                .then(|| rets.iter().filter(|&&r| r > 0.0).count() as f64 / n as f64),
            tp_sl_profit_factor: has_loss.then(|| pos / neg.abs()),
            tp_sl_expectancy: mean(&rets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults with `f` applied give `expected` (`Ok` compares the trade's settings).
    fn check(f: impl FnOnce(&mut BaselineParams), expected: Result<(), BaselineError>) {
        let mut p = BaselineParams::default();
        f(&mut p);
        let got = BaselineConfig::new(p).map(|c| {
            let e = c.exec().params();
            let q = c.policy().params();
            (
                e.interval_s,
                e.fee_bps,
                e.slippage_bps,
                e.intrabar,
                q.tp,
                q.sl,
            )
        });
        let want = (
            p.interval_s,
            p.fee_bps,
            p.slippage_bps,
            p.intrabar,
            Some(p.tp),
            Some(p.sl),
        );
        assert_eq!(got, expected.map(|()| want));
    }

    #[test]
    fn settings_are_refused_by_field() {
        check(|_| {}, Ok(()));
        check(|p| p.intrabar = Intrabar::TpFirst, Ok(()));
        check(
            |p| p.tp = 1.0,
            Err(BaselineError::Policy(PolicyError::Tp(1.0))),
        );
        check(
            |p| p.sl = 1.0,
            Err(BaselineError::Policy(PolicyError::Sl(1.0))),
        );
        check(
            |p| p.horizon_hours = 0.0,
            Err(BaselineError::Policy(PolicyError::MaxHold(0.0))),
        );
        check(
            |p| p.interval_s = -60,
            Err(BaselineError::Exec(ExecError::Interval(-60))),
        );
        check(
            |p| p.fee_bps = -1.0,
            Err(BaselineError::Exec(ExecError::Fee(-1.0))),
        );
        check(
            |p| p.slippage_bps = 10_000.0,
            Err(BaselineError::Exec(ExecError::Slippage(10_000.0))),
        );
    }
}
