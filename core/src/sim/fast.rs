//! The fast evaluator (SPEC §3.6): a sparse index of each call's candles ([`CallPrep`]),
//! built once, answers every grid point by jumping to the candles where something can happen,
//! with the same trade as the reference simulator, bit for bit.

use super::memo::{At, Memo};
use super::step::{last_traded, Costs, Ctx};
use super::{entry, Entry};
use crate::indicator::Rule;
use crate::policy::{ExecConfig, Policy};
use crate::store::{Bars, Window};
use crate::trade::{NoEntry, Trade};

/// Candles per block of the block-minimum index used by the general walk (ladders).
const BLOCK: usize = 32;

/// "Never": the position of an event that does not happen.
const NEVER: usize = usize::MAX;

/// Everything the fast evaluator needs about one call, computed once for all grid points.
///
/// The index is sparse (a few bytes per candle): the record highs, the running minima of the
/// lows, and the segments of constant peak with the running minima inside each. The stop of a
/// candle depends only on the peak before it, so it is constant on a segment, and the first
/// candle of a segment whose low reaches a level is one of the segment's running-minimum
/// points: each first-passage question is a binary search or a short walk over segments.
#[derive(Debug, Clone)]
pub struct CallPrep<'a> {
    /// The compact window: only event candles are read from it while evaluating.
    candles: Window<'a>,
    /// The entry candle's open time (ms), where every deadline starts.
    t0_ms: i64,
    entry: Entry,
    /// Positions (≥ first checked) whose high exceeds every earlier high and P0, with those
    /// highs: the only candles where the peak moves and where a take-profit level can first be
    /// touched (pending levels always sit above the peak).
    rec_pos: Vec<u32>,
    rec_high: Vec<f64>,
    /// Positions (≥ first checked) whose low is at or below every earlier low and P0, with
    /// those lows (non-increasing): the first candle whose low reaches a level at or below P0
    /// is one of them, and the running minimum at any position is the last one before it.
    min_pos: Vec<u32>,
    min_low: Vec<f64>,
    /// Minimum low of each segment. Segment 0 is `[first checked, rec_pos[0]]`, segment `s ≥ 1`
    /// is `(rec_pos[s − 1], rec_pos[s]]`, the last one runs to the window's end (it may be
    /// empty); the peak before every candle of segment `s` is P0 for `s = 0`, else
    /// `rec_high[s − 1]`.
    seg_min: Vec<f64>,
    /// `seg_pts[s]..seg_pts[s + 1]` are segment `s`'s running-minimum points in `pt_pos` and
    /// `pt_low` (positions whose low is at or below every earlier low of the segment).
    seg_pts: Vec<u32>,
    pt_pos: Vec<u32>,
    pt_low: Vec<f64>,
    /// Minimum low of each block of `BLOCK` candles (the general walk's first-passage index).
    /// Built on first use: only the general walk (ladders with partial exits) reads it.
    block_min: std::sync::OnceLock<Vec<f64>>,
    /// Firing positions per indicator rule of the grid.
    fires: Vec<(Rule, Vec<u32>)>,
}

/// Whether `candles` can answer `rules`: a rule that reads volumes needs candles that hold them.
fn volumes_suffice(candles: &Window<'_>, rules: &[Rule]) -> bool {
    candles.series().holds_volume() || !rules.iter().any(Rule::reads_volume)
}

/// The running state of the one in-order pass that builds a call's index.
struct IndexPass {
    first: usize,
    /// Highest high so far, starting at P0: the peak before the current candle.
    peak: f64,
    /// Lowest low so far, starting at P0.
    lo: f64,
    /// Lowest low of the current segment.
    seg_lo: f64,
}

