//! The embedded demo data set (SPEC §11): a pure, seeded generator of callers, calls and
//! 1-minute memecoin candles whose ATH multiples follow the SmugCalls distribution.
//!
//! Everything here is a function of the seed: no I/O, no clock, no RNG crate (a xoshiro256**
//! seeded by SplitMix64 lives below), and only `+ − × ÷` and `sqrt` on f64 (`exp` is computed
//! here by range reduction and a Taylor polynomial), so every platform gets the same bytes.
//!
//! How a data set is built:
//! - ~2,700 tokens, each first called at a random time between 2025-05-01 and 2026-01-05 by one
//!   of 13 callers of different skill. The call's ATH multiple (max high over the 48 h window /
//!   open of the entry candle) is drawn from quantiles of the real SmugCalls `peak` field; a
//!   caller's skill tilts the quantile (the best of two draws, or the worst), and the skills are
//!   balanced by call volume so the pooled distribution stays the SmugCalls one.
//! - The path is built in log price: Brownian bridges from the entry open to the peak (so the
//!   peak high is exactly the drawn multiple) through an optional early pop and, for most
//!   calls, a shakeout under the entry first (median lowest low before the ATH about 0.75 of
//!   the entry; deeper and likelier the worse the caller, so tight stops are hit often and
//!   the weakest callers lose under any take profit / stop loss), then a rug, a slow bleed, a
//!   sideways drift or a dead token with flat bars, every bar kept under the peak. Wicks, gaps
//!   at the open, small runs of missing bars and spiky volume are added on the way.
//! - ~10 % of calls re-call a token already called, at a later alert inside its candles; the
//!   token's single series is then extended to cover the new 48 h window.
//! - A few calls are meant to be excluded, one reason each: `no_candles`, `late_start`,
//!   `insufficient_coverage`, `duplicate_call`. No candle is ever invalid.

use std::collections::BTreeSet;

use quantbot_core::data::{Call, Candle};
use quantbot_core::window::first_at_or_after;

/// The demo data set: calls sorted by `(alert_ts_ms, call_id)`, tokens sorted by `(chain, mint)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoData {
    pub calls: Vec<Call>,
    /// One entry per token: (chain, mint, candles sorted by ts, 60 s interval).
    pub tokens: Vec<(String, String, Vec<Candle>)>,
}

/// The candle interval of the demo data, in seconds.
pub const DEMO_INTERVAL_S: i64 = 60;

const CHAIN: &str = "solana";
/// 2025-05-01 00:00 UTC, the earliest alert.
const START_MS: i64 = 1_746_057_600_000;
/// 2026-01-05 00:00 UTC: every alert is before it, so every 48 h window ends before 2026-01-07.
const END_MS: i64 = 1_767_571_200_000;
/// Alerts stay this far before `END_MS`, so the entry candle (≤ 60 s later) is before it too.
const END_MARGIN_MS: i64 = 120_000;
/// Candle slots in a 48 h window.
const WINDOW_SLOTS: usize = 2880;
/// Lowest log price relative to the token's reference price (e^-14 ≈ 8e-7: always positive).
const FLOOR: f64 = -14.0;
/// A re-call comes at least this many slots (6 h) after the token's previous call.
const RECALL_MIN_SLOTS: i64 = 360;

/// One caller: display name, relative call volume and skill in [-1, 1] (the probability of
/// taking the best of two ATH quantile draws when positive, the worst of two when negative;
/// it also shapes the dip before the pump and the chance of a rug, see [`pick_lead`]).
/// Σ weight × skill = 0, so the pooled ATH distribution is the SmugCalls one.
struct Caller {
    name: &'static str,
    weight: u64,
    skill: f64,
}

const fn caller(name: &'static str, weight: u64, skill: f64) -> Caller {
    Caller {
        name,
        weight,
        skill,
    }
}

const CALLERS: [Caller; 13] = [
    caller("Brook 💀🧲", 8, 0.6),
    caller("Brook Giga I verify", 6, 0.2),
    caller("Alpha Calls", 10, 0.0),
    caller("Alpha Hunters", 5, -0.2),
    caller("AlphaSeeker", 7, -0.5),
    caller("Rayin", 6, 0.5),
    caller("SmugCalls", 14, 0.0),
    caller("Degen Dave", 9, -0.6),
    caller("Whale Watch", 7, 0.3),
    caller("Moonshot Max", 8, -0.3),
    caller("Sniper Sol", 6, 0.4),
    caller("Ape Academy", 8, -0.4),
    caller("Lowcap Gems", 5, 0.4),
];

