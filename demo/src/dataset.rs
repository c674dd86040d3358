//! The data set: fresh tokens and their first calls, re-calls that extend a token's series,
//! the calls an export must exclude (one reason each), then prices, call ids and sorting.

use std::collections::BTreeSet;

use quantbot_core::data::{Call, Candle};
use quantbot_core::window::first_at_or_after;

use crate::path::{
    mint, peak_slot, pick_lead, pick_style, skilled_ath_ln, slot_at_or_after, Kind, Lead, Segment,
    Style, Token,
};
use crate::rng::{exp_det, Rng};
use crate::{
    DemoData, CALLERS, CHAIN, END_MARGIN_MS, END_MS, RECALL_MIN_SLOTS, START_MS, WINDOW_SLOTS,
};

/// A call before ids are given: sorted by (alert, seq), so a duplicate (made later) gets a
/// larger id than its original.
struct PendingCall {
    alert_ms: i64,
    seq: usize,
    caller: usize,
    mint: String,
    with_price: bool,
}

pub(crate) struct Builder {
    rng: Rng,
    mints: BTreeSet<String>,
    tokens: Vec<Token>,
    calls: Vec<PendingCall>,
    /// Indices into `calls` that are eligible by construction (candidates to duplicate).
    eligible: Vec<usize>,
}

impl Builder {
    pub(crate) fn new(seed: u64) -> Self {
        Builder {
            rng: Rng::new(seed ^ 0x5157_4E54_424F_5444),
            mints: BTreeSet::new(),
            tokens: Vec::new(),
            calls: Vec::new(),
            eligible: Vec::new(),
        }
    }

    fn new_mint(&mut self) -> String {
        loop {
            let m = mint(&mut self.rng);
            if self.mints.insert(m.clone()) {
                return m;
            }
        }
    }

    fn pick_caller(&mut self) -> usize {
        let total: u64 = CALLERS.iter().map(|c| c.weight).sum();
        let mut r = self.rng.below(total);
        for (i, c) in CALLERS.iter().enumerate() {
            if r < c.weight {
                return i;
            }
            r -= c.weight;
        }
        CALLERS.len() - 1
    }

    fn push_call(&mut self, alert_ms: i64, caller: usize, mint: String, eligible: bool) {
        let with_price = !self.rng.chance(0.07);
        self.push_call_priced(alert_ms, caller, mint, eligible, with_price);
    }

    fn push_call_priced(
        &mut self,
        alert_ms: i64,
        caller: usize,
        mint: String,
        eligible: bool,
        with_price: bool,
    ) {
        let seq = self.calls.len();
        if eligible {
            self.eligible.push(seq);
        }
        self.calls.push(PendingCall {
            alert_ms,
            seq,
            caller,
            mint,
            with_price,
        });
    }

    fn random_alert(&mut self) -> i64 {
        self.rng.range(START_MS, END_MS - END_MARGIN_MS)
    }

