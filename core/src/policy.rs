//! Exit policies (SPEC §3.3) and the execution options shared by a whole run (§3.1, §3.2, §3.4),
//! as validated types: an impossible value cannot be constructed.

use thiserror::Error;

use crate::indicator::Rule;
use crate::num::fmt_num;

/// A parameter that no policy may hold, named as the user's flag or grid dimension.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    #[error("tp must be a multiple above 1, got {0}")]
    Tp(f64),
    #[error("sl must be in (0, 1), got {0}")]
    Sl(f64),
    #[error("trail must be in (0, 1), got {0}")]
    Trail(f64),
    #[error("trail_activation must be a multiple of at least 1, got {0}")]
    TrailActivation(f64),
    #[error("be_trigger must be a multiple above 1, got {0}")]
    BeTrigger(f64),
    #[error("be_offset must be finite and at least 0, got {0}")]
    BeOffset(f64),
    #[error("max_hold must be a positive number of hours up to 10000, got {0}")]
    MaxHold(f64),
    #[error("max_hold {hold}h is longer than the horizon {horizon}h")]
    MaxHoldOverHorizon { hold: f64, horizon: f64 },
    #[error("a ladder needs at least one level")]
    EmptyLadder,
    #[error("ladder level multiple must be above 1, got {0}")]
    LadderMultiple(f64),
    #[error("ladder multiples must be strictly increasing ({0} after {1})")]
    LadderOrder(f64, f64),
    #[error("ladder fraction must be in (0, 1], got {0}")]
    LadderFraction(f64),
    #[error("ladder fractions sum to {0}, above 1")]
    LadderSum(f64),
    #[error("tp and ladder cannot both be set in one policy")]
    TpAndLadder,
}

/// Laddered partial take-profits: `(multiple of P0, fraction of the original size)`, sorted by
/// strictly increasing multiple, fractions summing to at most 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    levels: Vec<(f64, f64)>,
    complete: bool,
}

/// A ladder whose fractions sum to within this of 1 closes the whole position (SPEC §12).
pub const LADDER_COMPLETE_EPS: f64 = 1e-12;

impl Ladder {
    pub fn new(levels: Vec<(f64, f64)>) -> Result<Ladder, PolicyError> {
        if levels.is_empty() {
            return Err(PolicyError::EmptyLadder);
        }
        let mut sum = 0.0;
        for (k, &(m, f)) in levels.iter().enumerate() {
            if !m.is_finite() || m <= 1.0 {
                return Err(PolicyError::LadderMultiple(m));
            }
            if k > 0 && m <= levels[k - 1].0 {
                return Err(PolicyError::LadderOrder(m, levels[k - 1].0));
            }
            if !f.is_finite() || f <= 0.0 || f > 1.0 {
                return Err(PolicyError::LadderFraction(f));
            }
            sum += f;
        }
        if sum > 1.0 + LADDER_COMPLETE_EPS {
            return Err(PolicyError::LadderSum(sum));
        }
        let complete = (sum - 1.0).abs() <= LADDER_COMPLETE_EPS;
        Ok(Ladder { levels, complete })
    }

    /// A single take-profit of the whole position.
    fn whole(tp: f64) -> Ladder {
        Ladder {
            levels: vec![(tp, 1.0)],
            complete: true,
        }
    }

    pub fn levels(&self) -> &[(f64, f64)] {
        &self.levels
    }

