//! Execution of one call under one policy (SPEC §3): the entry, and two algorithms that give
//! the same trade bit for bit.
//! - `step.rs`: the per-candle order of events (`Ctx::step`), shared by both algorithms;
//! - `reference.rs`: the literal candle-by-candle reference simulator, [`simulate_reference`];
//! - `fast.rs`: the fast evaluator, [`CallPrep`], which answers a grid point from per-call
//!   precomputation without re-scanning candles (§3.6);
//! - `memo.rs`: the first-passage answers the fast evaluator remembers across policies;
//! - `path.rs`: a trade's levels and fills as data, [`trade_path`] (the lab's candle chart).
//!
//! A window always starts at the entry candle `e` (position 0): see [`crate::window`].

mod fast;
mod memo;
mod path;
mod reference;
mod step;

pub use fast::CallPrep;
pub use path::{trade_path, Fill, LevelPoint, TradePath};
pub use reference::simulate_reference;
pub use step::Stops;

use crate::policy::{EntryPrice, ExecConfig};
use crate::store::Bars;
use crate::trade::NoEntry;

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
#[inline]
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