    /// A token first called at `alert_ms`, with candles covering the call's 48 h window.
    fn fresh_token(&mut self, alert_ms: i64, caller: usize, kind: Kind) -> Token {
        let mut rng = Rng::new(self.rng.next_u64());
        let first_ts = match kind {
            Kind::LateStart => slot_at_or_after(alert_ms + rng.range(61_000, 1_800_000)),
            _ => slot_at_or_after(alert_ms),
        };
        let mut t = Token {
            mint: self.new_mint(),
            kind,
            // Market cap around $11k on a 1e9 supply: price around 1.1e-5.
            p_ref: 1.1e-5 * exp_det(0.9 * rng.normal()),
            sigma: 0.015 + 0.035 * rng.uniform(),
            base_vol: 400.0 * exp_det(0.8 * rng.normal()),
            bars: Vec::with_capacity(WINDOW_SLOTS + 256),
            first_ts,
            next_ts: first_ts,
            last_close: 0.0,
            last_entry_ts: first_ts,
            callers: vec![caller],
        };
        // Some trading before the call (a climb on the bonding curve); never inside a window.
        if kind != Kind::LateStart && rng.chance(0.6) {
            let h = rng.range(5, 240);
            let climb = 0.2 + 1.5 * rng.uniform();
            t.next_ts = first_ts - 60 * h;
            t.last_close = -climb;
            let seg = Segment {
                n: h as usize,
                open: None,
                cap: f64::INFINITY,
                peak: None,
                lead: Lead::default(),
                style: Style::Hold { drift: climb },
                keep_first: false,
            };
            t.append(&mut rng, &seg);
        }
        let a = skilled_ath_ln(&mut rng, CALLERS[caller].skill);
        let tp = peak_slot(&mut rng, a, WINDOW_SLOTS);
        let lead = pick_lead(&mut rng, CALLERS[caller].skill, a, tp);
        let style = pick_style(&mut rng, CALLERS[caller].skill, a);
        let seg = Segment {
            n: WINDOW_SLOTS,
            open: Some(0.0),
            cap: a,
            peak: Some(tp),
            lead,
            style,
            keep_first: true,
        };
        t.append(&mut rng, &seg);
        if kind == Kind::Sparse {
            // Data-provider outages: one to three holes removing 25–45 % of the window.
            let holes = 1 + rng.below(3) as i64;
            let total = (WINDOW_SLOTS as f64 * (0.25 + 0.2 * rng.uniform())) as i64;
            let per = total / holes;
            let span = WINDOW_SLOTS as i64 / holes;
            let mut cut = Vec::new();
            for h in 0..holes {
                let lo = first_ts + 60 * (h * span + 30);
                let room = span - 30 - per;
                let s = lo + 60 * rng.range(0, room.max(1));
                cut.push((s, s + 60 * per));
            }
            t.bars
                .retain(|b| !cut.iter().any(|&(s, e)| b.ts >= s && b.ts < e));
        }
        t
    }

    /// Re-calls an existing token by another caller at a later alert inside its candles and
    /// extends the token's series to cover the new window. Returns false when `ti` can't take one.
    fn recall(&mut self, ti: usize, caller: usize) -> bool {
        let mut rng = Rng::new(self.rng.next_u64());
        let t = &self.tokens[ti];
        if t.kind != Kind::Normal || t.callers.contains(&caller) {
            return false;
        }
        let min_ts = t.last_entry_ts + 60 * RECALL_MIN_SLOTS;
        let lo = t.bars.partition_point(|b| b.ts < min_ts);
        let len = t.bars.len();
        if lo >= len {
            return false;
        }
        let mut j = lo + rng.below((len - lo) as u64) as usize;
        while j < len && (j == 0 || t.bars[j].ts - t.bars[j - 1].ts != 60) {
            j += 1;
        }
        if j >= len {
            return false;
        }
        let ts_j = t.bars[j].ts;
        let alert_ms = ts_j * 1000 - rng.below(60_000) as i64;
        if alert_ms >= END_MS - END_MARGIN_MS {
            return false;
        }
        let open_j = t.bars[j].open;
        let mut m = f64::NEG_INFINITY;
        for b in &t.bars[j..] {
            m = m.max(b.high);
        }
        let m = m - open_j;
        let skill = CALLERS[caller].skill;
        let a = skilled_ath_ln(&mut rng, skill);
        let end_ts = ts_j + 60 * (WINDOW_SLOTS as i64 - 1);
        let n = ((end_ts - t.next_ts) / 60 + 1) as usize;
        let (cap, peak) = if a > m {
            (open_j + a, Some(peak_slot(&mut rng, a, n)))
        } else {
            (open_j + m, None)
        };
        let lead = peak.map_or(Lead::default(), |tp| pick_lead(&mut rng, skill, a, tp));
        let style = pick_style(&mut rng, skill, a);
        let seg = Segment {
            n,
            open: None,
            cap,
            peak,
            lead,
            style,
            keep_first: false,
        };
        let mint = t.mint.clone();
        let t = &mut self.tokens[ti];
        t.append(&mut rng, &seg);
        t.last_entry_ts = ts_j;
        t.callers.push(caller);
        self.push_call(alert_ms, caller, mint, true);
        true
    }

