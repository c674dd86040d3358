//! Wallet metrics, constraints, objectives and the deterministic ranking (SPEC §5, §12).

use std::cmp::Ordering;

use crate::num::{mean, mean_of, median};
use crate::trade::ExitReason;
use crate::wallet::WalletRun;

/// The metrics of one wallet. `None` is a value that does not exist (`null` in JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub final_capital: f64,
    pub total_return: f64,
    pub trades: u32,
    /// Skips by reason, indexed by [`crate::wallet::SkipReason`] as usize.
    pub skipped: [u32; 4],
    pub win_rate: Option<f64>,
    pub mean_return: Option<f64>,
    pub median_return: Option<f64>,
    pub profit_factor: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
    pub stop_out_rate: Option<f64>,
    pub mean_hold_hours: Option<f64>,
    pub capture: Option<f64>,
    pub ambiguous_trades: u32,
}

impl Metrics {
    /// Computes every metric from a wallet run; sums run over trades in entry order.
    pub fn of(run: &WalletRun) -> Metrics {
        let taken = &run.taken;
        let n = taken.len();
        let nf = n as f64;
        let mut returns: Vec<f64> = taken.iter().map(|t| t.multiple - 1.0).collect();
        let share = |count: usize| (n > 0).then(|| count as f64 / nf);

        let (mut wins_usd, mut losses_usd, mut has_loss) = (0.0, 0.0, false);
        for t in taken {
            if t.pnl > 0.0 {
                wins_usd += t.pnl;
            } else if t.pnl < 0.0 {
                losses_usd += t.pnl;
                has_loss = true;
            }
        }
        let profit_factor = has_loss.then(|| wins_usd / losses_usd.abs());

        let mean_return = mean(&returns);
        let sharpe = match mean_return {
            Some(m) if n >= 2 && returns.iter().any(|&r| r != returns[0]) => {
                let mut sq = 0.0;
                for &r in &returns {
                    sq += (r - m) * (r - m);
                }
                let sd = (sq / (nf - 1.0)).sqrt();
                (sd > 0.0).then(|| m / sd)
            }
            _ => None,
        };
        let mean_hold_hours = mean_of(
            taken
                .iter()
                .map(|t| (t.exit_ts_ms - t.entry_ts_ms) as f64 / 3_600_000.0),
        );
        let capture = mean_of(
            taken
                .iter()
                .filter(|t| t.peak_multiple > 1.0)
                .map(|t| (t.multiple - 1.0) / (t.peak_multiple - 1.0)),
        );
        // The median last: it reorders `returns`, which the sums above read in entry order.
        let median_return = median(&mut returns);

        Metrics {
            final_capital: run.final_capital,
            total_return: run.final_capital / run.initial_capital - 1.0,
            trades: n as u32,
            skipped: run.skip_counts(),
            win_rate: share(taken.iter().filter(|t| t.multiple > 1.0).count()),
            mean_return,
            median_return,
            profit_factor,
            sharpe,
            max_drawdown: run.max_drawdown,
            stop_out_rate: share(
                taken
                    .iter()
                    .filter(|t| t.exit_reason == ExitReason::StopLoss)
                    .count(),
            ),
            mean_hold_hours,
            capture,
            ambiguous_trades: taken.iter().filter(|t| t.ambiguous).count() as u32,
        }
    }
}

/// What "best" means (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    #[default]
    FinalCapital,
    MeanReturn,
    MedianReturn,
    Sharpe,
    ProfitFactor,
    WinRate,
    Capture,
}

impl Objective {
    pub const ALL: [Objective; 7] = [
        Objective::FinalCapital,
        Objective::MeanReturn,
        Objective::MedianReturn,
        Objective::Sharpe,
        Objective::ProfitFactor,
        Objective::WinRate,
        Objective::Capture,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Objective::FinalCapital => "final_capital",
            Objective::MeanReturn => "mean_return",
            Objective::MedianReturn => "median_return",
            Objective::Sharpe => "sharpe",
            Objective::ProfitFactor => "profit_factor",
            Objective::WinRate => "win_rate",
            Objective::Capture => "capture",
        }
    }

    pub fn parse(s: &str) -> Option<Objective> {
        Objective::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The objective's value; NaN counts as missing.
    pub fn value(self, m: &Metrics) -> Option<f64> {
        let v = match self {
            Objective::FinalCapital => Some(m.final_capital),
            Objective::MeanReturn => m.mean_return,
            Objective::MedianReturn => m.median_return,
            Objective::Sharpe => m.sharpe,
            Objective::ProfitFactor => m.profit_factor,
            Objective::WinRate => m.win_rate,
            Objective::Capture => m.capture,
        };
        v.filter(|v| !v.is_nan())
    }
}

/// Downside constraints, each optional and inclusive (SPEC §5, §12).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Constraints {
    pub max_drawdown: Option<f64>,
    pub min_win_rate: Option<f64>,
    pub min_trades: Option<u32>,
    pub max_stop_out_rate: Option<f64>,
    pub min_profit_factor: Option<f64>,
}

impl Constraints {
    /// Whether every constraint is met; a constraint on a missing value is not met.
    pub fn feasible(&self, m: &Metrics) -> bool {
        let at_most = |limit: Option<f64>, v: Option<f64>| match limit {
            None => true,
            Some(l) => v.is_some_and(|v| v <= l),
        };
        let at_least = |limit: Option<f64>, v: Option<f64>| match limit {
            None => true,
            Some(l) => v.is_some_and(|v| v >= l),
        };
        at_most(self.max_drawdown, Some(m.max_drawdown))
            && at_least(self.min_win_rate, m.win_rate)
            && self.min_trades.is_none_or(|t| m.trades >= t)
            && at_most(self.max_stop_out_rate, m.stop_out_rate)
            && at_least(self.min_profit_factor, m.profit_factor)
    }
}

/// One evaluated grid point, as ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub index: usize,
    pub feasible: bool,
    pub metrics: Metrics,
}

/// The ranking order (SPEC §5): feasible first; objective higher first (missing last); lower
/// max_drawdown; more trades; lower policy index. `Less` means `a` ranks before `b`.
pub fn rank_order(objective: Objective, a: &Scored, b: &Scored) -> Ordering {
    b.feasible
        .cmp(&a.feasible)
        .then_with(
            || match (objective.value(&a.metrics), objective.value(&b.metrics)) {
                (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        )
        .then_with(|| {
            a.metrics
                .max_drawdown
                .partial_cmp(&b.metrics.max_drawdown)
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| b.metrics.trades.cmp(&a.metrics.trades))
        .then_with(|| a.index.cmp(&b.index))
}

/// The best of a non-empty list of scored points.
pub fn best(objective: Objective, scored: &[Scored]) -> Option<&Scored> {
    scored.iter().min_by(|a, b| rank_order(objective, a, b))
}
