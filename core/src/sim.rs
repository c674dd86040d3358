//! Execution of one call under one policy (SPEC §3): the per-candle order of events shared by
//! both algorithms, the literal candle-by-candle reference simulator, and the fast evaluator
//! that answers a grid point from per-call precomputation without re-scanning candles (§3.6).
//!
//! A window always starts at the entry candle `e` (position 0): see [`crate::window`].

use crate::data::Candle;
use crate::indicator::Rule;
use crate::policy::{CostModel, EntryPrice, ExecConfig, Intrabar, Policy};
use crate::store::{Bars, Prices, Window};
use crate::trade::{ExitReason, NoEntry, Trade};

/// Under `--cost-model v1`: `size × (gross − 1) − size × 2 × (fee_bps + slippage_bps) / 10000`.
pub fn v1_pnl(size: f64, gross_multiple: f64, fee_bps: f64, slippage_bps: f64) -> f64 {
    size * (gross_multiple - 1.0) - size * 2.0 * (fee_bps + slippage_bps) / 10000.0
}

/// The entry of a window: P0, the first checked position and the entry time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub p0: f64,
    /// First candle whose events are checked: 0 with an open entry, 1 with a close entry.
    pub first_checked: usize,
    pub entry_ts_ms: i64,
}

/// P0 and the entry time (SPEC §3.1, §12); `NoEntry` for an empty window or an entry price that
/// is not finite and positive (the engine never divides by it).
pub fn entry<B: Bars + ?Sized>(window: &B, cfg: &ExecConfig) -> Result<Entry, NoEntry> {
    if window.is_empty() {
        return Err(NoEntry::NoEntry);
    }
    let e = window.prices(0);
    let (p0, first_checked, entry_ts_ms) = match cfg.entry_price() {
        EntryPrice::Open => (e.open, 0, e.ts * 1000),
        EntryPrice::Close => (e.close, 1, (e.ts + cfg.interval_s()) * 1000),
    };
    if !(p0.is_finite() && p0 > 0.0) {
        return Err(NoEntry::NoEntry);
    }
    Ok(Entry {
        p0,
        first_checked,
        entry_ts_ms,
    })
}

/// Position of the last candle that opens before `tmax` (`tmax > ts[0] × 1000`, so the entry
/// candle always qualifies). Candles are at least one interval apart, so on a window without
/// gaps the position follows from the times alone; that guess is checked against the candles and
/// a binary search answers otherwise, so the result never depends on the data being gap-free.
fn last_traded<B: Bars + ?Sized>(candles: &B, tmax: i64, interval_ms: i64) -> usize {
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
struct Ctx<'a, B: Bars + ?Sized> {
    candles: &'a B,
    /// The call's constants under the run's options.
    k: &'a Costs,
    entry: Entry,
    /// Position of the last traded candle (the last that opens before `tmax`).
    last: usize,
    tmax: i64,
    sl_px: Option<f64>,
    be_arm_px: Option<f64>,
    trail_factor: Option<f64>,
    trail_act_px: f64,
    levels: &'a [(f64, f64)],
    ladder_complete: bool,
}

/// The constants of one call under the run's options, the same for every policy.
#[derive(Debug, Clone, Copy)]
struct Costs {
    interval_ms: i64,
    /// Tokens bought per USD of size: `1 × (1 − f) / (P0 × (1 + s))`.
    tokens: f64,
    sell_factor: f64,
    fee_factor: f64,
    cost_model: CostModel,
    fee_bps: f64,
    slippage_bps: f64,
    intrabar: Intrabar,
    be_px: f64,
}