    pub(crate) fn run(mut self) -> DemoData {
        let n_fresh = 2_640 + self.rng.below(80) as usize;
        let n_recall = n_fresh / 10 + self.rng.below(20) as usize;

        // First calls of ordinary tokens.
        for _ in 0..n_fresh {
            let alert = self.random_alert();
            let caller = self.pick_caller();
            let t = self.fresh_token(alert, caller, Kind::Normal);
            let mint = t.mint.clone();
            self.tokens.push(t);
            self.push_call(alert, caller, mint, true);
        }

        // Re-calls of tokens already called.
        let mut done = 0;
        let mut tries = 0;
        while done < n_recall && tries < 100 * n_recall {
            tries += 1;
            let ti = self.rng.below(n_fresh as u64) as usize;
            let caller = self.pick_caller();
            if self.recall(ti, caller) {
                done += 1;
            }
        }

        // Calls an export must exclude, one reason each.
        // no_candles: a token nobody has candles for ...
        for _ in 0..4 + self.rng.below(3) {
            let alert = self.random_alert();
            let caller = self.pick_caller();
            let mint = self.new_mint();
            self.push_call(alert, caller, mint, false);
        }
        // ... and a later call on a token whose candles ended before it.
        let mut left = 4 + self.rng.below(3);
        let mut tries = 0;
        while left > 0 && tries < 10_000 {
            tries += 1;
            let ti = self.rng.below(n_fresh as u64) as usize;
            let t = &self.tokens[ti];
            let from = t.next_ts * 1000 + 3_600_000;
            let to = (from + 5 * 86_400_000).min(END_MS - END_MARGIN_MS);
            if t.kind != Kind::Normal || from >= to {
                continue;
            }
            let mint = t.mint.clone();
            let callers = t.callers.clone();
            let caller = self.pick_caller();
            if callers.contains(&caller) {
                continue;
            }
            let alert = self.rng.range(from, to);
            // No re-call comes after this point, so nothing extends the token past this alert.
            self.push_call(alert, caller, mint, false);
            left -= 1;
        }
        // late_start and insufficient_coverage: tokens whose candles start late or have holes.
        for kind in [Kind::LateStart, Kind::Sparse] {
            for _ in 0..8 + self.rng.below(5) {
                let alert = self.random_alert();
                let caller = self.pick_caller();
                let t = self.fresh_token(alert, caller, kind);
                let mint = t.mint.clone();
                self.tokens.push(t);
                self.push_call(alert, caller, mint, false);
            }
        }
        // duplicate_call: the very same row posted twice.
        for _ in 0..10 + self.rng.below(6) {
            let k = self.eligible[self.rng.below(self.eligible.len() as u64) as usize];
            let (alert, caller, mint, with_price) = {
                let c = &self.calls[k];
                (c.alert_ms, c.caller, c.mint.clone(), c.with_price)
            };
            self.push_call_priced(alert, caller, mint, false, with_price);
        }

        // Prices, then tokens sorted by (chain, mint).
        let mut tokens: Vec<(String, Vec<Candle>)> =
            self.tokens.into_iter().map(Token::finish).collect();
        tokens.sort_by(|a, b| a.0.cmp(&b.0));

        let mut pending = self.calls;
        pending.sort_by_key(|c| (c.alert_ms, c.seq));
        let calls = pending
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let price_at_alert = if c.with_price {
                    tokens
                        .binary_search_by(|t| t.0.as_str().cmp(c.mint.as_str()))
                        .ok()
                        .and_then(|ti| {
                            let bars = &tokens[ti].1;
                            first_at_or_after(bars, c.alert_ms).map(|e| bars[e].open)
                        })
                } else {
                    None
                };
                Call {
                    call_id: format!("demo-{:06}", i + 1),
                    caller: CALLERS[c.caller].name.to_string(),
                    chain: CHAIN.to_string(),
                    mint: c.mint,
                    alert_ts_ms: c.alert_ms,
                    price_at_alert,
                }
            })
            .collect();
        DemoData {
            calls,
            tokens: tokens
                .into_iter()
                .map(|(mint, bars)| (CHAIN.to_string(), mint, bars))
                .collect(),
        }
    }
}
