//! One token's 1-minute path, built in log price: the ATH multiple drawn from the SmugCalls
//! quantiles (tilted by the caller's skill), the climb to it through an optional pop and a
//! shakeout (Brownian bridges), what follows the peak (`Style`), then wicks, gaps at the open,
//! missing bars and volume, and last the conversion to prices.

use quantbot_core::data::Candle;

use crate::rng::{exp_det, Rng};
use crate::{ATH_LN_QUANTILES, FLOOR};

/// ln of the ATH multiple for quantile `u` in [0, 1).
fn ath_ln(u: f64) -> f64 {
    let q = &ATH_LN_QUANTILES;
    let i = q.partition_point(|&(p, _)| p <= u).clamp(1, q.len() - 1);
    let (p0, v0) = q[i - 1];
    let (p1, v1) = q[i];
    v0 + (v1 - v0) * ((u - p0) / (p1 - p0))
}

/// An ATH quantile tilted by the caller's skill.
pub(crate) fn skilled_ath_ln(rng: &mut Rng, skill: f64) -> f64 {
    let u = rng.uniform();
    let tilt = rng.chance(skill.abs());
    let v = rng.uniform();
    let u = match (tilt, skill > 0.0) {
        (false, _) => u,
        (true, true) => u.max(v),
        (true, false) => u.min(v),
    };
    ath_ln(u)
}

/// Keeps a log price under `cap` and above `FLOOR` by reflection.
fn reflect(x: f64, cap: f64) -> f64 {
    let mut x = x;
    if x > cap {
        x = cap - (x - cap);
    }
    if x < FLOOR {
        x = FLOOR + (FLOOR - x);
    }
    x.min(cap)
}

/// A fresh pump.fun-style mint: 40 base-58 characters and `pump`.
pub(crate) fn mint(rng: &mut Rng) -> String {
    const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut s = String::with_capacity(44);
    for _ in 0..40 {
        s.push(B58[rng.below(58) as usize] as char);
    }
    s.push_str("pump");
    s
}

/// The first candle slot at or after an alert (slots are whole minutes).
pub(crate) fn slot_at_or_after(alert_ms: i64) -> i64 {
    (alert_ms + 59_999).div_euclid(60_000) * 60
}

/// What a path does after its peak (amounts are totals over the segment, in log price).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Style {
    /// Chop for `chop` slots, then lose `drop` over `bars` slots, then lie dead.
    Rug { chop: usize, drop: f64, bars: usize },
    /// Drift down by `drop` over the rest of the segment, trading thinning out.
    Bleed { drop: f64 },
    /// Sideways with a mild drift.
    Hold { drift: f64 },
    /// Hardly trades: mostly flat bars with zero volume.
    Dead,
}

/// How a path gets to its peak (log amounts relative to the segment's open). A depth or
/// height of 0 leaves that waypoint out.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lead {
    /// An early pop above the open (the caller's followers buying), at slot `pop_at`.
    pub(crate) pop: f64,
    pub(crate) pop_at: usize,
    /// The shakeout under the open before the pump, at slot `dip_at` (after the pop).
    pub(crate) dip: f64,
    pub(crate) dip_at: usize,
}

/// One run of slots appended to a token's series.
pub(crate) struct Segment {
    pub(crate) n: usize,
    /// The exact log open of the first bar (a fresh call's entry candle opens at 0).
    pub(crate) open: Option<f64>,
    /// No high above this log price.
    pub(crate) cap: f64,
    /// The slot whose high is exactly `cap`.
    pub(crate) peak: Option<usize>,
    /// How the path gets to the peak.
    pub(crate) lead: Lead,
    pub(crate) style: Style,
    /// The first slot may not be missing (a fresh call's entry candle).
    pub(crate) keep_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Normal,
    LateStart,
    Sparse,
}

pub(crate) struct Token {
    pub(crate) mint: String,
    pub(crate) kind: Kind,
    /// Price of log level 0 (the first call's entry open).
    pub(crate) p_ref: f64,
    /// 1-minute log volatility at the first call.
    pub(crate) sigma: f64,
    /// Typical volume per minute at the first call.
    pub(crate) base_vol: f64,
    /// Log prices until `finish`.
    pub(crate) bars: Vec<Candle>,
    pub(crate) first_ts: i64,
    pub(crate) next_ts: i64,
    pub(crate) last_close: f64,
    pub(crate) last_entry_ts: i64,
    pub(crate) callers: Vec<usize>,
}

impl Token {
    fn age(&self, ts: i64) -> f64 {
        ((ts - self.first_ts) / 60).max(0) as f64
    }

    fn sigma_at(&self, ts: i64) -> f64 {
        let age = self.age(ts);
        self.sigma * (0.3 + 0.7 * 150.0 / (150.0 + age))
    }

    fn activity_at(&self, ts: i64) -> f64 {
        let age = self.age(ts);
        0.08 + 0.92 * 200.0 / (200.0 + age)
    }