    /// Whether filling every level closes the position.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Canonical text: `2:0.5/3:0.3/4:0.2`.
    pub fn label(&self) -> String {
        self.levels
            .iter()
            .map(|&(m, f)| format!("{}:{}", fmt_num(m), fmt_num(f)))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The raw parameters of one policy, as a user or a grid gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyParams {
    pub tp: Option<f64>,
    pub sl: Option<f64>,
    pub trail: Option<f64>,
    /// `None` means 1: the trailing stop is active from the entry.
    pub trail_activation: Option<f64>,
    pub be_trigger: Option<f64>,
    pub ladder: Option<Ladder>,
    pub max_hold_hours: f64,
    pub indicator: Option<Rule>,
}

impl Default for PolicyParams {
    fn default() -> Self {
        PolicyParams {
            tp: None,
            sl: None,
            trail: None,
            trail_activation: None,
            be_trigger: None,
            ladder: None,
            max_hold_hours: 48.0,
            indicator: None,
        }
    }
}

/// A validated policy. The take-profit, single or laddered, is held as one ladder.
#[derive(Debug, Clone)]
pub struct Policy {
    params: PolicyParams,
    targets: Option<Ladder>,
    max_hold_ms: i64,
    /// `[(tp, 1)]` for a single take-profit: its level held inline, read without a pointer.
    whole_tp: [(f64, f64); 1],
    /// For a grid's policy, the index of its grid point with the first time stop: policies of
    /// one family differ in the time stop alone (families compare within one grid). `None`
    /// outside a grid.
    family: Option<usize>,
    /// The stops' parameters as plain numbers for the simulator, 0 where absent: an absent
    /// `Option<f64>` leaves its payload undefined, and arithmetic on whatever bits it holds
    /// (a subnormal is slow) must not happen even where the result is discarded.
    stops: Stops,
}

/// See [`Policy::stops`]; `trail_activation` is 1 where absent, as SPEC §3.3 reads it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stops {
    pub(crate) sl: f64,
    pub(crate) be_trigger: f64,
    pub(crate) trail: f64,
    pub(crate) trail_activation: f64,
}

/// Policies are equal when their parameters are (the family is bookkeeping).
impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.params == other.params
            && self.targets == other.targets
            && self.max_hold_ms == other.max_hold_ms
    }
}

/// The longest time stop, and horizon, in hours (about 14 months; a published dataset's
/// manifest may not say more). It keeps every deadline, a candle's milliseconds plus the hold,
/// far inside `i64`: a longer one (1e15 hours) overflowed.
pub const MAX_HOLD_HOURS: f64 = 10_000.0;

/// Converts hours to whole milliseconds (rounded to the nearest millisecond).
pub fn hours_to_ms(hours: f64) -> i64 {
    (hours * 3_600_000.0).round() as i64
}

impl Policy {
    pub fn new(params: PolicyParams) -> Result<Policy, PolicyError> {
        if let Some(tp) = params.tp {
            if !tp.is_finite() || tp <= 1.0 {
                return Err(PolicyError::Tp(tp));
            }
        }
        if let Some(sl) = params.sl {
            if !(sl > 0.0 && sl < 1.0) {
                return Err(PolicyError::Sl(sl));
            }
        }
        if let Some(t) = params.trail {
            if !(t > 0.0 && t < 1.0) {
                return Err(PolicyError::Trail(t));
            }
        }
        if let Some(a) = params.trail_activation {
            if !a.is_finite() || a < 1.0 {
                return Err(PolicyError::TrailActivation(a));
            }
        }
        if let Some(b) = params.be_trigger {
            if !b.is_finite() || b <= 1.0 {
                return Err(PolicyError::BeTrigger(b));
            }
        }
        let h = params.max_hold_hours;
        if !h.is_finite() || h <= 0.0 || h > MAX_HOLD_HOURS || hours_to_ms(h) <= 0 {
            return Err(PolicyError::MaxHold(h));
        }
        let targets = match (params.tp, &params.ladder) {
            (Some(_), Some(_)) => return Err(PolicyError::TpAndLadder),
            (Some(tp), None) => Some(Ladder::whole(tp)),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        };
        let stops = Stops {
            sl: params.sl.unwrap_or(0.0),
            be_trigger: params.be_trigger.unwrap_or(0.0),
            trail: params.trail.unwrap_or(0.0),
            trail_activation: params.trail_activation.unwrap_or(1.0),
        };
        Ok(Policy {
            max_hold_ms: hours_to_ms(h),
            whole_tp: [(params.tp.unwrap_or(0.0), 1.0)],
            params,
            targets,
            family: None,
            stops,
        })
    }

