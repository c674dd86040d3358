//! The order of events inside one candle (SPEC §3.2, then §3.7, then the time limit), shared by
//! both algorithms: [`Ctx::step`] is the only place a fill or an exit is decided. The reference
//! simulator calls it on every candle; the fast evaluator on the candles where something can
//! happen.

use super::{v1_pnl, Entry};
use crate::policy::{CostModel, ExecConfig, Intrabar, Policy};
use crate::store::{Bars, Prices};
use crate::trade::{ExitReason, Trade};

/// Position of the last candle that opens before `tmax` (`tmax > ts[0] × 1000`, so the entry
/// candle always qualifies). Candles are at least one interval apart, so on a window without
/// gaps the position follows from the times alone; that guess is checked against the candles and
/// a binary search answers otherwise, so the result never depends on the data being gap-free.
#[inline]
pub(super) fn last_traded<B: Bars + ?Sized>(candles: &B, tmax: i64, interval_ms: i64) -> usize {
    let n = candles.len();
    let before = |i: usize| candles.ts(i) * 1000 < tmax;
    if interval_ms > 0 {
        let guess = ((tmax - candles.ts(0) * 1000 - 1) / interval_ms).min(n as i64 - 1);
        if guess >= 0 {
            let g = guess as usize;
            if before(g) && (g + 1 == n || !before(g + 1)) {
                return g;
            }
        }
    }
    // The first position not before `tmax` (position 0 always is before it).
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo - 1
}

/// Constants of one (call, policy) pair.
pub(super) struct Ctx<'a, B: Bars + ?Sized> {
    pub(super) candles: &'a B,
    /// The call's constants under the run's options.
    pub(super) k: &'a Costs,
    pub(super) entry: Entry,
    /// Position of the last traded candle (the last that opens before `tmax`).
    pub(super) last: usize,
    pub(super) tmax: i64,
    pub(super) sl_px: Option<f64>,
    pub(super) be_arm_px: Option<f64>,
    pub(super) trail_factor: Option<f64>,
    pub(super) trail_act_px: f64,
    pub(super) levels: &'a [(f64, f64)],
    pub(super) ladder_complete: bool,
}

/// The constants of one call under the run's options, the same for every policy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Costs {
    pub(super) interval_ms: i64,
    /// Tokens bought per USD of size: `1 × (1 − f) / (P0 × (1 + s))`.
    pub(super) tokens: f64,
    pub(super) sell_factor: f64,
    pub(super) fee_factor: f64,
    pub(super) cost_model: CostModel,
    pub(super) fee_bps: f64,
    pub(super) slippage_bps: f64,
    pub(super) intrabar: Intrabar,
    pub(super) be_px: f64,
}

impl Costs {
    pub(super) fn new(entry: Entry, cfg: &ExecConfig) -> Costs {
        let p0 = entry.p0;
        let f = cfg.fee_bps() / 10000.0;
        let s = cfg.slippage_bps() / 10000.0;
        Costs {
            interval_ms: cfg.interval_s() * 1000,
            tokens: 1.0 * (1.0 - f) / (p0 * (1.0 + s)),
            sell_factor: 1.0 - s,
            fee_factor: 1.0 - f,
            cost_model: cfg.cost_model(),
            fee_bps: cfg.fee_bps(),
            slippage_bps: cfg.slippage_bps(),
            intrabar: cfg.intrabar(),
            be_px: p0 * (1.0 + cfg.be_offset()),
        }
    }
}

/// What a fill records besides the trade's sums: nothing for the search (`()`, compiled away),
/// every fill for a trade's path (`path.rs`).
pub(super) trait Record {
    /// A fill of `frac` of the position at `px` at `ts_ms`: a take-profit level (`level`) or
    /// the remainder's exit (`level` is `None`) for `reason`.
    fn fill(&mut self, frac: f64, px: f64, ts_ms: i64, reason: ExitReason, level: Option<usize>);
}

impl Record for () {
    #[inline(always)]
    fn fill(&mut self, _: f64, _: f64, _: i64, _: ExitReason, _: Option<usize>) {}
}

/// The mutable state of a trade while candles are processed; `rec` hears every fill.
pub(super) struct State<R: Record = ()> {
    /// Highest high of the processed candles, starting at P0.
    pub(super) peak: f64,
    pub(super) remaining: f64,
    pub(super) next_level: usize,
    pub(super) gross_sum: f64,
    pub(super) net_sum: f64,
    pub(super) fills: u32,
    pub(super) ambiguous: bool,
    pub(super) exit_ts_ms: i64,
    pub(super) reason: ExitReason,
    pub(super) rec: R,
}

/// The stops of a trade at one moment, each when it is active (SPEC §3.3): the stop-loss, the
/// break-even once armed, the trailing stop once activated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stops {
    pub stop_loss: Option<f64>,
    pub break_even: Option<f64>,
    pub trailing: Option<f64>,
}