    /// Appends `seg.n` slots starting at `next_ts` (some slots may be left out as missing bars).
    pub(crate) fn append(&mut self, rng: &mut Rng, seg: &Segment) {
        let n = seg.n;
        let start_ts = self.next_ts;
        let start = seg.open.unwrap_or(self.last_close.min(seg.cap));
        let sig: Vec<f64> = (0..n)
            .map(|k| self.sigma_at(start_ts + 60 * k as i64))
            .collect();
        let mut closes = vec![0.0; n];
        let mut flat = vec![false; n];
        // 0 = ordinary, 1 = pumping towards the peak, 2 = rug bar.
        let mut phase = vec![0u8; n];

        // Up to the peak: Brownian bridges (variance time) through the lead's waypoints (a pop,
        // then a dip under the open) to just under the cap.
        let post = if let Some(tp) = seg.peak {
            let delta = (sig[tp] * rng.normal()).abs() * 1.2;
            let target = seg.cap - delta;
            let lead = seg.lead;
            let mut knots: Vec<(usize, f64)> = Vec::with_capacity(3);
            if lead.pop > 0.0 && lead.pop_at < tp {
                knots.push((
                    lead.pop_at,
                    (start + lead.pop).min(seg.cap - 0.5 * (seg.cap - start)),
                ));
            }
            let after_pop = knots.last().map_or(0, |k| k.0 + 1);
            if lead.dip > 0.0 && lead.dip_at >= after_pop && lead.dip_at < tp {
                knots.push((lead.dip_at, (start - lead.dip).max(FLOOR + 1.0)));
            }
            knots.push((tp, target));
            let mut from = 0;
            let mut level = start;
            for &(to, x) in &knots {
                let mut w = Vec::with_capacity(to + 1 - from);
                let mut v = Vec::with_capacity(to + 1 - from);
                let (mut wk, mut vk) = (0.0, 0.0);
                for k in from..=to {
                    let s = sig[k].max(0.5 * self.sigma);
                    wk += s * rng.normal();
                    vk += s * s;
                    w.push(wk);
                    v.push(vk);
                }
                let miss = x - level - wk;
                for k in from..=to {
                    closes[k] = reflect(level + w[k - from] + v[k - from] / vk * miss, seg.cap);
                }
                closes[to] = x;
                from = to + 1;
                level = x;
            }
            // The last leg is the pump.
            let pump_from = knots.len().checked_sub(2).map_or(0, |i| knots[i].0 + 1);
            for p in &mut phase[pump_from..=tp] {
                *p = 1;
            }
            tp + 1
        } else {
            0
        };

        // After the peak: a random walk shaped by the style, reflected under the cap.
        let mut level = if post == 0 { start } else { closes[post - 1] };
        let n_post = (n - post).max(1) as f64;
        for k in post..n {
            let q = k - post;
            let frac = q as f64 / n_post;
            let s = sig[k];
            let (inc, is_flat) = match seg.style {
                Style::Rug { chop, drop, bars } => {
                    if q < chop {
                        (
                            s * rng.normal() - 0.1 * s / (1.0 + chop as f64).sqrt(),
                            false,
                        )
                    } else if q < chop + bars {
                        phase[k] = 2;
                        (-drop / bars as f64 + 0.2 * s * rng.normal(), false)
                    } else if rng.chance(0.7) {
                        (0.0, true)
                    } else {
                        (0.4 * s * rng.normal() - 0.0005, false)
                    }
                }
                Style::Bleed { drop } => {
                    if rng.chance(0.45 * frac) {
                        (0.0, true)
                    } else {
                        (-drop / n_post + s * rng.normal(), false)
                    }
                }
                Style::Hold { drift } => {
                    if rng.chance(0.15 * frac) {
                        (0.0, true)
                    } else {
                        (drift / n_post + s * rng.normal(), false)
                    }
                }
                Style::Dead => {
                    if rng.chance(0.75) {
                        (0.0, true)
                    } else {
                        (0.3 * s * rng.normal() - 0.0008, false)
                    }
                }
            };
            if !is_flat {
                level = reflect(level + inc, seg.cap);
            }
            closes[k] = level;
            flat[k] = is_flat;
        }

        // Bars: opens, wicks, gaps, volume and missing slots.
        let mut prev_close = start;
        let mut skip = 0u32;
        self.bars.reserve(n);
        for k in 0..n {
            let ts = start_ts + 60 * k as i64;
            let c = closes[k];
            let mut o = if k == 0 { start } else { prev_close };
            prev_close = c;
            let s = sig[k];
            let exact_open = k == 0 && seg.open.is_some();
            let is_peak = seg.peak == Some(k);
            let protected = is_peak || (k == 0 && seg.keep_first);
            if skip == 0 && !protected && rng.chance(0.0015) {
                skip = 1 + rng.below(3) as u32;
            }
            if skip > 0 && !protected {
                skip -= 1;
                continue;
            }
            skip = 0;
            if flat[k] && !is_peak {
                self.bars.push(Candle {
                    ts,
                    open: o,
                    high: o.max(c),
                    low: o.min(c),
                    close: c,
                    volume: 0.0,
                });
                continue;
            }
            if !exact_open && rng.chance(if phase[k] == 1 { 0.03 } else { 0.01 }) {
                o = reflect(o + 2.0 * s * rng.normal(), seg.cap);
            }
            let body_hi = o.max(c);
            let body_lo = o.min(c);
            let high = if is_peak {
                seg.cap
            } else {
                (body_hi + 0.7 * (s * rng.normal()).abs()).min(seg.cap)
            };
            let low = (body_lo - 0.7 * (s * rng.normal()).abs()).max(FLOOR - 2.0);
            let range = ((high - low) / s).min(25.0);
            let mut vol = self.base_vol
                * self.activity_at(ts)
                * (0.15 + 0.6 * range)
                * exp_det(0.7 * rng.normal());
            match phase[k] {
                1 => vol *= 1.8,
                2 => vol *= 12.0,
                _ => {}
            }
            if rng.chance(0.025) {
                vol *= 3.0 + 17.0 * rng.uniform();
            }
            self.bars.push(Candle {
                ts,
                open: o,
                high: high.max(body_hi),
                low,
                close: c,
                volume: vol,
            });
        }
        self.last_close = prev_close;
        self.next_ts = start_ts + 60 * n as i64;
    }

