//! The embedded demo data set (SPEC §11): a pure, seeded generator of callers, calls and
//! 1-minute memecoin candles whose ATH multiples follow the SmugCalls distribution.
//!
//! Everything here is a function of the seed: no I/O, no clock, no DuckDB, no RNG crate (a
//! xoshiro256** seeded by the workspace's SplitMix64, in `rng.rs`), and only `+ − × ÷` and
//! `sqrt` on f64 (`exp` is computed by range reduction and a Taylor polynomial), so every
//! platform gets the same bytes. `quantbot demo-data` (prep-cli's `demo_db.rs`) writes what
//! [`generate`] returns into a DuckDB file.
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
//!
//! `path.rs` builds one token's path, `dataset.rs` the tokens and calls, `rng.rs` holds the
//! generator and `exp_det`, `tests.rs` checks the promises above on seed 7.

use quantbot_core::data::{Call, Candle};

use crate::dataset::Builder;

mod dataset;
mod path;
mod rng;
#[cfg(test)]
mod tests;

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
/// it also shapes the dip before the pump and the chance of a rug, see `path::pick_lead`).
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