    pub fn params(&self) -> &PolicyParams {
        &self.params
    }

    /// The take-profit levels and whether filling them all closes the position: the levels
    /// of [`Policy::targets`] (the single `tp` read from inline storage).
    #[inline]
    pub fn levels(&self) -> (&[(f64, f64)], bool) {
        match (&self.params.tp, &self.targets) {
            (Some(_), _) => (&self.whole_tp, true),
            (None, Some(l)) => (l.levels(), l.is_complete()),
            (None, None) => (&[], false),
        }
    }

    /// The stops' parameters as plain numbers, 0 where absent (trail activation: 1).
    #[inline]
    pub(crate) fn stops(&self) -> Stops {
        self.stops
    }

    /// Marks the policy as a member of a family (see the field); [`crate::grid::Grid`] sets it.
    pub(crate) fn in_family(mut self, family: usize) -> Policy {
        self.family = Some(family);
        self
    }

    /// The policy's family, when a grid gave it one (see the field).
    pub(crate) fn family(&self) -> Option<usize> {
        self.family
    }

    /// Whether two policies differ in the time stop alone (their families answer when both
    /// have one; otherwise the parameters are compared).
    #[inline]
    pub fn same_but_hold(&self, other: &Policy) -> bool {
        match (self.family, other.family) {
            (Some(a), Some(b)) => a == b,
            _ => {
                let (a, b) = (&self.params, &other.params);
                a.trail == b.trail
                    && a.sl == b.sl
                    && a.tp == b.tp
                    && a.trail_activation == b.trail_activation
                    && a.be_trigger == b.be_trigger
                    && a.ladder == b.ladder
                    && a.indicator == b.indicator
            }
        }
    }

    /// Take-profit levels: a `tp` is a one-level complete ladder.
    pub fn targets(&self) -> Option<&Ladder> {
        self.targets.as_ref()
    }

    pub fn max_hold_ms(&self) -> i64 {
        self.max_hold_ms
    }

    /// The stop in force at entry as a multiple of P0 (SPEC §4, §12): the highest of `sl` and
    /// `1 − trail` when the trailing stop is active from the entry. `None` without one.
    pub fn entry_stop(&self) -> Option<f64> {
        // From the plain numbers (see `Policy::stops`), like the simulator.
        let p = self.stops;
        let trail = (p.trail > 0.0 && p.trail_activation <= 1.0).then_some(1.0 - p.trail);
        let sl = (p.sl > 0.0).then_some(p.sl);
        match (sl, trail) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Which price of the entry candle the position is bought at (SPEC §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPrice {
    /// The open of the entry candle; exits are checked from the entry candle on.
    Open,
    /// The close of the entry candle; exits are checked from the next candle on.
    Close,
}

/// Which event wins in a candle that touches both the stop and a take-profit level (SPEC §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intrabar {
    SlFirst,
    TpFirst,
}

/// How fees and slippage are charged (SPEC §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostModel {
    /// Fees and slippage on every fill price.
    Fills,
    /// The original quantbot: fills at level prices, a flat round-trip charge on the PnL.
    V1,
}

/// An execution option no run may hold; the variant names the [`ExecParams`] field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExecError {
    #[error("interval must be a positive number of seconds, got {0}")]
    Interval(i64),
    #[error("fee_bps must be finite and at least 0, got {0}")]
    Fee(f64),
    #[error("slippage_bps must be finite and in [0, 10000), got {0}")]
    Slippage(f64),
    #[error(transparent)]
    BeOffset(PolicyError),
}

