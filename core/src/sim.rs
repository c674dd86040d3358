//! Execution of one call under one policy (SPEC §3): the per-candle order of events shared by
//! both algorithms, the literal candle-by-candle reference simulator, and the fast evaluator
//! that answers a grid point from per-call precomputation without re-scanning candles (§3.6).
//!
//! A window always starts at the entry candle `e` (position 0): see [`crate::window`].

use crate::data::Candle;
use crate::indicator::Rule;
use crate::policy::{CostModel, EntryPrice, ExecConfig, Intrabar, Policy};
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
pub fn entry(window: &[Candle], cfg: &ExecConfig) -> Result<Entry, NoEntry> {
    let e = window.first().ok_or(NoEntry::NoEntry)?;
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

/// Constants of one (call, policy) pair.
struct Ctx<'a> {
    candles: &'a [Candle],
    interval_ms: i64,
    entry: Entry,
    /// Position of the last traded candle (the last that opens before `tmax`).
    last: usize,
    tmax: i64,
    /// Tokens bought per USD of size: `1 × (1 − f) / (P0 × (1 + s))`.
    tokens: f64,
    sell_factor: f64,
    fee_factor: f64,
    cost_model: CostModel,
    fee_bps: f64,
    slippage_bps: f64,
    intrabar: Intrabar,
    sl_px: Option<f64>,
    be_arm_px: Option<f64>,
    be_px: f64,
    trail_factor: Option<f64>,
    trail_act_px: f64,
    levels: &'a [(f64, f64)],
    ladder_complete: bool,
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

impl<'a> Ctx<'a> {
    fn new(candles: &'a [Candle], entry: Entry, cfg: &ExecConfig, policy: &'a Policy) -> Ctx<'a> {
        let p = policy.params();
        let p0 = entry.p0;
        let f = cfg.fee_bps() / 10000.0;
        let s = cfg.slippage_bps() / 10000.0;
        let tmax = candles[0].ts * 1000 + policy.max_hold_ms();
        // max_hold > 0, so the entry candle always opens before the deadline.
        let last = candles.partition_point(|c| c.ts * 1000 < tmax) - 1;
        let (levels, ladder_complete) = match policy.targets() {
            Some(l) => (l.levels(), l.is_complete()),
            None => (&[][..], false),
        };
        Ctx {
            candles,
            interval_ms: cfg.interval_s() * 1000,
            entry,
            last,
            tmax,
            tokens: 1.0 * (1.0 - f) / (p0 * (1.0 + s)),
            sell_factor: 1.0 - s,
            fee_factor: 1.0 - f,
            cost_model: cfg.cost_model(),
            fee_bps: cfg.fee_bps(),
            slippage_bps: cfg.slippage_bps(),
            intrabar: cfg.intrabar(),
            sl_px: p.sl.map(|sl| p0 * sl),
            be_arm_px: p.be_trigger.map(|b| p0 * b),
            be_px: p0 * (1.0 + cfg.be_offset()),
            trail_factor: p.trail.map(|t| 1.0 - t),
            trail_act_px: p0 * p.trail_activation.unwrap_or(1.0),
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
                consider(self.be_px, ExitReason::BreakEven);
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
        st.net_sum += self.tokens * frac * px * self.sell_factor * self.fee_factor;
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
        let c = &self.candles[i];
        let open_ms = c.ts * 1000;
        let close_ms = open_ms + self.interval_ms;
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
                    if self.intrabar == Intrabar::TpFirst {
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
        let gross_multiple = st.gross_sum / p0;
        let net_multiple = match self.cost_model {
            CostModel::Fills => st.net_sum / 1.0,
            CostModel::V1 => {
                1.0 + v1_pnl(1.0, gross_multiple, self.fee_bps, self.slippage_bps) / 1.0
            }
        };
        Trade {
            entry_ts_ms: self.entry.entry_ts_ms,
            entry_px: p0,
            exit_ts_ms: st.exit_ts_ms,
            exit_reason: st.reason,
            gross_multiple,
            net_multiple,
            peak_multiple: st.peak / p0,
            mae: low_min / p0 - 1.0,
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
        let c = &self.candles[self.last];
        let close_ms = (c.ts * 1000) + self.interval_ms;
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
            low_min = low_min.min(self.candles[i].low);
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
    let ctx = Ctx::new(window, entry, cfg, policy);
    let mut fires = vec![false; window.len()];
    if let Some(rule) = &policy.params().indicator {
        for j in rule.fire_positions(window) {
            fires[j as usize] = true;
        }
    }
    Ok(ctx.run_reference(&fires))
}

/// Candles per block of the block-minimum index used for first-passage queries.
const BLOCK: usize = 32;

/// Everything the fast evaluator needs about one call, computed once for all grid points.
#[derive(Debug, Clone)]
pub struct CallPrep<'a> {
    candles: &'a [Candle],
    entry: Entry,
    /// Positions (≥ first checked) whose high exceeds every earlier high and P0: the only
    /// candles where the peak moves and where a take-profit level can first be touched.
    records: Vec<u32>,
    /// `low_min[i]` = min(P0, lows from the first checked candle through i).
    low_min: Vec<f64>,
    /// Minimum low of each block of `BLOCK` candles.
    block_min: Vec<f64>,
    /// Firing positions per indicator rule of the grid.
    fires: Vec<(Rule, Vec<u32>)>,
}

impl<'a> CallPrep<'a> {
    /// Precomputes a call's window for the given run options and indicator rules.
    pub fn new(window: &'a [Candle], cfg: &ExecConfig, rules: &[Rule]) -> Result<Self, NoEntry> {
        let entry = entry(window, cfg)?;
        let mut records = Vec::new();
        let mut low_min = vec![entry.p0; window.len()];
        let (mut peak, mut lo) = (entry.p0, entry.p0);
        for (i, c) in window.iter().enumerate().skip(entry.first_checked) {
            if c.high > peak {
                peak = c.high;
                records.push(i as u32);
            }
            lo = lo.min(c.low);
            low_min[i] = lo;
        }
        let block_min = window
            .chunks(BLOCK)
            .map(|b| b.iter().map(|c| c.low).fold(f64::INFINITY, f64::min))
            .collect();
        let fires = rules
            .iter()
            .map(|r| (*r, r.fire_positions(window)))
            .collect();
        Ok(CallPrep {
            candles: window,
            entry,
            records,
            low_min,
            block_min,
            fires,
        })
    }

    pub fn entry(&self) -> Entry {
        self.entry
    }

    pub fn candles(&self) -> &'a [Candle] {
        self.candles
    }

    /// First position in `a..=b` whose low is at or below `s`.
    fn first_low_at_or_below(&self, a: usize, b: usize, s: f64) -> Option<usize> {
        let mut i = a;
        while i <= b {
            if i.is_multiple_of(BLOCK) && i + BLOCK - 1 <= b && self.block_min[i / BLOCK] > s {
                i += BLOCK;
                continue;
            }
            if self.candles[i].low <= s {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The fast evaluator: the same trade as [`simulate_reference`], jumping from event to
    /// event. Between two records the peak, and so every stop, is constant and no pending
    /// level can be touched (pending levels always sit above the peak), so the only possible
    /// event there is the first candle whose low reaches the stop.
    pub fn evaluate(&self, cfg: &ExecConfig, policy: &Policy) -> Trade {
        let ctx = Ctx::new(self.candles, self.entry, cfg, policy);
        if let Some(t) = ctx.exit_without_checked_candle() {
            return t;
        }
        let fires: &[u32] = match &policy.params().indicator {
            Some(rule) => match self.fires.iter().find(|(r, _)| r == rule) {
                Some((_, f)) => f,
                // A rule that was not precomputed: fall back to the literal loop.
                None => return self.reference(&ctx, policy),
            },
            None => &[],
        };
        // The jump relies on P0 × multiple > P0 for every level, which f64 rounding could
        // break for a multiple within an ulp of 1; such policies take the literal loop.
        if !ctx.levels.is_empty() && ctx.level_px(0) <= self.entry.p0 {
            return self.reference(&ctx, policy);
        }
        let first = self.entry.first_checked;
        let mut st = ctx.state();
        let mut r = self.records.partition_point(|&x| (x as usize) < first);
        let mut f = fires.partition_point(|&x| (x as usize) < first);
        let mut pos = first;
        loop {
            let next_rec = self.records.get(r).map(|&x| x as usize);
            let next_fire = fires.get(f).map(|&x| x as usize);
            let ev = ctx
                .last
                .min(next_rec.unwrap_or(usize::MAX))
                .min(next_fire.unwrap_or(usize::MAX));
            if ev > pos {
                if let Some((s, _)) = ctx.stop(&st) {
                    if let Some(j) = self.first_low_at_or_below(pos, ev - 1, s) {
                        let done = ctx.step(&mut st, j, false);
                        debug_assert!(done, "a touched stop always ends the trade");
                        return ctx.finish(&st, j, self.low_min[j]);
                    }
                }
            }
            let fires_here = next_fire == Some(ev);
            if ctx.step(&mut st, ev, fires_here) {
                return ctx.finish(&st, ev, self.low_min[ev]);
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

    fn reference(&self, ctx: &Ctx<'_>, policy: &Policy) -> Trade {
        let mut fires = vec![false; self.candles.len()];
        if let Some(rule) = &policy.params().indicator {
            for j in rule.fire_positions(self.candles) {
                fires[j as usize] = true;
            }
        }
        ctx.run_reference(&fires)
    }
}
