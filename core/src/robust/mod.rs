//! Robustness (SPEC §13): how much of a caller's best result is luck. The deflated Sharpe
//! ratio ([`deflated_sharpe`]), the probability of backtest overfitting by CSCV ([`Cscv`],
//! [`Cscv::pbo`]), the walk-forward folds ([`WalkForward`]) and the [`Verdict`] that sums them
//! up. The grid search ([`crate::optimize`]) feeds them from the evaluation it already does.

pub mod cscv;
pub mod normal;

use std::ops::Range;

use crate::metrics::Metrics;

pub use cscv::{Cscv, SetPerf};

/// `blocks(n, B)`: `n` calls in time order cut into `B` consecutive blocks; block `b` holds
/// `floor(n / B) + (1 if b < n mod B else 0)` calls (SPEC §13).
pub fn blocks(n: usize, b: usize) -> Vec<Range<usize>> {
    let (base, extra) = (n / b.max(1), n % b.max(1));
    let mut start = 0;
    (0..b)
        .map(|k| {
            let len = base + usize::from(k < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// Euler–Mascheroni γ as SPEC §13.1 writes it (its `e`, 2.718281828459045, is
/// `std::f64::consts::E` exactly).
const GAMMA: f64 = 0.5772156649015329;
const E: f64 = std::f64::consts::E;

/// The deflated Sharpe ratio of a caller's best policy (SPEC §13.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deflated {
    /// Policies with a sharpe.
    pub trials: usize,
    /// The sharpe the best of `trials` skill-less policies reaches.
    pub sr0: Option<f64>,
    /// The probability that the best policy's true sharpe is above zero, having tried them all.
    pub dsr: Option<f64>,
}

/// SPEC §13.1: `sharpes` of every policy in policy-index order, the best policy's `sharpe`
/// and the returns `M − 1` of the trades its wallet took, in entry order.
pub fn deflated_sharpe(
    sharpes: impl IntoIterator<Item = Option<f64>>,
    best_sharpe: Option<f64>,
    returns: &[f64],
) -> Deflated {
    let values: Vec<f64> = sharpes.into_iter().flatten().collect();
    let trials = values.len();
    if trials < 2 {
        return Deflated {
            trials,
            sr0: None,
            dsr: None,
        };
    }
    let n = trials as f64;
    let mut sum = 0.0;
    for &v in &values {
        sum += v;
    }
    let mean = sum / n;
    let mut sq = 0.0;
    for &v in &values {
        sq += (v - mean) * (v - mean);
    }
    let variance = sq / (n - 1.0);
    let z = normal::quantile;
    let sr0 = variance.sqrt() * ((1.0 - GAMMA) * z(1.0 - 1.0 / n) + GAMMA * z(1.0 - 1.0 / (n * E)));
    Deflated {
        trials,
        sr0: Some(sr0),
        dsr: best_sharpe.and_then(|sr| dsr(sr, sr0, returns)),
    }
}

fn dsr(sr: f64, sr0: f64, returns: &[f64]) -> Option<f64> {
    let t = returns.len();
    if t < 2 {
        return None;
    }
    let tf = t as f64;
    let mut sum = 0.0;
    for &r in returns {
        sum += r;
    }
    let mu = sum / tf;
    let (mut s2, mut s3, mut s4) = (0.0, 0.0, 0.0);
    for &r in returns {
        // Powers as products from the left, as the SPEC's formulas read.
        let d = r - mu;
        s2 += d * d;
        s3 += d * d * d;
        s4 += d * d * d * d;
    }
    let (m2, m3, m4) = (s2 / tf, s3 / tf, s4 / tf);
    if m2 == 0.0 {
        return None;
    }
    let skew = m3 / (m2 * m2.sqrt());
    let kurt = m4 / (m2 * m2);
    let radicand = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * (sr * sr);
    (radicand > 0.0).then(|| normal::cdf((sr - sr0) * (tf - 1.0).sqrt() / radicand.sqrt()))
}

/// One walk-forward fold (SPEC §13.3): the policy chosen on blocks `0…fold−1` and how it did
/// there and, alone in a fresh wallet, on block `fold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// From 1.
    pub fold: usize,
    /// Policy index of the choice.
    pub best: usize,
    pub in_sample: Metrics,
    pub out_of_sample: Metrics,
    /// Equity of the out-of-sample wallet after each close: `(exit_ts_ms, equity)` (the lab
    /// chains the folds' curves; not part of the JSON).
    pub out_of_sample_equity: Vec<(i64, f64)>,
}

/// The expanding walk-forward of one caller (SPEC §13.3).
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForward {
    pub folds: Vec<Fold>,
    /// `Π (1 + out_of_sample.total_return) − 1`, in fold order.
    pub compounded_oos_return: f64,
    /// Folds `j ≥ 2` whose choice differs from fold `j − 1`'s.
    pub policy_changes: usize,
}

impl WalkForward {
    /// Whether a caller with `n` calls gets a walk-forward under `folds` (`K`): `n ≥ 2(K + 1)`,
    /// written `⌊n / 2⌋ > K` so that no `K` a user can type overflows (on wasm32 too).
    pub fn applies(n: usize, folds: usize) -> bool {
        folds > 0 && n / 2 > folds
    }

    pub fn new(folds: Vec<Fold>) -> WalkForward {
        let mut growth = 1.0;
        for f in &folds {
            growth *= 1.0 + f.out_of_sample.total_return;
        }
        let policy_changes = folds.windows(2).filter(|w| w[0].best != w[1].best).count();
        WalkForward {
            folds,
            compounded_oos_return: growth - 1.0,
            policy_changes,
        }
    }
}

/// Is this caller worth following (SPEC §13.4)?
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Edge,
    Inconclusive,
    Overfit,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Edge, Verdict::Inconclusive, Verdict::Overfit];

    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Edge => "edge",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Overfit => "overfit",
        }
    }
}

/// The robustness of one caller's best result (SPEC §13.5's `robustness`).
#[derive(Debug, Clone, PartialEq)]
pub struct Robustness {
    pub deflated: Deflated,
    pub pbo: Option<f64>,
    /// `None` when `--folds` is 0 or the caller has fewer than `2 × (K + 1)` calls.
    pub walk_forward: Option<WalkForward>,
    pub verdict: Verdict,
}

/// Thresholds of the verdict `edge` (SPEC §13.4).
pub const EDGE_MIN_DSR: f64 = 0.95;
pub const EDGE_MAX_PBO: f64 = 0.2;
pub const OVERFIT_PBO: f64 = 0.5;

impl Robustness {
    /// The verdict rule, tested in the SPEC's order. `best` is the chosen policy's (in-sample)
    /// metrics and feasibility; `folds` is `K`.
    pub fn new(
        deflated: Deflated,
        pbo: Option<f64>,
        walk_forward: Option<WalkForward>,
        best: (&Metrics, bool),
        folds: usize,
    ) -> Robustness {
        let (metrics, feasible) = best;
        let verdict = if pbo.is_some_and(|p| p > OVERFIT_PBO) {
            Verdict::Overfit
        } else if deflated.dsr.is_some_and(|d| d >= EDGE_MIN_DSR)
            && pbo.is_some_and(|p| p <= EDGE_MAX_PBO)
            && feasible
            && metrics.total_return > 0.0
            && (folds == 0
                || walk_forward
                    .as_ref()
                    .is_some_and(|w| w.compounded_oos_return > 0.0))
        {
            Verdict::Edge
        } else {
            Verdict::Inconclusive
        };
        Robustness {
            deflated,
            pbo,
            walk_forward,
            verdict,
        }
    }
}

#[cfg(test)]
mod tests;