impl IndexPass {
    /// Adds candle `i` (its high and low) to the index.
    #[inline(always)]
    fn visit(&mut self, prep: &mut CallPrep<'_>, i: usize, high: f64, low: f64) {
        if i < self.first {
            return;
        }
        // Candle i belongs to the current segment: the peak before it is `peak`.
        if low <= self.seg_lo {
            self.seg_lo = low;
            prep.pt_pos.push(i as u32);
            prep.pt_low.push(low);
        }
        if low <= self.lo {
            self.lo = low;
            prep.min_pos.push(i as u32);
            prep.min_low.push(low);
        }
        if high > self.peak {
            // A new record ends the segment; the next candle sees the new peak.
            self.peak = high;
            prep.rec_pos.push(i as u32);
            prep.rec_high.push(high);
            prep.seg_min.push(self.seg_lo);
            prep.seg_pts.push(prep.pt_pos.len() as u32);
            self.seg_lo = f64::INFINITY;
        }
    }
}

impl<'a> CallPrep<'a> {
    /// Precomputes a call's window for the given run options and indicator rules.
    ///
    /// # Panics
    /// When a rule reads volumes and the series let them go: whoever drops volumes checks the
    /// grid first ([`crate::grid::Grid::reads_volume`]).
    pub fn new(candles: Window<'a>, cfg: &ExecConfig, rules: &[Rule]) -> Result<Self, NoEntry> {
        assert!(
            volumes_suffice(&candles, rules),
            "a rule on volume needs candles that hold their volumes"
        );
        let entry = entry(&candles, cfg)?;
        // The rules read whole candles: decoded once here (the index pass below reads the same
        // copy), then dropped. Without rules the index pass decodes prices as it goes.
        let decoded = if rules.is_empty() {
            Vec::new()
        } else {
            candles.to_vec()
        };
        let fires = rules
            .iter()
            .map(|r| (*r, r.fire_positions(&decoded)))
            .collect();
        // Room for the index's lists before they grow (most calls need fewer points).
        const GUESS: usize = 256;
        let mut prep = CallPrep {
            candles,
            t0_ms: candles.ts(0) * 1000,
            entry,
            rec_pos: Vec::with_capacity(GUESS),
            rec_high: Vec::with_capacity(GUESS),
            min_pos: Vec::with_capacity(GUESS),
            min_low: Vec::with_capacity(GUESS),
            seg_min: Vec::with_capacity(GUESS),
            seg_pts: Vec::with_capacity(GUESS),
            pt_pos: Vec::with_capacity(GUESS),
            pt_low: Vec::with_capacity(GUESS),
            block_min: std::sync::OnceLock::new(),
            fires,
        };
        prep.seg_pts.push(0);
        let mut pass = IndexPass {
            first: entry.first_checked,
            peak: entry.p0,
            lo: entry.p0,
            seg_lo: f64::INFINITY,
        };
        if decoded.is_empty() {
            candles.for_each_prices(|i, c| pass.visit(&mut prep, i, c.high, c.low));
        } else {
            for (i, c) in decoded.iter().enumerate() {
                pass.visit(&mut prep, i, c.high, c.low);
            }
        }
        let seg_lo = pass.seg_lo;
        prep.seg_min.push(seg_lo);
        prep.seg_pts.push(prep.pt_pos.len() as u32);
        // Held for the whole search: no spare capacity (shrinking in place is cheap).
        prep.rec_pos.shrink_to_fit();
        prep.rec_high.shrink_to_fit();
        prep.min_pos.shrink_to_fit();
        prep.min_low.shrink_to_fit();
        prep.seg_min.shrink_to_fit();
        prep.seg_pts.shrink_to_fit();
        prep.pt_pos.shrink_to_fit();
        prep.pt_low.shrink_to_fit();
        Ok(prep)
    }

    pub fn entry(&self) -> Entry {
        self.entry
    }