impl Costs {
    fn new(entry: Entry, cfg: &ExecConfig) -> Costs {
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

/// The mutable state of a trade while candles are processed.
struct State {
    /// Highest high of the processed candles, starting at P0.
    peak: f64,
    remaining: f64,
    next_level: usize,
    gross_sum: f64,
    net_sum: f64,
    fills: u32,
    ambiguous: bool,
    exit_ts_ms: i64,
    reason: ExitReason,
}

impl<'a, B: Bars + ?Sized> Ctx<'a, B> {
    fn new(candles: &'a B, entry: Entry, k: &'a Costs, policy: &'a Policy) -> Ctx<'a, B> {
        let tmax = candles.ts(0) * 1000 + policy.max_hold_ms();
        let last = last_traded(candles, tmax, k.interval_ms);
        Ctx::with_last(candles, entry, k, policy, last, tmax)
    }

    /// [`Ctx::new`] with the run's constants and the last traded position already known.
    fn with_last(
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

    fn state(&self) -> State {
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
        }
    }

    fn level_px(&self, k: usize) -> f64 {
        self.entry.p0 * self.levels[k].0
    }

    /// The stop level in force (the highest active stop) and the reason it names. On equal
    /// levels the preference is stop_loss, break_even, trailing_stop (SPEC §3.3).
    fn stop(&self, st: &State) -> Option<(f64, ExitReason)> {
        let mut best: Option<(f64, ExitReason)> = None;
        let mut consider = |px: f64, why: ExitReason| {
            if best.is_none_or(|(b, _)| px > b) {
                best = Some((px, why));
            }
        };
        if let Some(px) = self.sl_px {
            consider(px, ExitReason::StopLoss);
        }
        if let Some(arm) = self.be_arm_px {
            if st.peak >= arm {
                consider(self.k.be_px, ExitReason::BreakEven);
            }
        }
        if let Some(tf) = self.trail_factor {
            if st.peak >= self.trail_act_px {
                consider(st.peak * tf, ExitReason::TrailingStop);
            }
        }
        best
    }

    fn fill(&self, st: &mut State, frac: f64, px: f64, ts_ms: i64) {
        st.gross_sum += frac * px;
        st.net_sum += self.k.tokens * frac * px * self.k.sell_factor * self.k.fee_factor;
        st.fills += 1;
        st.exit_ts_ms = ts_ms;
    }

    /// Fills every pending level at or below `bound` at `px` (the open for a gap, else the
    /// level's own price when `px` is `None`).
    fn fill_levels(&self, st: &mut State, bound: f64, px: Option<f64>, ts_ms: i64) {
        while st.next_level < self.levels.len() {
            let level = self.level_px(st.next_level);
            if level > bound {
                break;
            }
            let frac = self.levels[st.next_level].1;
            self.fill(st, frac, px.unwrap_or(level), ts_ms);
            st.remaining -= frac;
            st.next_level += 1;
        }
    }

    /// Whether the take-profit levels have closed the whole position.
    fn closed(&self, st: &State) -> bool {
        self.ladder_complete && st.next_level == self.levels.len()
    }

    fn exit_remainder(&self, st: &mut State, px: f64, ts_ms: i64, why: ExitReason) {
        let frac = st.remaining;
        self.fill(st, frac, px, ts_ms);
        st.remaining = 0.0;
        st.reason = why;
    }

    /// Processes candle `i` (SPEC §3.2, then §3.7, then the time limit). Returns true when the
    /// trade is over after this candle.
    fn step(&self, st: &mut State, i: usize, fires: bool) -> bool {
        self.step_with(st, i, self.candles.prices(i), fires)
    }

    /// [`Ctx::step`] with candle `i`'s prices already read.
    #[inline(always)]
    fn step_with(&self, st: &mut State, i: usize, c: Prices, fires: bool) -> bool {
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

    fn finish(&self, st: &State, exit_pos: usize, low_min: f64) -> Trade {
        let p0 = self.entry.p0;
        self.finish_with(st, exit_pos, st.peak / p0, low_min / p0 - 1.0)
    }

    /// [`Ctx::finish`] with `peak_multiple` and `mae` already computed (they depend on the exit
    /// candle only, so the fast evaluator remembers them).
    fn finish_with(&self, st: &State, exit_pos: usize, peak_multiple: f64, mae: f64) -> Trade {
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
    fn exit_without_checked_candle(&self) -> Option<Trade> {
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

    /// The literal loop: every traded candle in order.
    fn run_reference(&self, fires: &[bool]) -> Trade {
        if let Some(t) = self.exit_without_checked_candle() {
            return t;
        }
        let mut st = self.state();
        let mut low_min = self.entry.p0;
        for i in self.entry.first_checked..=self.last {
            low_min = low_min.min(self.candles.low(i));
            let f = fires.get(i).copied().unwrap_or(false);
            if self.step(&mut st, i, f) {
                return self.finish(&st, i, low_min);
            }
        }
        unreachable!("the last traded candle always ends the trade")
    }
}

/// The reference simulator: follows SPEC §3.2 literally, candle by candle. It computes the
/// indicator's firing positions itself.
pub fn simulate_reference(
    window: &[Candle],
    cfg: &ExecConfig,
    policy: &Policy,
) -> Result<Trade, NoEntry> {
    let entry = entry(window, cfg)?;
    let costs = Costs::new(entry, cfg);
    let ctx = Ctx::new(window, entry, &costs, policy);
    let mut fires = vec![false; window.len()];
    if let Some(rule) = &policy.params().indicator {
        for j in rule.fire_positions(window) {
            fires[j as usize] = true;
        }
    }
    Ok(ctx.run_reference(&fires))
}

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
            candles.series().holds_volume() || !rules.iter().any(Rule::reads_volume),
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

    /// The fast evaluator: the same trade as [`simulate_reference`], bit for bit.
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
            let last = self.last_for(cfg, policy, &mut memo);
            // Policies that differ only in the time stop give the same trade when the first
            // event comes before both deadlines: the deadline is then never looked at.
            if let Some((_, b, o)) = slot.map(|i| &bases[i]) {
                if o.event < o.last && o.event < last && b.same_but_hold(policy) {
                    out(k, o.trade);
                    continue;
                }
            }
            let o = self.evaluate_memo(policy, &costs, &mut memo, last);
            out(k, o.trade);
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

/// A few remembered answers of one kind, keyed exactly; the oldest is replaced when full.
/// Keys and answers are kept apart, so a lookup reads the keys' single cache line.
#[derive(Debug)]
struct Recall<K, V> {
    keys: [K; 8],
    vals: [V; 8],
    len: usize,
    next: usize,
}

impl<K: PartialEq + Copy + Default, V: Copy + Default> Default for Recall<K, V> {
    fn default() -> Self {
        Recall {
            keys: [K::default(); 8],
            vals: [V::default(); 8],
            len: 0,
            next: 0,
        }
    }
}

impl<K: PartialEq + Copy + Default, V: Copy + Default> Recall<K, V> {
    #[inline(always)]
    fn get_or(&mut self, key: K, compute: impl FnOnce() -> V) -> V {
        // Newest first: neighbouring grid points usually repeat the latest answer.
        let n = self.keys.len();
        for i in 1..=self.len {
            let at = (self.next + n - i) % n;
            if self.keys[at] == key {
                return self.vals[at];
            }
        }
        let v = compute();
        self.keys[self.next] = key;
        self.vals[self.next] = v;
        self.next = (self.next + 1) % n;
        self.len = (self.len + 1).min(n);
        v
    }
}

/// First-passage answers of one call, remembered across the policies evaluated on it.
#[derive(Debug, Default)]
struct Memo {
    /// One policy only: walks may stop at the earliest event found so far.
    single: bool,
    /// Deadline (ms) → last traded position.
    last: Deadlines,
    /// Level price bits → first record reaching it.
    tp: Recall<u64, usize>,
    /// Stop-loss price bits → first candle touching it.
    sl: Recall<u64, usize>,
    /// (trail factor, activation price) bits → first candle touching the trailing stop.
    trail: Recall<(u64, u64), usize>,
    /// (arming price, break-even price) bits → first candle touching the break-even stop.
    be: Recall<(u64, u64), usize>,
    /// Event position → what the trade record takes from the exit candle.
    at: Recall<usize, At>,
}

/// Deadline (ms) → last traded position: the time stop changes from one grid point to the
/// next, so this is asked for every policy; a few deadlines are answered from a small table
/// indexed by a hash of the deadline (one multiplication), without a search.
#[derive(Debug, Default)]
struct Deadlines {
    slots: [Option<(i64, usize)>; 16],
}

impl Deadlines {
    #[inline(always)]
    fn get_or(&mut self, tmax: i64, compute: impl FnOnce() -> usize) -> usize {
        let h = ((tmax as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize;
        match self.slots[h] {
            Some((k, v)) if k == tmax => v,
            _ => {
                let v = compute();
                self.slots[h] = Some((tmax, v));
                v
            }
        }
    }
}

/// The peak before an exit candle, and `peak_multiple` and `mae` of a trade exiting there.
#[derive(Debug, Clone, Copy, Default)]
struct At {
    /// The exit candle's prices.
    prices: Prices,
    peak: f64,
    peak_multiple: f64,
    mae: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{Grid, GridSpec};
    use crate::policy::Ladder;
    use crate::store::Series;

    use crate::splitmix::SplitMix64 as Rng;

    /// Test-only helpers on the shared generator.
    trait Values {
        fn some(&mut self, xs: &[f64], k: usize, off: bool) -> Vec<Option<f64>>;
    }

    impl Values for Rng {
        /// A few distinct values of `xs`, sometimes with "off".
        fn some(&mut self, xs: &[f64], k: usize, off: bool) -> Vec<Option<f64>> {
            let mut v: Vec<Option<f64>> = (0..k).map(|_| Some(self.pick(xs))).collect();
            if v.is_empty() || (off && self.chance(0.4)) {
                v.push(None);
            }
            v.dedup();
            v
        }
    }

    /// Prices on a 1/64 grid (so levels and prices often coincide), gaps at the open, pumps,
    /// rugs, flat and wide candles, missing bars.
    fn path(rng: &mut Rng, n: usize) -> Vec<Candle> {
        let tick = |x: f64| ((x * 64.0) as i64).max(1) as f64 / 64.0;
        let (mut out, mut ts, mut close) =
            (Vec::new(), 1_700_000_000, tick(0.5 + rng.unit() * 2.0));
        for _ in 0..n {
            let open = if rng.chance(0.08) {
                tick(close * (0.4 + rng.unit() * 1.2))
            } else {
                close
            };
            let step = match rng.next_u64() % 20 {
                0 => 1.5 + rng.unit() * 2.0,
                1 => 0.2 + rng.unit() * 0.4,
                2 | 3 => 1.0,
                _ => 0.9 + rng.unit() * 0.22,
            };
            let c = tick(open * step);
            let wide = rng.chance(0.1);
            let up = 1.0 + rng.unit() * if wide { 1.5 } else { 0.08 };
            let down = if wide {
                0.4 + rng.unit() * 0.5
            } else {
                1.0 - rng.unit() * 0.08
            };
            let (hi, lo) = (open.max(c), open.min(c));
            out.push(Candle {
                ts,
                open,
                high: tick(hi * up).max(hi),
                low: tick(lo * down).min(lo),
                close: c,
                volume: (rng.next_u64() % 1000) as f64,
            });
            close = c;
            ts += 60 * if rng.chance(0.1) { 2 } else { 1 };
        }
        out
    }

    fn grid(rng: &mut Rng) -> Grid {
        let ladder = rng.chance(0.25);
        let spec = GridSpec {
            tp: if ladder {
                vec![None]
            } else {
                let k = 1 + (rng.next_u64() % 3) as usize;
                rng.some(&[1.25, 1.5, 2.0, 2.5, 3.0, 5.0], k, true)
            },
            sl: rng.some(&[0.5, 0.75, 0.8, 0.875, 0.9, 0.95], 2, true),
            trail: rng.some(&[0.1, 0.125, 0.25, 0.5], 2, true),
            trail_activation: rng.some(&[1.0, 1.25, 1.5], 1, true),
            be_trigger: rng.some(&[1.125, 1.25, 2.0], 1, true),
            ladder: if ladder {
                vec![
                    Some(Ladder::new(vec![(2.0, 0.5), (3.0, 0.5)]).unwrap()),
                    Some(Ladder::new(vec![(1.5, 0.5)]).unwrap()),
                ]
            } else {
                vec![None]
            },
            // Several time stops, so the evaluator's reuse across them is exercised.
            max_hold: vec![0.05, 0.25, 0.5, 1.0, 3.0],
            indicator: if rng.chance(0.4) {
                vec![
                    None,
                    Some(
                        rng.pick(&["ema_cross:2:5", "rsi_below:3:50", "vol_spike:5:1.5"])
                            .parse()
                            .unwrap(),
                    ),
                ]
            } else {
                vec![None]
            },
        };
        Grid::new(spec, 48.0).unwrap()
    }

    fn exec(rng: &mut Rng) -> ExecConfig {
        ExecConfig::new(
            60,
            rng.pick(&[EntryPrice::Open, EntryPrice::Close]),
            rng.pick(&[Intrabar::SlFirst, Intrabar::TpFirst]),
            rng.pick(&[CostModel::Fills, CostModel::V1]),
            rng.pick(&[0.0, 30.0]),
            rng.pick(&[0.0, 10.0]),
            rng.pick(&[0.0, 0.125]),
        )
        .unwrap()
    }

    /// SPEC §3.6: `evaluate_each` (remembered first passages, trades reused across time
    /// stops) and `evaluate` give the reference simulator's trade, every field bit for bit.
    #[test]
    fn fast_paths_equal_reference() {
        let mut rng = Rng::new(7);
        for case in 0..1500 {
            let n = 1 + (rng.next_u64() % 200) as usize;
            let window = path(&mut rng, n);
            let cfg = exec(&mut rng);
            let grid = grid(&mut rng);
            let policies = grid.policies();
            let mut series = Series::new(&window);
            // As the CLI holds them: without volumes unless a rule reads them.
            if !grid.reads_volume() {
                series.drop_volume();
            }
            let prep = CallPrep::new(series.window(0..n), &cfg, &grid.rules()).unwrap();
            let mut each = Vec::new();
            prep.evaluate_each(&cfg, &policies, |k, t| each.push((k, t)));
            assert_eq!(each.len(), policies.len());
            for (k, t) in each {
                let reference = simulate_reference(&window, &cfg, &policies[k]).unwrap();
                assert_eq!(t, reference, "case {case}, policy {k}: {}", grid.label(k));
                assert_eq!(prep.evaluate(&cfg, &policies[k]), reference, "case {case}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "a rule on volume needs candles that hold their volumes")]
    fn a_rule_on_volume_is_refused_on_candles_without_volumes() {
        let mut rng = Rng::new(3);
        let window = path(&mut rng, 50);
        let mut series = Series::new(&window);
        series.drop_volume();
        let cfg = exec(&mut rng);
        let rule: Rule = "vol_spike:5:1.5".parse().unwrap();
        let _ = CallPrep::new(series.whole(), &cfg, &[rule]);
    }
}