/// Quantiles of ln(peak) of the SmugCalls data set (4,898 calls, `peak` field), linearly
/// interpolated in log between order statistics; the top is capped at 500x. Pairs of
/// (probability, ln multiple).
const ATH_LN_QUANTILES: [(f64, f64); 55] = [
    (0.0, 0.0),
    (0.02, 0.0),
    (0.04, 0.0),
    (0.06, 0.010939940038334263),
    (0.08, 0.031498667059371016),
    (0.1, 0.05259245011917063),
    (0.12, 0.07232066157962608),
    (0.14, 0.0931076551337557),
    (0.16, 0.11111184450290244),
    (0.18, 0.1319050708799386),
    (0.2, 0.14928170271575447),
    (0.22, 0.16918557742440932),
    (0.24, 0.19002507226593401),
    (0.26, 0.21124903565016348),
    (0.28, 0.23269776411902143),
    (0.3, 0.25231392861398955),
    (0.32, 0.27158316671384775),
    (0.34, 0.2919081246089754),
    (0.36, 0.3169398389872626),
    (0.38, 0.3370863030521581),
    (0.4, 0.3660310388627573),
    (0.42, 0.3878033431326153),
    (0.44, 0.4140944348062188),
    (0.46, 0.4457236956614984),
    (0.48, 0.4668737362368079),
    (0.5, 0.49225423818055525),
    (0.52, 0.5273522598549849),
    (0.54, 0.5621154798777697),
    (0.56, 0.5968124431342801),
    (0.58, 0.6314100379458869),
    (0.6, 0.6685469796916876),
    (0.62, 0.7072570332906403),
    (0.64, 0.7490548124982414),
    (0.66, 0.7988756205947823),
    (0.68, 0.8462801963545797),
    (0.7, 0.8947810183071645),
    (0.72, 0.9676832116382842),
    (0.74, 1.033817723903133),
    (0.76, 1.093894329797592),
    (0.78, 1.1564597132318575),
    (0.8, 1.2333179813356194),
    (0.82, 1.3174800451195308),
    (0.84, 1.4131796899012727),
    (0.86, 1.5276680416785),
    (0.88, 1.6256497691187364),
    (0.9, 1.744122647301686),
    (0.92, 1.9522150514039653),
    (0.94, 2.1964757051814843),
    (0.96, 2.5056395051570117),
    (0.98, 3.0112692135522083),
    (0.99, 3.5441690673911372),
    (0.995, 4.022317013469847),
    (0.998, 4.877894781146741),
    (0.999, 5.3426959628349175),
    // 500x (ln 500); the real maximum is 4,167x.
    (1.0, 6.214608098422191),
];

/// Generates the demo data set for `seed`. Pure and deterministic: the same seed gives the same
/// data on every platform; different seeds give different data.
///
/// Every token in `tokens` has at least one candle; a call whose mint is absent from `tokens`
/// has no candles at all (one of the `no_candles` cases). Tokens are unique by (chain, mint).
pub fn generate(seed: u64) -> DemoData {
    Builder::new(seed).run()
}

// ---------------------------------------------------------------------------------------------
// Random numbers and arithmetic-only math
// ---------------------------------------------------------------------------------------------

/// xoshiro256** seeded through SplitMix64.
struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in [0, n) (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform integer in [lo, hi) (hi > lo).
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// An approximately standard normal draw: the sum of four uniforms, centred and scaled to
    /// unit variance (bounded tails at ±3.46, which suits per-minute noise).
    fn normal(&mut self) -> f64 {
        let s = self.uniform() + self.uniform() + self.uniform() + self.uniform();
        (s - 2.0) * 1.732_050_807_568_877_2
    }
}

/// e^x with only `+ − × ÷`: Cody–Waite reduction by ln 2 and a degree-13 Taylor polynomial
/// (|r| ≤ 0.35, error far below an ulp of the result's use here). Bit-identical everywhere;
/// `exp_det(0.0) == 1.0` exactly.
fn exp_det(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    let x = x.clamp(-700.0, 700.0);
    let t = x * INV_LN2;
    let k = if t >= 0.0 {
        (t + 0.5) as i64
    } else {
        (t - 0.5) as i64
    };
    let kf = k as f64;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let mut p = 1.0;
    let mut i = 13;
    while i > 0 {
        p = 1.0 + r * p / i as f64;
        i -= 1;
    }
    p * f64::from_bits(((k + 1023) as u64) << 52)
}

