//! The reference simulator (SPEC §3.2): the literal loop over every traded candle, the
//! definition the fast evaluator is tested against.

use super::entry;
use super::step::{Costs, Ctx};
use crate::data::Candle;
use crate::policy::{ExecConfig, Policy};
use crate::store::Bars;
use crate::trade::{NoEntry, Trade};

impl<B: Bars + ?Sized> Ctx<'_, B> {
    /// The literal loop: every traded candle in order.
    #[inline]
    pub(super) fn run_reference(&self, fires: &[bool]) -> Trade {
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
    Ok(ctx.run_reference(&fires(window, policy)))
}

/// Whether the policy's indicator rule fires on each candle of `window` (all false without a
/// rule), computed from the candles as the reference simulator does.
pub(super) fn fires(window: &[Candle], policy: &Policy) -> Vec<bool> {
    let mut fires = vec![false; window.len()];
    if let Some(rule) = &policy.params().indicator {
        for j in rule.fire_positions(window) {
            fires[j as usize] = true;
        }
    }
    fires
}