/// The raw execution options of a run, as a user gives them; [`ExecConfig::new`] validates them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecParams {
    /// The candle interval in seconds.
    pub interval_s: i64,
    pub entry_price: EntryPrice,
    pub intrabar: Intrabar,
    pub cost_model: CostModel,
    /// The taker fee per fill, in basis points.
    pub fee_bps: f64,
    /// The slippage per fill, in basis points.
    pub slippage_bps: f64,
    /// The break-even stop's offset above P0, as a fraction of P0.
    pub be_offset: f64,
}

/// The v1 defaults: 1-minute candles (the CLI's `--interval 1m`), open entry, stop first, fills
/// model, 30 + 10 bps, no offset.
impl Default for ExecParams {
    fn default() -> Self {
        ExecParams {
            interval_s: 60,
            entry_price: EntryPrice::Open,
            intrabar: Intrabar::SlFirst,
            cost_model: CostModel::Fills,
            fee_bps: 30.0,
            slippage_bps: 10.0,
            be_offset: 0.0,
        }
    }
}

/// Options that hold for every trade of a run: validated [`ExecParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecConfig {
    params: ExecParams,
}

impl ExecConfig {
    pub fn new(params: ExecParams) -> Result<ExecConfig, ExecError> {
        let ExecParams {
            interval_s,
            fee_bps,
            slippage_bps,
            be_offset,
            ..
        } = params;
        if interval_s <= 0 {
            return Err(ExecError::Interval(interval_s));
        }
        if !fee_bps.is_finite() || fee_bps < 0.0 {
            return Err(ExecError::Fee(fee_bps));
        }
        if !slippage_bps.is_finite() || !(0.0..10_000.0).contains(&slippage_bps) {
            return Err(ExecError::Slippage(slippage_bps));
        }
        if !be_offset.is_finite() || be_offset < 0.0 {
            return Err(ExecError::BeOffset(PolicyError::BeOffset(be_offset)));
        }
        Ok(ExecConfig { params })
    }

    /// The v1 defaults (see [`ExecParams`]'s `Default`) at this interval.
    pub fn defaults(interval_s: i64) -> Result<ExecConfig, ExecError> {
        ExecConfig::new(ExecParams {
            interval_s,
            ..ExecParams::default()
        })
    }

    pub fn params(&self) -> &ExecParams {
        &self.params
    }
    pub fn interval_s(&self) -> i64 {
        self.params.interval_s
    }
    pub fn entry_price(&self) -> EntryPrice {
        self.params.entry_price
    }
    pub fn intrabar(&self) -> Intrabar {
        self.params.intrabar
    }
    pub fn cost_model(&self) -> CostModel {
        self.params.cost_model
    }
    pub fn fee_bps(&self) -> f64 {
        self.params.fee_bps
    }
    pub fn slippage_bps(&self) -> f64 {
        self.params.slippage_bps
    }
    pub fn be_offset(&self) -> f64 {
        self.params.be_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: impl FnOnce(&mut PolicyParams)) -> PolicyParams {
        let mut p = PolicyParams::default();
        f(&mut p);
        p
    }