    /// Converts the log prices to prices. Keeps every candle valid even where two logs that
    /// are equal or ordered would round apart.
    pub(crate) fn finish(self) -> (String, Vec<Candle>) {
        let p = self.p_ref;
        let mut bars = self.bars;
        for b in &mut bars {
            let open = p * exp_det(b.open);
            let close = p * exp_det(b.close);
            let high = (p * exp_det(b.high)).max(open).max(close);
            let low = (p * exp_det(b.low)).min(open).min(close);
            b.open = open;
            b.high = high;
            b.low = low;
            b.close = close;
        }
        (self.mint, bars)
    }
}

/// The slot of the peak inside a window of `n` slots for a peak of `a` (ln multiple).
pub(crate) fn peak_slot(rng: &mut Rng, a: f64, n: usize) -> usize {
    if a < 0.14 {
        // Barely moves: the high is usually right at the start.
        if rng.chance(0.6) {
            return rng.below(12.min(n as u64)) as usize;
        }
        return rng.below(n as u64) as usize;
    }
    let mut u = rng.uniform() * rng.uniform();
    if rng.chance(0.5) {
        u *= rng.uniform();
    }
    let min = ((a * 6.0) as usize + 1).min(n - 1);
    min + (u * (n - 1 - min) as f64) as usize
}

/// How a path climbs to a peak of `a` (ln multiple) at slot `tp`, for a caller of `skill`.
///
/// Most calls shake out under the entry before they pump (or instead of pumping): a dip of
/// about 0.1–0.5 in log, somewhere in the first 10–80 % of the climb. A worse caller comes
/// later in the move, so the dip is likelier and deeper (skill −0.6: almost always, 1.5 times
/// as deep); a better one is early, so it dips less often and half as much, and its followers
/// more often give the token a quick pop in the first half hour before the shakeout — which is
/// what a low take profit lives on. The peak itself is unchanged, so the ATH calibration holds.
pub(crate) fn pick_lead(rng: &mut Rng, skill: f64, a: f64, tp: usize) -> Lead {
    let mut lead = Lead::default();
    if tp < 8 {
        return lead;
    }
    let mut first = 1;
    if rng.chance(0.3 + 0.3 * skill) {
        lead.pop = (0.05 + 0.45 * rng.uniform()).min(0.8 * a);
        lead.pop_at = 1 + rng.below(30.min(tp as u64 / 3)) as usize;
        first = lead.pop_at + 1;
    }
    if rng.chance(0.75 - 0.4 * skill) && first + 2 < tp {
        let u = 0.5 * (rng.uniform() + rng.uniform());
        lead.dip = (0.08 + 0.4 * u + 0.05 * a) * (1.0 - 0.9 * skill);
        let span = (tp - first) as f64;
        lead.dip_at = first + (span * (0.1 + 0.7 * rng.uniform())) as usize;
    }
    lead
}

/// What happens after the peak, for a caller of `skill` and a peak of `a`.
pub(crate) fn pick_style(rng: &mut Rng, skill: f64, a: f64) -> Style {
    if a < 0.1 && rng.chance(0.5) {
        return Style::Dead;
    }
    let r = rng.uniform();
    let p_rug = 0.30 - 0.15 * skill;
    if r < p_rug {
        let chop = (rng.uniform() * rng.uniform() * 300.0) as usize;
        Style::Rug {
            chop,
            drop: 1.2 + 1.8 * rng.uniform(),
            bars: 1 + rng.below(4) as usize,
        }
    } else if r < p_rug + 0.45 {
        // Bigger pumps give back more.
        Style::Bleed {
            drop: 0.3 + 2.0 * rng.uniform() + 0.4 * a,
        }
    } else {
        Style::Hold {
            drift: 0.2 - 0.6 * rng.uniform() - 0.3 * a,
        }
    }
}