    pub fn candles(&self) -> Window<'a> {
        self.candles
    }

    /// Bytes of the index this call holds beside its candles (the candles are borrowed).
    pub fn index_bytes(&self) -> usize {
        use std::mem::size_of;
        let fires: usize = self.fires.iter().map(|(_, f)| f.len() * 4).sum();
        size_of::<Self>()
            + (self.rec_pos.len() + self.min_pos.len() + self.seg_pts.len() + self.pt_pos.len()) * 4
            + (self.rec_high.len()
                + self.min_low.len()
                + self.seg_min.len()
                + self.pt_low.len()
                + self.block_min.get().map_or(0, Vec::len))
                * 8
            + self.fires.len() * size_of::<(Rule, Vec<u32>)>()
            + fires
    }

    /// The segment of position `j` (≥ first checked): the number of records before it.
    fn segment_of(&self, j: usize) -> usize {
        self.rec_pos.partition_point(|&r| (r as usize) < j)
    }

    /// The peak before every candle of segment `s`.
    fn seg_peak(&self, s: usize) -> f64 {
        if s == 0 {
            self.entry.p0
        } else {
            self.rec_high[s - 1]
        }
    }

    fn seg_start(&self, s: usize) -> usize {
        if s == 0 {
            self.entry.first_checked
        } else {
            self.rec_pos[s - 1] as usize + 1
        }
    }

    /// The first segment whose peak is at or above `px` (`seg_min.len()` if none).
    fn first_segment_with_peak(&self, px: f64) -> usize {
        if self.entry.p0 >= px {
            0
        } else {
            1 + self.rec_high.partition_point(|&h| h < px)
        }
    }

    /// First position of segment `s` whose low is at or below `x`.
    fn seg_first_at_or_below(&self, s: usize, x: f64) -> Option<usize> {
        if self.seg_min[s] > x || self.seg_min[s].is_nan() {
            return None;
        }
        let (a, b) = (self.seg_pts[s] as usize, self.seg_pts[s + 1] as usize);
        let k = self.pt_low[a..b].partition_point(|&l| l > x);
        Some(self.pt_pos[a + k] as usize)
    }

    /// First position from segment `s` on whose low is at or below the level `level(s)` of its
    /// segment, looking no further than segments starting at or before `bound`.
    fn first_at_or_below_by_segment(
        &self,
        mut s: usize,
        bound: usize,
        level: impl Fn(usize) -> f64,
    ) -> usize {
        while s < self.seg_min.len() && self.seg_start(s) <= bound {
            if let Some(j) = self.seg_first_at_or_below(s, level(s)) {
                return j;
            }
            s += 1;
        }
        NEVER
    }

    /// The running minimum of P0 and the lows from the first checked candle through `j`.
    fn low_min_at(&self, j: usize) -> f64 {
        match self.min_pos.partition_point(|&p| (p as usize) <= j) {
            0 => self.entry.p0,
            k => self.min_low[k - 1],
        }
    }

    /// The minimum low of each block of `BLOCK` candles, built on first use.
    fn block_min(&self) -> &[f64] {
        self.block_min.get_or_init(|| {
            let mut out = Vec::with_capacity(self.candles.len().div_ceil(BLOCK));
            let mut lo = f64::INFINITY;
            self.candles.for_each_prices(|i, c| {
                lo = lo.min(c.low);
                if i % BLOCK == BLOCK - 1 || i + 1 == self.candles.len() {
                    out.push(lo);
                    lo = f64::INFINITY;
                }
            });
            out
        })
    }

    /// First position in `a..=b` whose low is at or below `s`.
    fn first_low_at_or_below(&self, a: usize, b: usize, s: f64) -> Option<usize> {
        let block_min = self.block_min();
        let mut i = a;
        while i <= b {
            if i.is_multiple_of(BLOCK) && i + BLOCK - 1 <= b && block_min[i / BLOCK] > s {
                i += BLOCK;
                continue;
            }
            if self.candles.low(i) <= s {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The fast evaluator: the same trade as [`super::simulate_reference`], bit for bit.
    ///
    /// With at most one take-profit level that closes the whole position, the trade ends at
    /// the first candle where anything can happen: the first record high reaching the level,
    /// the first touch of each stop (a binary search for the fixed stop loss, a walk over
    /// segments of constant peak for the trailing stop and break-even), the first indicator
    /// firing, or the last traded candle. Every earlier candle only moves the peak, so the
    /// shared `step` runs once, on that candle, from the state the reference would have there.
    /// Ladders with partial exits take the general walk from event to event.
    pub fn evaluate(&self, cfg: &ExecConfig, policy: &Policy) -> Trade {
        let costs = Costs::new(self.entry, cfg);
        let mut memo = Memo {
            single: true,
            ..Memo::default()
        };
        let last = self.last_for(cfg, policy, &mut memo);
        self.evaluate_memo(policy, &costs, &mut memo, last).trade
    }

    /// [`CallPrep::evaluate`] for each policy in turn, calling `out(k, trade)` for
    /// `policies[k]`. Neighbouring grid points share most parameter values, so first-passage
    /// answers are remembered from one policy to the next (keyed by the exact level prices);
    /// the trades are the same as from `evaluate`. The policies come from one grid, or from
    /// none (a grid's policies know which of them differ in the time stop alone).
    pub fn evaluate_each(
        &self,
        cfg: &ExecConfig,
        policies: &[Policy],
        mut out: impl FnMut(usize, Trade),
    ) {
        self.evaluate_each_shared(cfg, policies, |k, t, _| out(k, t));
    }

    /// [`CallPrep::evaluate_each`], telling with each trade whether it is, by construction,
    /// the trade of the policy before it in its family (the latest earlier policy of
    /// `policies` that differs from it in the time stop alone): so it is when the time stop
    /// was never looked at, as every policy of the family since the one last evaluated in full
    /// got that one's trade too.
    pub fn evaluate_each_shared(
        &self,
        cfg: &ExecConfig,
        policies: &[Policy],
        mut out: impl FnMut(usize, Trade, bool),
    ) {
        let mut memo = Memo::default();
        let costs = Costs::new(self.entry, cfg);
        // Per indicator value, the latest policy with it evaluated through its first event,
        // with that event's position. The indicator is the grid's fastest dimension, so the
        // policy one time stop earlier is the latest one with the same indicator, not the
        // latest one overall.
        let mut bases: Vec<(Option<Rule>, &Policy, Outcome)> = Vec::new();
        for (k, policy) in policies.iter().enumerate() {
            let rule = policy.params().indicator;
            let slot = bases.iter().position(|(r, _, _)| *r == rule);
            // Policies that differ only in the time stop give the same trade when the first
            // event comes before both deadlines: the deadline is then never looked at. A time
            // stop at least the base's has its last traded candle at or after the base's
            // (`last_traded` grows with the deadline), so it need not be looked up.
            let base = slot
                .map(|i| &bases[i])
                .filter(|(_, b, o)| o.event < o.last && b.same_but_hold(policy));
            if let Some((_, b, o)) = base {
                if policy.max_hold_ms() >= b.max_hold_ms() {
                    out(k, o.trade, true);
                    continue;
                }
            }
            let last = self.last_for(cfg, policy, &mut memo);
            if let Some((_, _, o)) = base {
                if o.event < last {
                    out(k, o.trade, true);
                    continue;
                }
            }
            let o = self.evaluate_memo(policy, &costs, &mut memo, last);
            out(k, o.trade, false);
            match slot {
                Some(i) => bases[i] = (rule, policy, o),
                None => bases.push((rule, policy, o)),
            }
        }
    }

    /// The last traded position under `policy`'s time stop.
    #[inline(always)]
    fn last_for(&self, cfg: &ExecConfig, policy: &Policy, memo: &mut Memo) -> usize {
        let tmax = self.t0_ms + policy.max_hold_ms();
        memo.last.get_or(tmax, || {
            last_traded(&self.candles, tmax, cfg.interval_s() * 1000)
        })
    }

    /// One policy's trade and first event; `last` is its last traded position.
    #[inline(always)]
    fn evaluate_memo(
        &self,
        policy: &Policy,
        costs: &Costs,
        memo: &mut Memo,
        last: usize,
    ) -> Outcome {
        let tmax = self.t0_ms + policy.max_hold_ms();
        let ctx = Ctx::with_last(&self.candles, self.entry, costs, policy, last, tmax);
        // Paths that do not go through a single first event report none (never reused).
        let other = |trade| Outcome {
            trade,
            event: NEVER,
            last,
        };
        if let Some(t) = ctx.exit_without_checked_candle() {
            return other(t);
        }
        let fires: &[u32] = match &policy.params().indicator {
            Some(rule) => match self.fires.iter().find(|(r, _)| r == rule) {
                Some((_, f)) => f,
                // A rule that was not precomputed: fall back to the literal loop.
                None => return other(self.reference(&ctx, policy)),
            },
            None => &[],
        };
        // The jumps rely on P0 × multiple > P0 for every level, which f64 rounding could
        // break for a multiple within an ulp of 1; such policies take the literal loop.
        if !ctx.levels.is_empty() && ctx.level_px(0) <= self.entry.p0 {
            return other(self.reference(&ctx, policy));
        }
        if ctx.levels.len() > 1 || (ctx.levels.len() == 1 && !ctx.ladder_complete) {
            return other(self.walk(&ctx, fires));
        }
        let first = self.entry.first_checked;
        let j_fire = match fires.partition_point(|&x| (x as usize) < first) {
            k if k < fires.len() => fires[k] as usize,
            _ => NEVER,
        };
        let j_tp = match ctx.levels.first() {
            None => NEVER,
            Some(_) => {
                let level = ctx.level_px(0);
                memo.tp.get_or(level.to_bits(), || {
                    match self.rec_high.partition_point(|&h| h < level) {
                        k if k < self.rec_high.len() => self.rec_pos[k] as usize,
                        _ => NEVER,
                    }
                })
            }
        };
        let j_sl = match ctx.sl_px {
            None => NEVER,
            Some(px) => memo.sl.get_or(px.to_bits(), || {
                if px <= self.entry.p0 {
                    // sl < 1, so the level is at or below P0: a running-minimum point of the
                    // lows reaches it first.
                    match self.min_low.partition_point(|&l| l > px) {
                        k if k < self.min_low.len() => self.min_pos[k] as usize,
                        _ => NEVER,
                    }
                } else {
                    self.first_at_or_below_by_segment(0, NEVER, |_| px)
                }
            }),
        };
        let mut ev = j_fire.min(j_tp).min(j_sl);
        // A remembered walk must answer for any later policy, so it runs to the first touch;
        // a single evaluation can stop at the earliest event found so far.
        let bound = |ev: usize| if memo.single { ev.min(last) } else { NEVER };
        if let Some(tf) = ctx.trail_factor {
            let key = (tf.to_bits(), ctx.trail_act_px.to_bits());
            let b = bound(ev);
            let j = memo.trail.get_or(key, || {
                let s = self.first_segment_with_peak(ctx.trail_act_px);
                self.first_at_or_below_by_segment(s, b, |s| self.seg_peak(s) * tf)
            });
            ev = ev.min(j);
        }
        if let Some(arm) = ctx.be_arm_px {
            let key = (arm.to_bits(), ctx.k.be_px.to_bits());
            let b = bound(ev);
            let j = memo.be.get_or(key, || {
                let s = self.first_segment_with_peak(arm);
                self.first_at_or_below_by_segment(s, b, |_| ctx.k.be_px)
            });
            ev = ev.min(j);
        }
        let event = ev;
        let ev = event.min(last);
        let at = memo.at.get_or(ev, || {
            let p0 = self.entry.p0;
            let peak = self.seg_peak(self.segment_of(ev));
            let prices = self.candles.prices(ev);
            At {
                prices,
                peak,
                peak_multiple: peak.max(prices.high) / p0,
                mae: self.low_min_at(ev) / p0 - 1.0,
            }
        });
        let mut st = ctx.state();
        st.peak = at.peak;
        if ctx.step_with(&mut st, ev, at.prices, j_fire == ev) {
            return Outcome {
                trade: ctx.finish_with(&st, ev, at.peak_multiple, at.mae),
                event,
                last,
            };
        }
        unreachable!("the first event candle always ends a trade without partial exits")
    }

    /// The general fast walk (ladders with partial exits): jumps from event to event. Between
    /// two records the peak, and so every stop, is constant and no pending level can be
    /// touched, so the only possible event there is the first candle whose low reaches the
    /// stop.
    fn walk(&self, ctx: &Ctx<'_, Window<'a>>, fires: &[u32]) -> Trade {
        let first = self.entry.first_checked;
        let mut st = ctx.state();
        let mut r = self.rec_pos.partition_point(|&x| (x as usize) < first);
        let mut f = fires.partition_point(|&x| (x as usize) < first);
        let mut pos = first;
        loop {
            let next_rec = self.rec_pos.get(r).map(|&x| x as usize);
            let next_fire = fires.get(f).map(|&x| x as usize);
            let ev = ctx
                .last
                .min(next_rec.unwrap_or(NEVER))
                .min(next_fire.unwrap_or(NEVER));
            if ev > pos {
                if let Some((s, _)) = ctx.stop(&st) {
                    if let Some(j) = self.first_low_at_or_below(pos, ev - 1, s) {
                        let done = ctx.step(&mut st, j, false);
                        debug_assert!(done, "a touched stop always ends the trade");
                        return ctx.finish(&st, j, self.low_min_at(j));
                    }
                }
            }
            let fires_here = next_fire == Some(ev);
            if ctx.step(&mut st, ev, fires_here) {
                return ctx.finish(&st, ev, self.low_min_at(ev));
            }
            if next_rec == Some(ev) {
                r += 1;
            }
            if fires_here {
                f += 1;
            }
            pos = ev + 1;
        }
    }

    fn reference(&self, ctx: &Ctx<'_, Window<'a>>, policy: &Policy) -> Trade {
        let mut fires = vec![false; self.candles.len()];
        if let Some(rule) = &policy.params().indicator {
            for j in rule.fire_positions(&self.candles.to_vec()) {
                fires[j as usize] = true;
            }
        }
        ctx.run_reference(&fires)
    }
}

/// A trade of the fast evaluator with the position of its first event (`NEVER` when there is
/// none before the data ends or the trade took another path) and of its last traded candle.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    trade: Trade,
    event: usize,
    last: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Candle;
    use crate::store::Series;

    /// [`CallPrep::new`] refuses (asserts) a rule on volume over candles that let their
    /// volumes go; the refusal is this check.
    #[test]
    fn a_rule_on_volume_needs_candles_with_volumes() {
        let candles: Vec<Candle> = (0..20)
            .map(|i| Candle {
                ts: 60 * i,
                open: 1.0,
                high: 1.5,
                low: 0.5,
                close: 1.0,
                volume: i as f64,
            })
            .collect();
        let volume: Rule = "vol_spike:5:1.5".parse().unwrap();
        let ema: Rule = "ema_cross:2:5".parse().unwrap();
        let mut series = Series::new(&candles);
        assert!(volumes_suffice(&series.whole(), &[ema, volume]));
        series.drop_volume();
        assert!(!volumes_suffice(&series.whole(), &[ema, volume]));
        assert!(!volumes_suffice(&series.window(0..5), &[volume]));
        assert!(volumes_suffice(&series.whole(), &[ema]));
        assert!(volumes_suffice(&series.whole(), &[]));
    }
}