    #[test]
    fn impossible_values_are_refused() {
        let cases: Vec<(PolicyParams, PolicyError)> = vec![
            (params(|p| p.tp = Some(1.0)), PolicyError::Tp(1.0)),
            (params(|p| p.sl = Some(1.0)), PolicyError::Sl(1.0)),
            (params(|p| p.sl = Some(0.0)), PolicyError::Sl(0.0)),
            (params(|p| p.trail = Some(1.0)), PolicyError::Trail(1.0)),
            (
                params(|p| p.trail_activation = Some(0.5)),
                PolicyError::TrailActivation(0.5),
            ),
            (
                params(|p| p.be_trigger = Some(1.0)),
                PolicyError::BeTrigger(1.0),
            ),
            (
                params(|p| p.max_hold_hours = 0.0),
                PolicyError::MaxHold(0.0),
            ),
            // Beyond MAX_HOLD_HOURS its deadline in milliseconds would not fit an i64.
            (
                params(|p| p.max_hold_hours = 1e15),
                PolicyError::MaxHold(1e15),
            ),
            (
                params(|p| {
                    p.tp = Some(2.0);
                    p.ladder = Some(Ladder::new(vec![(2.0, 0.5)]).unwrap());
                }),
                PolicyError::TpAndLadder,
            ),
        ];
        for (p, want) in cases {
            assert_eq!(Policy::new(p), Err(want));
        }
        assert_eq!(Ladder::new(vec![]), Err(PolicyError::EmptyLadder));
        assert_eq!(
            Ladder::new(vec![(3.0, 0.5), (2.0, 0.5)]),
            Err(PolicyError::LadderOrder(2.0, 3.0))
        );
        assert_eq!(
            Ladder::new(vec![(2.0, 1.5)]),
            Err(PolicyError::LadderFraction(1.5))
        );
        assert_eq!(
            Ladder::new(vec![(2.0, 0.6), (3.0, 0.6)]),
            Err(PolicyError::LadderSum(1.2))
        );
    }

    /// The defaults with `f` applied give `expected`.
    fn check_exec(f: impl FnOnce(&mut ExecParams), expected: Result<(), ExecError>) {
        let mut p = ExecParams::default();
        f(&mut p);
        assert_eq!(
            ExecConfig::new(p).map(|c| *c.params()),
            expected.map(|()| p)
        );
    }

    #[test]
    fn impossible_execution_options_are_refused_by_field() {
        check_exec(|_| {}, Ok(()));
        check_exec(|p| p.fee_bps = 0.0, Ok(()));
        check_exec(|p| p.slippage_bps = 0.0, Ok(()));
        check_exec(|p| p.interval_s = 0, Err(ExecError::Interval(0)));
        check_exec(|p| p.fee_bps = -1.0, Err(ExecError::Fee(-1.0)));
        check_exec(
            |p| p.fee_bps = f64::INFINITY,
            Err(ExecError::Fee(f64::INFINITY)),
        );
        check_exec(
            |p| p.slippage_bps = 10_000.0,
            Err(ExecError::Slippage(10_000.0)),
        );
        check_exec(
            |p| p.be_offset = -0.5,
            Err(ExecError::BeOffset(PolicyError::BeOffset(-0.5))),
        );
        assert_eq!(
            ExecConfig::defaults(300).unwrap().params(),
            &ExecParams {
                interval_s: 300,
                ..ExecParams::default()
            }
        );
    }

    #[test]
    fn ladder_completeness_and_label() {
        let l = Ladder::new(vec![(2.0, 0.5), (3.0, 0.3), (4.0, 0.2)]).unwrap();
        assert!(l.is_complete());
        assert_eq!(l.label(), "2:0.5/3:0.3/4:0.2");
        let tenths = Ladder::new((2..12).map(|m| (m as f64, 0.1)).collect()).unwrap();
        assert!(tenths.is_complete(), "0.1 × 10 sums to 0.9999999999999999");
        assert!(!Ladder::new(vec![(2.0, 0.5)]).unwrap().is_complete());
    }

    #[test]
    fn entry_stop_is_the_highest_active_stop() {
        let p = |sl, trail, act| {
            Policy::new(params(|p| {
                p.sl = sl;
                p.trail = trail;
                p.trail_activation = act;
            }))
            .unwrap()
            .entry_stop()
        };
        assert_eq!(p(Some(0.9), None, None), Some(0.9));
        assert_eq!(p(Some(0.8), Some(0.1), None), Some(0.9));
        assert_eq!(p(Some(0.8), Some(0.1), Some(1.5)), Some(0.8));
        assert_eq!(p(None, Some(0.25), Some(1.0)), Some(0.75));
        assert_eq!(p(None, None, None), None);
    }
}
