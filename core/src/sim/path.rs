//! A trade's path as data (what the lab's candle chart draws): the reference loop over the
//! same [`Ctx::step`], recording before each candle the levels the engine holds (the next
//! take-profit level, the stop-loss, the break-even once armed, the trailing stop once active,
//! and the stop in force) and every fill as it happens. Nothing is recomputed outside `step`:
//! the trade at the end is the reference simulator's, bit for bit.

use super::entry;
use super::reference::fires;
use super::step::{Costs, Ctx, Record, Stops};
use crate::data::Candle;
use crate::policy::{ExecConfig, Policy};
use crate::store::Bars;
use crate::trade::{ExitReason, NoEntry, Trade};

/// One fill of a trade: a take-profit level (`level`, its index in the ladder) or the
/// remainder's exit (`level` is `None`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    pub ts_ms: i64,
    pub px: f64,
    /// The fraction of the position it sells.
    pub fraction: f64,
    pub reason: ExitReason,
    pub level: Option<usize>,
    /// The candle it happened on, as a position in the window: intrabar fills are stamped
    /// with that candle's close time, gap fills with its open.
    pub pos: usize,
}

/// The levels in force while one candle is processed (as `step` sees them at its open).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelPoint {
    /// The candle's position in the window and its open time (seconds).
    pub pos: usize,
    pub ts: i64,
    /// The next pending take-profit level's price, if any.
    pub take_profit: Option<f64>,
    pub stops: Stops,
    /// The highest active stop and the reason it names (SPEC §3.3).
    pub stop: Option<(f64, ExitReason)>,
}

/// A trade with the levels before each checked candle and its fills in order.
#[derive(Debug, Clone, PartialEq)]
pub struct TradePath {
    pub trade: Trade,
    pub levels: Vec<LevelPoint>,
    pub fills: Vec<Fill>,
}

impl Record for Vec<Fill> {
    fn fill(&mut self, frac: f64, px: f64, ts_ms: i64, reason: ExitReason, level: Option<usize>) {
        self.push(Fill {
            ts_ms,
            px,
            fraction: frac,
            reason,
            level,
            // Set by `trade_path` once the candle's step returns.
            pos: usize::MAX,
        });
    }
}