impl<'a, B: Bars + ?Sized> Ctx<'a, B> {
    #[inline]
    pub(super) fn new(
        candles: &'a B,
        entry: Entry,
        k: &'a Costs,
        policy: &'a Policy,
    ) -> Ctx<'a, B> {
        let tmax = candles.ts(0) * 1000 + policy.max_hold_ms();
        let last = last_traded(candles, tmax, k.interval_ms);
        Ctx::with_last(candles, entry, k, policy, last, tmax)
    }

    /// [`Ctx::new`] with the run's constants and the last traded position already known.
    pub(super) fn with_last(
        candles: &'a B,
        entry: Entry,
        k: &'a Costs,
        policy: &'a Policy,
        last: usize,
        tmax: i64,
    ) -> Ctx<'a, B> {
        // Plain numbers, 0 where absent (see `Policy::stops`): every product is of defined
        // numbers, never of an absent option's undefined payload.
        let p = policy.stops();
        let p0 = entry.p0;
        let (levels, ladder_complete) = policy.levels();
        Ctx {
            candles,
            k,
            entry,
            last,
            tmax,
            sl_px: (p.sl > 0.0).then_some(p0 * p.sl),
            be_arm_px: (p.be_trigger > 0.0).then_some(p0 * p.be_trigger),
            trail_factor: (p.trail > 0.0).then_some(1.0 - p.trail),
            trail_act_px: p0 * p.trail_activation,
            levels,
            ladder_complete,
        }
    }

    pub(super) fn state(&self) -> State {
        self.state_with(())
    }

    /// [`Ctx::state`] with a recorder of fills.
    pub(super) fn state_with<R: Record>(&self, rec: R) -> State<R> {
        State {
            peak: self.entry.p0,
            remaining: 1.0,
            next_level: 0,
            gross_sum: 0.0,
            net_sum: 0.0,
            fills: 0,
            ambiguous: false,
            exit_ts_ms: 0,
            reason: ExitReason::EndOfData,
            rec,
        }
    }

    pub(super) fn level_px(&self, k: usize) -> f64 {
        self.entry.p0 * self.levels[k].0
    }

    /// The active stops before a candle whose previous candles reached `peak`.
    #[inline(always)]
    pub(super) fn stops(&self, peak: f64) -> Stops {
        Stops {
            stop_loss: self.sl_px,
            break_even: self
                .be_arm_px
                .filter(|&arm| peak >= arm)
                .map(|_| self.k.be_px),
            trailing: self
                .trail_factor
                .filter(|_| peak >= self.trail_act_px)
                .map(|tf| peak * tf),
        }
    }

    /// The stop level in force (the highest active stop) and the reason it names. On equal
    /// levels the preference is stop_loss, break_even, trailing_stop (SPEC §3.3).
    #[inline(always)]
    pub(super) fn stop<R: Record>(&self, st: &State<R>) -> Option<(f64, ExitReason)> {
        let s = self.stops(st.peak);
        let mut best: Option<(f64, ExitReason)> = None;
        let mut consider = |px: f64, why: ExitReason| {
            if best.is_none_or(|(b, _)| px > b) {
                best = Some((px, why));
            }
        };
        if let Some(px) = s.stop_loss {
            consider(px, ExitReason::StopLoss);
        }
        if let Some(px) = s.break_even {
            consider(px, ExitReason::BreakEven);
        }
        if let Some(px) = s.trailing {
            consider(px, ExitReason::TrailingStop);
        }
        best
    }

    #[allow(clippy::too_many_arguments)]
    fn fill<R: Record>(
        &self,
        st: &mut State<R>,
        frac: f64,
        px: f64,
        ts_ms: i64,
        why: ExitReason,
        level: Option<usize>,
    ) {
        st.gross_sum += frac * px;
        st.net_sum += self.k.tokens * frac * px * self.k.sell_factor * self.k.fee_factor;
        st.fills += 1;
        st.exit_ts_ms = ts_ms;
        st.rec.fill(frac, px, ts_ms, why, level);
    }

    /// Fills every pending level at or below `bound` at `px` (the open for a gap, else the
    /// level's own price when `px` is `None`).
    fn fill_levels<R: Record>(&self, st: &mut State<R>, bound: f64, px: Option<f64>, ts_ms: i64) {
        while st.next_level < self.levels.len() {
            let level = self.level_px(st.next_level);
            if level > bound {
                break;
            }
            let frac = self.levels[st.next_level].1;
            let at = st.next_level;
            self.fill(
                st,
                frac,
                px.unwrap_or(level),
                ts_ms,
                ExitReason::TakeProfit,
                Some(at),
            );
            st.remaining -= frac;
            st.next_level += 1;
        }
    }

    /// Whether the take-profit levels have closed the whole position.
    fn closed<R: Record>(&self, st: &State<R>) -> bool {
        self.ladder_complete && st.next_level == self.levels.len()
    }

    fn exit_remainder<R: Record>(&self, st: &mut State<R>, px: f64, ts_ms: i64, why: ExitReason) {
        let frac = st.remaining;
        self.fill(st, frac, px, ts_ms, why, None);
        st.remaining = 0.0;
        st.reason = why;
    }

    /// Processes candle `i` (SPEC §3.2, then §3.7, then the time limit). Returns true when the
    /// trade is over after this candle.
    pub(super) fn step<R: Record>(&self, st: &mut State<R>, i: usize, fires: bool) -> bool {
        self.step_with(st, i, self.candles.prices(i), fires)
    }

    /// [`Ctx::step`] with candle `i`'s prices already read.
    #[inline(always)]
    pub(super) fn step_with<R: Record>(
        &self,
        st: &mut State<R>,
        i: usize,
        c: Prices,
        fires: bool,
    ) -> bool {
        let open_ms = c.ts * 1000;
        let close_ms = open_ms + self.k.interval_ms;
        let stop = self.stop(st);
        let done = 'events: {
            // 1. Gap at the open through the stop: pending levels at or below the open fill
            //    first (at the open), then the remainder exits at the open.
            if let Some((s, why)) = stop {
                if c.open <= s {
                    self.fill_levels(st, c.open, Some(c.open), open_ms);
                    if self.closed(st) {
                        st.reason = ExitReason::TakeProfit;
                    } else {
                        self.exit_remainder(st, c.open, open_ms, why);
                    }
                    break 'events true;
                }
            }
            // Gap at the open over pending levels: they fill at the open.
            self.fill_levels(st, c.open, Some(c.open), open_ms);
            if self.closed(st) {
                st.reason = ExitReason::TakeProfit;
                break 'events true;
            }
            // 2. Inside the candle.
            let stop_hit = stop.filter(|&(s, _)| c.low <= s);
            let level_hit =
                st.next_level < self.levels.len() && c.high >= self.level_px(st.next_level);
            match (stop_hit, level_hit) {
                (Some((s, why)), true) => {
                    st.ambiguous = true;
                    if self.k.intrabar == Intrabar::TpFirst {
                        self.fill_levels(st, c.high, None, close_ms);
                        if self.closed(st) {
                            st.reason = ExitReason::TakeProfit;
                            break 'events true;
                        }
                    }
                    self.exit_remainder(st, s, close_ms, why);
                    true
                }
                (Some((s, why)), false) => {
                    self.exit_remainder(st, s, close_ms, why);
                    true
                }
                (None, true) => {
                    self.fill_levels(st, c.high, None, close_ms);
                    if self.closed(st) {
                        st.reason = ExitReason::TakeProfit;
                        true
                    } else {
                        false
                    }
                }
                (None, false) => false,
            }
        };
        // A candle's high takes effect from the next candle; it also counts for peak_multiple.
        st.peak = st.peak.max(c.high);
        if done {
            return true;
        }
        // 3.7 The indicator exits the remainder at the close of the candle where it fires.
        if fires {
            self.exit_remainder(st, c.close, close_ms, ExitReason::IndicatorExit);
            return true;
        }
        // 3. Time: the remainder exits at the close of the last traded candle.
        if i == self.last {
            let why = if close_ms == self.tmax {
                ExitReason::TimeExit
            } else {
                ExitReason::EndOfData
            };
            self.exit_remainder(st, c.close, close_ms, why);
            return true;
        }
        false
    }

    pub(super) fn finish<R: Record>(&self, st: &State<R>, exit_pos: usize, low_min: f64) -> Trade {
        let p0 = self.entry.p0;
        self.finish_with(st, exit_pos, st.peak / p0, low_min / p0 - 1.0)
    }

    /// [`Ctx::finish`] with `peak_multiple` and `mae` already computed (they depend on the exit
    /// candle only, so the fast evaluator remembers them).
    pub(super) fn finish_with<R: Record>(
        &self,
        st: &State<R>,
        exit_pos: usize,
        peak_multiple: f64,
        mae: f64,
    ) -> Trade {
        let p0 = self.entry.p0;
        let gross_multiple = st.gross_sum / p0;
        let net_multiple = match self.k.cost_model {
            CostModel::Fills => st.net_sum / 1.0,
            CostModel::V1 => {
                1.0 + v1_pnl(1.0, gross_multiple, self.k.fee_bps, self.k.slippage_bps) / 1.0
            }
        };
        Trade {
            entry_ts_ms: self.entry.entry_ts_ms,
            entry_px: p0,
            exit_ts_ms: st.exit_ts_ms,
            exit_reason: st.reason,
            gross_multiple,
            net_multiple,
            peak_multiple,
            mae,
            ambiguous: st.ambiguous,
            fills: st.fills,
            candles_held: exit_pos as u32,
        }
    }

    /// With a close entry and no later candle before the deadline, the last traded candle is
    /// the entry candle itself: the position exits at its close (= P0) with nothing checked.
    #[inline]
    pub(super) fn exit_without_checked_candle(&self) -> Option<Trade> {
        if self.last >= self.entry.first_checked {
            return None;
        }
        let mut st = self.state();
        let c = self.candles.prices(self.last);
        let close_ms = (c.ts * 1000) + self.k.interval_ms;
        let why = if close_ms == self.tmax {
            ExitReason::TimeExit
        } else {
            ExitReason::EndOfData
        };
        self.exit_remainder(&mut st, c.close, close_ms, why);
        Some(self.finish(&st, self.last, self.entry.p0))
    }
}