/// ln of the ATH multiple for quantile `u` in [0, 1).
fn ath_ln(u: f64) -> f64 {
    let q = &ATH_LN_QUANTILES;
    let i = q.partition_point(|&(p, _)| p <= u).clamp(1, q.len() - 1);
    let (p0, v0) = q[i - 1];
    let (p1, v1) = q[i];
    v0 + (v1 - v0) * ((u - p0) / (p1 - p0))
}

/// An ATH quantile tilted by the caller's skill.
fn skilled_ath_ln(rng: &mut Rng, skill: f64) -> f64 {
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

fn mint(rng: &mut Rng) -> String {
    const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut s = String::with_capacity(44);
    for _ in 0..40 {
        s.push(B58[rng.below(58) as usize] as char);
    }
    s.push_str("pump");
    s
}

/// The first candle slot at or after an alert (slots are whole minutes).
fn slot_at_or_after(alert_ms: i64) -> i64 {
    (alert_ms + 59_999).div_euclid(60_000) * 60
}

// ---------------------------------------------------------------------------------------------
// Token paths
// ---------------------------------------------------------------------------------------------

/// What a path does after its peak (amounts are totals over the segment, in log price).
#[derive(Debug, Clone, Copy)]
enum Style {
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
struct Lead {
    /// An early pop above the open (the caller's followers buying), at slot `pop_at`.
    pop: f64,
    pop_at: usize,
    /// The shakeout under the open before the pump, at slot `dip_at` (after the pop).
    dip: f64,
    dip_at: usize,
}

/// One run of slots appended to a token's series.
struct Segment {
    n: usize,
    /// The exact log open of the first bar (a fresh call's entry candle opens at 0).
    open: Option<f64>,
    /// No high above this log price.
    cap: f64,
    /// The slot whose high is exactly `cap`.
    peak: Option<usize>,
    /// How the path gets to the peak.
    lead: Lead,
    style: Style,
    /// The first slot may not be missing (a fresh call's entry candle).
    keep_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Normal,
    LateStart,
    Sparse,
}

struct Token {
    mint: String,
    kind: Kind,
    /// Price of log level 0 (the first call's entry open).
    p_ref: f64,
    /// 1-minute log volatility at the first call.
    sigma: f64,
    /// Typical volume per minute at the first call.
    base_vol: f64,
    /// Log prices until `finish`.
    bars: Vec<Candle>,
    first_ts: i64,
    next_ts: i64,
    last_close: f64,
    last_entry_ts: i64,
    callers: Vec<usize>,
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
    fn append(&mut self, rng: &mut Rng, seg: &Segment) {
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
    fn finish(self) -> (String, Vec<Candle>) {
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
fn peak_slot(rng: &mut Rng, a: f64, n: usize) -> usize {
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
fn pick_lead(rng: &mut Rng, skill: f64, a: f64, tp: usize) -> Lead {
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
fn pick_style(rng: &mut Rng, skill: f64, a: f64) -> Style {
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

// ---------------------------------------------------------------------------------------------
// The data set
// ---------------------------------------------------------------------------------------------

/// A call before ids are given: sorted by (alert, seq), so a duplicate (made later) gets a
/// larger id than its original.
struct PendingCall {
    alert_ms: i64,
    seq: usize,
    caller: usize,
    mint: String,
    with_price: bool,
}

struct Builder {
    rng: Rng,
    mints: BTreeSet<String>,
    tokens: Vec<Token>,
    calls: Vec<PendingCall>,
    /// Indices into `calls` that are eligible by construction (candidates to duplicate).
    eligible: Vec<usize>,
}

impl Builder {
    fn new(seed: u64) -> Self {
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

    fn run(mut self) -> DemoData {
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::OnceLock;

    use quantbot_core::data::validate_candles;
    use quantbot_core::window::{call_window, classify, duplicate_flags, Exclusion, WindowSpec};

    use super::*;

    /// 2026-01-07 00:00 UTC in seconds: every window ends before it.
    const WINDOWS_END_S: i64 = 1_767_744_000;

    fn data() -> &'static DemoData {
        static DATA: OnceLock<DemoData> = OnceLock::new();
        DATA.get_or_init(|| generate(7))
    }

    fn candles_of<'a>(d: &'a DemoData, mint: &str) -> &'a [Candle] {
        match d.tokens.binary_search_by(|t| t.1.as_str().cmp(mint)) {
            Ok(i) => &d.tokens[i].2,
            Err(_) => &[],
        }
    }

    /// Each call's exclusion (None when eligible), with the SPEC §2.2 defaults at 60 s.
    fn classify_all(d: &DemoData) -> Vec<Option<Exclusion>> {
        let spec = WindowSpec::new(DEMO_INTERVAL_S);
        let dup = duplicate_flags(&d.calls);
        d.calls
            .iter()
            .zip(dup)
            .map(
                |(c, is_dup)| match classify(c, candles_of(d, &c.mint), &spec, 0.8) {
                    Err(e) => Some(e),
                    Ok(_) if is_dup => Some(Exclusion::DuplicateCall),
                    Ok(_) => None,
                },
            )
            .collect()
    }

    /// SPEC §2.2 / §12 caller-group matching: case-folded equality or whole-word prefix.
    fn matches(group: &str, caller: &str) -> bool {
        let g = group.to_lowercase();
        let c = caller.to_lowercase();
        match c.strip_prefix(g.as_str()) {
            Some("") => true,
            Some(rest) => rest
                .chars()
                .next()
                .is_some_and(|ch| !(ch.is_alphanumeric() || ch == '_')),
            None => false,
        }
    }

    #[test]
    fn deterministic_per_seed() {
        assert!(generate(7) == *data(), "generate(7) changed between calls");
        assert!(generate(8) != *data(), "different seeds gave the same data");
    }

    #[test]
    fn skills_balance_out() {
        let tilt: f64 = CALLERS.iter().map(|c| c.weight as f64 * c.skill).sum();
        assert!(tilt.abs() < 1e-9, "Σ weight × skill = {tilt}");
    }

    #[test]
    fn exp_is_accurate() {
        assert_eq!(exp_det(0.0), 1.0);
        for (x, want) in [
            (1.0, std::f64::consts::E),
            (std::f64::consts::LN_2, 2.0),
            (-3.0, 0.049_787_068_367_863_944),
            (6.214_608_098_422_191, 500.0),
        ] {
            let got = exp_det(x);
            assert!(
                (got / want - 1.0).abs() < 1e-14,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn every_token_is_valid_and_unique() {
        let d = data();
        let mut last: Option<(&str, &str)> = None;
        for (chain, mint, candles) in &d.tokens {
            assert_eq!(chain, "solana");
            assert!(!candles.is_empty(), "{mint} has no candles");
            if let Err(e) = validate_candles(candles, DEMO_INTERVAL_S) {
                panic!("{mint}: {e}");
            }
            for c in candles {
                assert!(
                    c.ts % DEMO_INTERVAL_S == 0,
                    "{mint}: ts {} off the minute",
                    c.ts
                );
                assert!(c.volume.is_finite() && c.volume >= 0.0, "{mint}: volume");
            }
            let key = (chain.as_str(), mint.as_str());
            assert!(last < Some(key), "tokens not sorted and unique at {mint}");
            last = Some(key);
        }
    }

    #[test]
    fn calls_look_right() {
        let d = data();
        let n = d.calls.len();
        assert!((2_500..=3_500).contains(&n), "{n} calls");
        let ids: BTreeSet<&str> = d.calls.iter().map(|c| c.call_id.as_str()).collect();
        assert_eq!(ids.len(), n, "call ids not unique");
        let mut seen_mints = BTreeSet::new();
        let (mut recalls, mut no_price) = (0, 0);
        for (i, c) in d.calls.iter().enumerate() {
            assert_eq!(c.call_id, format!("demo-{:06}", i + 1));
            assert_eq!(c.chain, "solana");
            assert_eq!(c.mint.len(), 44, "{}", c.mint);
            assert!(c.mint.ends_with("pump"));
            assert!(c
                .mint
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l')));
            assert!(
                (START_MS..END_MS).contains(&c.alert_ts_ms),
                "{} alert {}",
                c.call_id,
                c.alert_ts_ms
            );
            if i > 0 {
                assert!(
                    d.calls[i - 1].alert_ts_ms <= c.alert_ts_ms,
                    "calls not sorted"
                );
            }
            if !seen_mints.insert(c.mint.as_str()) {
                recalls += 1;
            }
            let candles = candles_of(d, &c.mint);
            match (c.price_at_alert, first_at_or_after(candles, c.alert_ts_ms)) {
                (Some(p), Some(e)) => assert_eq!(p, candles[e].open, "{}", c.call_id),
                (Some(_), None) => panic!("{} has a price but no candle", c.call_id),
                (None, _) => no_price += 1,
            }
        }
        let share = recalls as f64 / n as f64;
        assert!((0.07..=0.13).contains(&share), "re-called share {share}");
        assert!(
            no_price > n / 50 && no_price < n / 5,
            "{no_price} calls without price"
        );
        // Every candle of every token opens before 2026-01-07.
        for (_, mint, candles) in &d.tokens {
            assert!(
                candles.last().unwrap().ts < WINDOWS_END_S,
                "{mint} runs past the end"
            );
        }
    }

    #[test]
    fn callers_make_the_documented_groups_work() {
        let d = data();
        let mut per_caller: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &d.calls {
            *per_caller.entry(c.caller.as_str()).or_default() += 1;
        }
        let names: Vec<&str> = per_caller.keys().copied().collect();
        assert!((10..=14).contains(&names.len()), "{names:?}");
        for want in [
            "Brook 💀🧲",
            "Brook Giga I verify",
            "Alpha Calls",
            "AlphaSeeker",
            "Rayin",
            "SmugCalls",
        ] {
            assert!(per_caller.get(want).is_some_and(|&k| k >= 50), "{want}");
        }
        let brook: Vec<_> = names.iter().filter(|n| matches("brook", n)).collect();
        let alpha: Vec<_> = names.iter().filter(|n| matches("ALPHA", n)).collect();
        assert!(brook.len() >= 2, "{brook:?}");
        assert!(alpha.len() >= 2, "{alpha:?}");
        assert!(!matches("Alpha", "AlphaSeeker"));
        assert!(!matches("Brook", "Brooklyn"));
        // Skill shows: the best caller's median ATH beats the worst's.
        let spec = WindowSpec::new(DEMO_INTERVAL_S);
        let excl = classify_all(d);
        let median_of = |name: &str| {
            let mut v: Vec<f64> = d
                .calls
                .iter()
                .zip(&excl)
                .filter(|(c, x)| c.caller == name && x.is_none())
                .map(|(c, _)| ath(candles_of(d, &c.mint), c.alert_ts_ms, &spec))
                .collect();
            quantbot_core::num::median(&mut v).unwrap()
        };
        assert!(median_of("Brook 💀🧲") > median_of("Degen Dave"));
    }

    fn ath(candles: &[Candle], alert_ts_ms: i64, spec: &WindowSpec) -> f64 {
        let w = call_window(candles, alert_ts_ms, spec).expect("eligible call has a window");
        let p0 = candles[w.start].open;
        let mut hi = f64::NEG_INFINITY;
        for c in &candles[w] {
            hi = hi.max(c.high);
        }
        hi / p0
    }

    #[test]
    fn ath_distribution_is_calibrated() {
        let d = data();
        let spec = WindowSpec::new(DEMO_INTERVAL_S);
        let excl = classify_all(d);
        let mut aths: Vec<f64> = d
            .calls
            .iter()
            .zip(&excl)
            .filter(|(_, x)| x.is_none())
            .map(|(c, _)| ath(candles_of(d, &c.mint), c.alert_ts_ms, &spec))
            .collect();
        let n = aths.len() as f64;
        let share = |k: f64| aths.iter().filter(|&&a| a >= k).count() as f64 / n;
        let (p2, p5) = (share(2.0), share(5.0));
        let median = quantbot_core::num::median(&mut aths).unwrap();
        assert!((1.45..=1.75).contains(&median), "median ATH {median}");
        assert!((0.34..=0.44).contains(&p2), "share reaching 2x {p2}");
        assert!((0.09..=0.15).contains(&p5), "share reaching 5x {p5}");
    }

    #[test]
    fn some_calls_are_excluded_for_each_reason() {
        let d = data();
        let excl = classify_all(d);
        let mut by: BTreeMap<Exclusion, usize> = BTreeMap::new();
        for x in excl.iter().flatten() {
            *by.entry(*x).or_default() += 1;
        }
        for r in [
            Exclusion::NoCandles,
            Exclusion::LateStart,
            Exclusion::InsufficientCoverage,
            Exclusion::DuplicateCall,
        ] {
            assert!(
                by.get(&r).is_some_and(|&k| k >= 1),
                "no {} call: {by:?}",
                r.as_str()
            );
        }
        assert!(!by.contains_key(&Exclusion::InvalidCandles), "{by:?}");
        let total: usize = by.values().sum();
        let share = total as f64 / d.calls.len() as f64;
        assert!(
            (0.01..=0.03).contains(&share),
            "excluded share {share}: {by:?}"
        );
        // Duplicates repeat an earlier row with a larger id.
        for (c, x) in d.calls.iter().zip(&excl) {
            if *x == Some(Exclusion::DuplicateCall) {
                assert!(d.calls.iter().any(|o| o.call_id < c.call_id
                    && o.caller == c.caller
                    && o.mint == c.mint
                    && o.alert_ts_ms == c.alert_ts_ms
                    && o.price_at_alert == c.price_at_alert));
            }
        }
    }

    /// The eligible calls with their 48 h windows (from the entry candle).
    fn eligible_windows(d: &DemoData) -> Vec<(&Call, &[Candle])> {
        let spec = WindowSpec::new(DEMO_INTERVAL_S);
        d.calls
            .iter()
            .zip(classify_all(d))
            .filter(|(_, x)| x.is_none())
            .map(|(c, _)| {
                let candles = candles_of(d, &c.mint);
                let w = call_window(candles, c.alert_ts_ms, &spec).expect("eligible call");
                (c, &candles[w])
            })
            .collect()
    }

    #[test]
    fn prices_draw_down_before_the_pump() {
        let d = data();
        let windows = eligible_windows(d);
        let mut lows = Vec::with_capacity(windows.len());
        let mut shaken = 0;
        for (_, w) in &windows {
            let p0 = w[0].open;
            // The first candle with the window's highest high.
            let mut at = 0;
            for (i, c) in w.iter().enumerate() {
                if c.high > w[at].high {
                    at = i;
                }
            }
            let low = w[..=at].iter().fold(f64::INFINITY, |m, c| m.min(c.low));
            lows.push(low / p0);
            let pump = w.iter().position(|c| c.high >= 1.5 * p0).unwrap_or(w.len());
            if w[..pump].iter().any(|c| c.low <= 0.9 * p0) {
                shaken += 1;
            }
        }
        let shaken = shaken as f64 / windows.len() as f64;
        let median = quantbot_core::num::median(&mut lows).unwrap();
        assert!(
            (0.65..=0.85).contains(&median),
            "median low before the ATH {median}"
        );
        assert!(shaken >= 0.55, "share touching 0.9x before 1.5x {shaken}");
    }

    #[test]
    fn callers_win_and_lose_under_the_default_grid() {
        use quantbot_core::grid::{Grid, GridSpec};
        use quantbot_core::optimize::{search, CallWindow, Prepared, SearchOptions};
        use quantbot_core::policy::ExecConfig;
        use quantbot_core::wallet::WalletConfig;

        let d = data();
        let eligible = eligible_windows(d);
        let series: Vec<quantbot_core::store::Series> = eligible
            .iter()
            .map(|(_, candles)| quantbot_core::store::Series::new(candles))
            .collect();
        let windows: Vec<CallWindow<'_>> = eligible
            .iter()
            .zip(&series)
            .map(|((call, _), s)| CallWindow {
                call,
                candles: s.whole(),
            })
            .collect();
        let grid = Grid::new(GridSpec::default(), 48.0).unwrap();
        let exec = ExecConfig::defaults(DEMO_INTERVAL_S).unwrap();
        let prepared = Prepared::new(windows, &grid, &exec);
        let opts = SearchOptions::new(exec, WalletConfig::default());
        let result = search(&prepared, &grid, &opts);
        assert_eq!(result.per_caller.len(), CALLERS.len());
        let best: Vec<(&str, f64, f64)> = result
            .per_caller
            .iter()
            .map(|c| {
                let tp = grid.params(c.best).tp.unwrap();
                (c.caller.as_str(), c.best_scored().metrics.final_capital, tp)
            })
            .collect();
        let count = |f: &dyn Fn(&(&str, f64, f64)) -> bool| best.iter().filter(|b| f(b)).count();
        assert!(
            count(&|b| b.1 < 10_000.0) >= 3,
            "fewer than 3 callers lose under every policy: {best:?}"
        );
        assert!(
            count(&|b| b.1 > 15_000.0) >= 3,
            "fewer than 3 callers make 50 %: {best:?}"
        );
        assert!(
            count(&|b| b.2 < 5.0) >= 4,
            "the best take profit sits on the grid's edge too often: {best:?}"
        );
    }
}