/// The path of `policy` on `window` (the call's window, entry candle first), with the
/// indicator's firing positions computed as the reference simulator does.
pub fn trade_path(
    window: &[Candle],
    cfg: &ExecConfig,
    policy: &Policy,
) -> Result<TradePath, NoEntry> {
    let entry = entry(window, cfg)?;
    let costs = Costs::new(entry, cfg);
    let ctx = Ctx::new(window, entry, &costs, policy);
    let fires = fires(window, policy);
    let mut st = ctx.state_with(Vec::new());
    if ctx.last < entry.first_checked {
        // A close entry with no later candle before the deadline: the remainder exits at the
        // entry candle's close with nothing checked (`exit_without_checked_candle`).
        let trade = ctx
            .exit_without_checked_candle()
            .expect("no checked candle");
        let c = window.prices(ctx.last);
        st.rec.push(Fill {
            ts_ms: trade.exit_ts_ms,
            px: c.close,
            fraction: 1.0,
            reason: trade.exit_reason,
            level: None,
            pos: ctx.last,
        });
        return Ok(TradePath {
            trade,
            levels: Vec::new(),
            fills: st.rec,
        });
    }
    let mut levels = Vec::new();
    let mut low_min = entry.p0;
    for i in entry.first_checked..=ctx.last {
        levels.push(LevelPoint {
            pos: i,
            ts: window.ts(i),
            take_profit: (st.next_level < ctx.levels.len()).then(|| ctx.level_px(st.next_level)),
            stops: ctx.stops(st.peak),
            stop: ctx.stop(&st),
        });
        low_min = low_min.min(window.low(i));
        let done = ctx.step(&mut st, i, fires[i]);
        for f in st.rec.iter_mut().rev().take_while(|f| f.pos == usize::MAX) {
            f.pos = i;
        }
        if done {
            let trade = ctx.finish(&st, i, low_min);
            return Ok(TradePath {
                trade,
                levels,
                fills: st.rec,
            });
        }
    }
    unreachable!("the last traded candle always ends the trade")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{CostModel, EntryPrice, ExecParams, Intrabar, Ladder, PolicyParams};
    use crate::sim::{simulate_reference, CallPrep};
    use crate::splitmix::SplitMix64;
    use crate::store::Series;

    /// A random walk of `n` one-minute candles with wicks, gaps and flat stretches.
    fn window(rng: &mut SplitMix64, n: usize) -> Vec<Candle> {
        let mut px = 1.0;
        (0..n)
            .map(|i| {
                let open = px * (0.97 + 0.06 * rng.unit());
                let close = open * (0.9 + 0.25 * rng.unit());
                let high = open.max(close) * (1.0 + 0.08 * rng.unit());
                let low = open.min(close) * (1.0 - 0.08 * rng.unit());
                px = close;
                Candle {
                    ts: 1_700_000_000 + 60 * i as i64,
                    open,
                    high,
                    low,
                    close,
                    volume: 100.0 * rng.unit(),
                }
            })
            .collect()
    }

    /// Every policy of a grid with ladders, trailing stops, break-even and time stops, on
    /// random windows under both entries and both intrabar orders: the path's trade is the
    /// reference's and the fast evaluator's, its fills add up to the trade (fractions to 1,
    /// Σ fraction × px in the same order to `gross_multiple × P0`), the last fill is the exit,
    /// and a stop's exit fills at the stop level the path held on its candle.
    #[test]
    fn the_path_is_the_engines_trade_with_its_fills_and_levels() {
        let mut policies = Vec::new();
        for tp in [Some(1.3), Some(2.0), None] {
            for sl in [Some(0.85), None] {
                for (trail, trail_activation) in
                    [(None, None), (Some(0.1), None), (Some(0.1), Some(1.2))]
                {
                    for be_trigger in [None, Some(1.15)] {
                        for ladder in [
                            None,
                            Some(vec![(1.2, 0.5), (1.5, 0.5)]),
                            Some(vec![(1.25, 0.3)]),
                        ] {
                            for max_hold_hours in [0.5, 48.0] {
                                let params = PolicyParams {
                                    tp,
                                    sl,
                                    trail,
                                    trail_activation,
                                    be_trigger,
                                    ladder: ladder
                                        .clone()
                                        .map(|l| Ladder::new(l).expect("a ladder")),
                                    max_hold_hours,
                                    indicator: None,
                                };
                                if let Ok(p) = Policy::new(params) {
                                    policies.push(p);
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(policies.len() > 100, "{}", policies.len());
        let mut rng = SplitMix64::new(7);
        let (mut trades, mut stop_exits, mut ladders) = (0, 0, 0);
        for w in 0..24 {
            let candles = window(&mut rng, 40 + w * 7);
            for (entry_price, intrabar) in [
                (EntryPrice::Open, Intrabar::SlFirst),
                (EntryPrice::Close, Intrabar::TpFirst),
            ] {
                let cfg = ExecConfig::new(ExecParams {
                    entry_price,
                    intrabar,
                    cost_model: CostModel::Fills,
                    fee_bps: 30.0,
                    slippage_bps: 50.0,
                    ..ExecParams::default()
                })
                .expect("valid options");
                let series = Series::new(&candles);
                let prep =
                    CallPrep::new(series.window(0..candles.len()), &cfg, &[]).expect("an entry");
                for policy in &policies {
                    let path = trade_path(&candles, &cfg, policy).expect("an entry");
                    let reference = simulate_reference(&candles, &cfg, policy).unwrap();
                    assert_eq!(path.trade, reference);
                    assert_eq!(path.trade, prep.evaluate(&cfg, policy));
                    let t = &path.trade;
                    assert_eq!(path.fills.len() as u32, t.fills);
                    let last = path.fills.last().expect("a trade has fills");
                    assert_eq!(last.ts_ms, t.exit_ts_ms);
                    let fractions: f64 = path.fills.iter().map(|f| f.fraction).sum();
                    assert!((fractions - 1.0).abs() < 1e-12, "{fractions}");
                    let gross = path.fills.iter().fold(0.0, |g, f| g + f.fraction * f.px);
                    assert_eq!(gross / t.entry_px, t.gross_multiple);
                    if matches!(
                        t.exit_reason,
                        ExitReason::StopLoss | ExitReason::BreakEven | ExitReason::TrailingStop
                    ) {
                        let held = path.levels.last().expect("a checked candle");
                        let (stop, why) = held.stop.expect("a stop in force");
                        assert_eq!(why, t.exit_reason);
                        let candle = &candles[held.pos];
                        // At the stop, or at the open when the candle gapped through it.
                        let expected = if candle.open <= stop {
                            candle.open
                        } else {
                            stop
                        };
                        assert_eq!(last.px, expected);
                        stop_exits += 1;
                    }
                    if path.fills.iter().filter(|f| f.level.is_some()).count() > 1 {
                        ladders += 1;
                    }
                    trades += 1;
                }
            }
        }
        assert!(stop_exits > 100 && ladders > 20, "{stop_exits} {ladders}");
        println!("{trades} trades, {stop_exits} stop exits, {ladders} with two level fills");
    }
}
