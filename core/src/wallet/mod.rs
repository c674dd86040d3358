//! The finite-capital wallet (SPEC §4): trades taken in entry order, positions closed before
//! each entry, sizing by free cash and risk, skips with their reasons, equity and drawdown.

use thiserror::Error;

mod score;
pub use score::{wallet_metrics, Book, Scratch, WalletTrade};

use crate::policy::CostModel;
use crate::sim::v1_pnl;
use crate::trade::{ExitReason, Trade};

/// A wallet setting no run may hold; the variant names the [`WalletParams`] field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WalletError {
    #[error("initial_capital must be finite and positive, got {0}")]
    InitialCapital(f64),
    #[error("max_allocation_pct must be in (0, 1], got {0}")]
    MaxAllocation(f64),
    #[error("max_risk_per_trade must be finite and positive, got {0}")]
    MaxRisk(f64),
    #[error("max_concurrent_positions must be at least 1, got {0}")]
    MaxPositions(u32),
    #[error("min_executable_size must be finite and at least 0, got {0}")]
    MinSize(f64),
}

/// The raw wallet settings, as a user gives them; [`WalletConfig::new`] validates them. The
/// defaults are the original v1 values (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalletParams {
    pub initial_capital: f64,
    /// The most of the free cash one trade may take, as a fraction in (0, 1].
    pub max_allocation_pct: f64,
    /// The most one trade may lose at its stop, in cash.
    pub max_risk_per_trade: f64,
    pub max_concurrent_positions: u32,
    /// Trades sized below this are skipped.
    pub min_executable_size: f64,
    /// Whether a token may be held twice at once.
    pub allow_same_token: bool,
}

impl Default for WalletParams {
    fn default() -> Self {
        WalletParams {
            initial_capital: 10_000.0,
            max_allocation_pct: 0.04,
            max_risk_per_trade: 200.0,
            max_concurrent_positions: 25,
            min_executable_size: 10.0,
            allow_same_token: false,
        }
    }
}

/// Validated [`WalletParams`]; the default holds the defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WalletConfig {
    params: WalletParams,
}

impl WalletConfig {
    pub fn new(params: WalletParams) -> Result<WalletConfig, WalletError> {
        let WalletParams {
            initial_capital,
            max_allocation_pct,
            max_risk_per_trade,
            max_concurrent_positions,
            min_executable_size,
            allow_same_token: _,
        } = params;
        if !(initial_capital.is_finite() && initial_capital > 0.0) {
            return Err(WalletError::InitialCapital(initial_capital));
        }
        if !(max_allocation_pct > 0.0 && max_allocation_pct <= 1.0) {
            return Err(WalletError::MaxAllocation(max_allocation_pct));
        }
        if !(max_risk_per_trade.is_finite() && max_risk_per_trade > 0.0) {
            return Err(WalletError::MaxRisk(max_risk_per_trade));
        }
        if max_concurrent_positions == 0 {
            return Err(WalletError::MaxPositions(0));
        }
        if !(min_executable_size.is_finite() && min_executable_size >= 0.0) {
            return Err(WalletError::MinSize(min_executable_size));
        }
        Ok(WalletConfig { params })
    }

    pub fn params(&self) -> &WalletParams {
        &self.params
    }
    pub fn initial_capital(&self) -> f64 {
        self.params.initial_capital
    }
    pub fn max_allocation_pct(&self) -> f64 {
        self.params.max_allocation_pct
    }
    pub fn max_risk_per_trade(&self) -> f64 {
        self.params.max_risk_per_trade
    }
    pub fn max_concurrent_positions(&self) -> u32 {
        self.params.max_concurrent_positions
    }
    pub fn min_executable_size(&self) -> f64 {
        self.params.min_executable_size
    }
    pub fn allow_same_token(&self) -> bool {
        self.params.allow_same_token
    }

    /// `min(max_allocation_pct × free_cash, max_risk_per_trade / risk, free_cash)` where
    /// `risk = 1 − entry stop`, or 1 without a stop in force at entry.
    pub fn size(&self, free_cash: f64, entry_stop: Option<f64>) -> f64 {
        let risk = match entry_stop {
            Some(s) => 1.0 - s,
            None => 1.0,
        };
        (self.params.max_allocation_pct * free_cash)
            .min(self.params.max_risk_per_trade / risk)
            .min(free_cash)
    }
}

/// Why a call was not traded, in the order the reasons are tested (SPEC §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    NoEntry,
    MaxPositions,
    SameTokenOpen,
    BelowMinSize,
}

impl SkipReason {
    pub const ALL: [SkipReason; 4] = [
        SkipReason::NoEntry,
        SkipReason::MaxPositions,
        SkipReason::SameTokenOpen,
        SkipReason::BelowMinSize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NoEntry => "no_entry",
            SkipReason::MaxPositions => "max_positions",
            SkipReason::SameTokenOpen => "same_token_open",
            SkipReason::BelowMinSize => "below_min_size",
        }
    }
}

/// One call offered to the wallet: its trade (if any), its token and the policy's entry stop.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    pub call_id: &'a str,
    /// The token as `(chain, mint)`.
    pub token: (&'a str, &'a str),
    pub trade: Option<&'a Trade>,
    pub entry_stop: Option<f64>,
}

/// A position the wallet took. `offer` indexes the offers given to [`run_wallet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Taken {
    pub offer: usize,
    pub size: f64,
    pub pnl: f64,
    /// `M` as the wallet credits it (under v1: `1 + pnl / size`).
    pub multiple: f64,
    pub exit_reason: ExitReason,
    pub entry_ts_ms: i64,
    pub exit_ts_ms: i64,
    pub peak_multiple: f64,
    pub ambiguous: bool,
}

/// What the wallet did with one offer (the lab's decision log), in the order it decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The offer, as an index into the offers given to [`run_wallet`].
    pub offer: usize,
    /// `Ok(k)`: taken, as `taken[k]`; `Err(reason)`: skipped.
    pub outcome: Result<usize, SkipReason>,
    /// The free cash when the wallet decided (after crediting the positions that closed by
    /// the entry).
    pub free_cash: f64,
    /// The positions open when it decided.
    pub open: usize,
}

/// The wallet's history and final state.
#[derive(Debug, Clone, PartialEq)]
pub struct WalletRun {
    pub initial_capital: f64,
    pub final_capital: f64,
    /// Positions in entry order.
    pub taken: Vec<Taken>,
    /// Every skipped offer with its reason, in entry order.
    pub skips: Vec<(usize, SkipReason)>,
    /// Equity after each close: `(exit_ts_ms, equity)`.
    pub equity: Vec<(i64, f64)>,
    pub max_drawdown: f64,
    /// The largest number of positions open at once.
    pub max_open: usize,
    /// Every offer, taken or skipped, in the order the wallet decided.
    pub decisions: Vec<Decision>,
}

impl WalletRun {
    pub fn skip_counts(&self) -> [u32; 4] {
        let mut n = [0; 4];
        for &(_, why) in &self.skips {
            n[why as usize] += 1;
        }
        n
    }
}

struct Open {
    taken: usize,
    /// The position's size (cost), as in `run.taken[taken].size`.
    size: f64,
    credit: f64,
    exit_ts_ms: i64,
}

/// Runs the wallet over `offers` (SPEC §4, §12). Offers are taken in entry order
/// `(entry_ts_ms, call_id)`; offers without a trade are skipped as `no_entry` in their given
/// order.
pub fn run_wallet(
    offers: &[Offer<'_>],
    cfg: &WalletConfig,
    cost_model: CostModel,
    fee_bps: f64,
    slippage_bps: f64,
) -> WalletRun {
    // Offers without a trade sort first; their place changes nothing but the skip list.
    let before = |a: usize, b: usize| {
        let ka = offers[a].trade.map(|t| t.entry_ts_ms);
        let kb = offers[b].trade.map(|t| t.entry_ts_ms);
        ka.cmp(&kb)
            .then_with(|| {
                offers[a]
                    .call_id
                    .as_bytes()
                    .cmp(offers[b].call_id.as_bytes())
            })
            .then(a.cmp(&b))
    };
    // Offers usually arrive in entry order already (a caller's calls in time order); then
    // the order is the identity and nothing is sorted.
    let in_order = (1..offers.len()).all(|k| before(k - 1, k).is_lt());
    let order: Vec<usize> = if in_order {
        Vec::new()
    } else {
        let mut order: Vec<usize> = (0..offers.len()).collect();
        order.sort_by(|&a, &b| before(a, b));
        order
    };

    let mut run = WalletRun {
        initial_capital: cfg.params.initial_capital,
        final_capital: cfg.params.initial_capital,
        taken: Vec::with_capacity(offers.len()),
        skips: Vec::new(),
        equity: Vec::with_capacity(offers.len()),
        max_drawdown: 0.0,
        max_open: 0,
        decisions: Vec::with_capacity(offers.len()),
    };
    let mut free_cash = cfg.params.initial_capital;
    let mut peak_equity = cfg.params.initial_capital;
    let mut open: Vec<Open> = Vec::new();

    for n in 0..offers.len() {
        let k = if in_order { n } else { order[n] };
        let offer = &offers[k];
        let decide = |run: &mut WalletRun, outcome, free_cash, open: &[Open]| {
            if let Err(why) = outcome {
                run.skips.push((k, why));
            }
            run.decisions.push(Decision {
                offer: k,
                outcome,
                free_cash,
                open: open.len(),
            });
        };
        let Some(trade) = offer.trade else {
            decide(&mut run, Err(SkipReason::NoEntry), free_cash, &open);
            continue;
        };
        close_until(
            trade.entry_ts_ms,
            &mut open,
            &mut free_cash,
            &mut run,
            &mut peak_equity,
        );
        if open.len() >= cfg.params.max_concurrent_positions as usize {
            decide(&mut run, Err(SkipReason::MaxPositions), free_cash, &open);
            continue;
        }
        if !cfg.params.allow_same_token
            && open
                .iter()
                .any(|p| offers[run.taken[p.taken].offer].token == offer.token)
        {
            decide(&mut run, Err(SkipReason::SameTokenOpen), free_cash, &open);
            continue;
        }
        let size = cfg.size(free_cash, offer.entry_stop);
        // A size that is not positive (no free cash left) is below any minimum, also 0.
        if size.is_nan() || size <= 0.0 || size < cfg.params.min_executable_size {
            decide(&mut run, Err(SkipReason::BelowMinSize), free_cash, &open);
            continue;
        }
        let index = run.taken.len();
        decide(&mut run, Ok(index), free_cash, &open);
        let (credit, pnl, multiple) = match cost_model {
            CostModel::Fills => {
                let credit = size * trade.net_multiple;
                (credit, credit - size, trade.net_multiple)
            }
            CostModel::V1 => {
                let pnl = v1_pnl(size, trade.gross_multiple, fee_bps, slippage_bps);
                (size + pnl, pnl, 1.0 + pnl / size)
            }
        };
        free_cash -= size;
        open.push(Open {
            taken: run.taken.len(),
            size,
            credit,
            exit_ts_ms: trade.exit_ts_ms,
        });
        run.taken.push(Taken {
            offer: k,
            size,
            pnl,
            multiple,
            exit_reason: trade.exit_reason,
            entry_ts_ms: trade.entry_ts_ms,
            exit_ts_ms: trade.exit_ts_ms,
            peak_multiple: trade.peak_multiple,
            ambiguous: trade.ambiguous,
        });
        run.max_open = run.max_open.max(open.len());
    }
    close_until(
        i64::MAX,
        &mut open,
        &mut free_cash,
        &mut run,
        &mut peak_equity,
    );
    run.final_capital = free_cash;
    run
}

/// Closes every open position with exit ≤ `until` in (exit_ts_ms, entry order) order,
/// crediting its cash and recording equity (free cash + open positions at cost) after each.
fn close_until(
    until: i64,
    open: &mut Vec<Open>,
    free_cash: &mut f64,
    run: &mut WalletRun,
    peak_equity: &mut f64,
) {
    loop {
        let next = open
            .iter()
            .enumerate()
            .filter(|(_, p)| p.exit_ts_ms <= until)
            .min_by_key(|(_, p)| (p.exit_ts_ms, p.taken))
            .map(|(k, _)| k);
        let Some(k) = next else { break };
        let p = open.remove(k);
        *free_cash += p.credit;
        let mut at_cost = 0.0;
        for q in open.iter() {
            at_cost += q.size;
        }
        let equity = *free_cash + at_cost;
        run.equity.push((p.exit_ts_ms, equity));
        if equity > *peak_equity {
            *peak_equity = equity;
        }
        let dd = (*peak_equity - equity) / *peak_equity;
        if dd > run.max_drawdown {
            run.max_drawdown = dd;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(entry_s: i64, exit_s: i64, m: f64) -> Trade {
        Trade {
            entry_ts_ms: entry_s * 1000,
            entry_px: 1.0,
            exit_ts_ms: exit_s * 1000,
            exit_reason: ExitReason::TimeExit,
            gross_multiple: m,
            net_multiple: m,
            peak_multiple: m.max(1.0),
            mae: 0.0,
            ambiguous: false,
            fills: 1,
            candles_held: 1,
        }
    }

    type Summary<'a> = (
        Vec<(&'a str, f64, f64)>,
        Vec<(&'a str, SkipReason)>,
        Vec<(i64, f64)>,
        f64,
        f64,
    );

    /// A run with offers named by call id rather than by their place in the input.
    fn summary<'a>(offers: &[Offer<'a>], cfg: &WalletConfig) -> Summary<'a> {
        let r = run_wallet(offers, cfg, CostModel::Fills, 0.0, 0.0);
        let taken = r
            .taken
            .iter()
            .map(|t| (offers[t.offer].call_id, t.size, t.pnl))
            .collect();
        let skips = r
            .skips
            .iter()
            .map(|&(k, why)| (offers[k].call_id, why))
            .collect();
        (taken, skips, r.equity, r.final_capital, r.max_drawdown)
    }

    /// The wallet takes offers in entry order whatever order they are given in (SPEC §4.1):
    /// in order it skips the sort, out of order it sorts; both runs are the same.
    #[test]
    fn given_order_does_not_matter() {
        let ids: Vec<String> = (0..12).map(|k| format!("c{k:02}")).collect();
        let trades: Vec<Trade> = (0..12)
            .map(|k| {
                trade(
                    60 * (k / 2),
                    60 * (k / 2) + 400 - 30 * k,
                    0.8 + 0.05 * k as f64,
                )
            })
            .collect();
        let offers: Vec<Offer<'_>> = (0..12)
            .map(|k| Offer {
                call_id: &ids[k],
                token: ("solana", if k % 5 == 0 { "same" } else { &ids[k] }),
                trade: (k != 7).then_some(&trades[k]),
                entry_stop: Some(0.9),
            })
            .collect();
        let cfg = WalletConfig::new(WalletParams {
            initial_capital: 1000.0,
            max_allocation_pct: 0.25,
            max_risk_per_trade: 50.0,
            max_concurrent_positions: 3,
            ..WalletParams::default()
        })
        .unwrap();
        let reversed: Vec<Offer<'_>> = offers.iter().rev().copied().collect();
        let a = summary(&offers, &cfg);
        assert_eq!(a, summary(&reversed, &cfg));
        assert!(a.1.len() >= 2, "the case exercises skips: {:?}", a.1);
    }

    /// The decision log has every offer once, in the wallet's order, and each decision is
    /// what the state it records implies: a taken offer's size is the sizing rule on the free
    /// cash it records, `max_positions` records a full wallet, `below_min_size` a size under
    /// the minimum; its counts are the run's `taken` and `skip_counts`.
    #[test]
    fn the_decision_log_explains_every_offer() {
        let mut rng = crate::splitmix::SplitMix64::new(5);
        let n = 400;
        let ids: Vec<String> = (0..n).map(|k| format!("c{k:03}")).collect();
        let mints = ["a", "b", "c", "d", "e", "f"];
        let trades: Vec<Trade> = (0..n)
            .map(|k| {
                let entry = 60 * k as i64 + rng.below(90) as i64;
                trade(
                    entry,
                    entry + 60 + rng.below(3000) as i64,
                    0.3 + 2.0 * rng.unit(),
                )
            })
            .collect();
        let offers: Vec<Offer<'_>> = (0..n)
            .map(|k| Offer {
                call_id: &ids[k],
                token: ("solana", rng.pick(&mints)),
                trade: (!rng.chance(0.05)).then_some(&trades[k]),
                entry_stop: rng.chance(0.5).then_some(0.9),
            })
            .collect();
        let cfg = WalletConfig::new(WalletParams {
            initial_capital: 1000.0,
            max_allocation_pct: 0.3,
            max_risk_per_trade: 40.0,
            max_concurrent_positions: 4,
            min_executable_size: 60.0,
            ..WalletParams::default()
        })
        .unwrap();
        let run = run_wallet(&offers, &cfg, CostModel::Fills, 30.0, 10.0);
        let mut seen = vec![0; n];
        let mut taken = 0;
        let mut skipped = [0u32; 4];
        for d in &run.decisions {
            seen[d.offer] += 1;
            match d.outcome {
                Ok(k) => {
                    assert_eq!(k, taken, "taken in order");
                    let t = &run.taken[k];
                    assert_eq!(t.offer, d.offer);
                    assert_eq!(t.size, cfg.size(d.free_cash, offers[d.offer].entry_stop));
                    assert!(d.open < 4);
                    taken += 1;
                }
                Err(why) => {
                    match why {
                        SkipReason::NoEntry => assert!(offers[d.offer].trade.is_none()),
                        SkipReason::MaxPositions => assert_eq!(d.open, 4),
                        SkipReason::BelowMinSize => {
                            assert!(cfg.size(d.free_cash, offers[d.offer].entry_stop) < 60.0)
                        }
                        SkipReason::SameTokenOpen => assert!(d.open > 0),
                    }
                    skipped[why as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "every offer decided once");
        assert_eq!(taken, run.taken.len());
        assert_eq!(skipped, run.skip_counts());
        assert!(
            skipped.iter().all(|&c| c > 0),
            "every reason exercised: {skipped:?}"
        );
    }

    /// The defaults with `f` applied give `expected`.
    fn check(f: impl FnOnce(&mut WalletParams), expected: Result<(), WalletError>) {
        let mut p = WalletParams::default();
        f(&mut p);
        assert_eq!(
            WalletConfig::new(p).map(|c| *c.params()),
            expected.map(|()| p)
        );
    }

    #[test]
    fn impossible_settings_are_refused_by_field() {
        check(|_| {}, Ok(()));
        check(|p| p.max_allocation_pct = 1.0, Ok(()));
        check(|p| p.min_executable_size = 0.0, Ok(()));
        check(
            |p| p.initial_capital = 0.0,
            Err(WalletError::InitialCapital(0.0)),
        );
        check(
            |p| p.initial_capital = f64::INFINITY,
            Err(WalletError::InitialCapital(f64::INFINITY)),
        );
        check(
            |p| p.max_allocation_pct = 1.5,
            Err(WalletError::MaxAllocation(1.5)),
        );
        check(
            |p| p.max_allocation_pct = 0.0,
            Err(WalletError::MaxAllocation(0.0)),
        );
        check(
            |p| p.max_risk_per_trade = -1.0,
            Err(WalletError::MaxRisk(-1.0)),
        );
        check(
            |p| p.max_concurrent_positions = 0,
            Err(WalletError::MaxPositions(0)),
        );
        check(
            |p| p.min_executable_size = -1.0,
            Err(WalletError::MinSize(-1.0)),
        );
        assert_eq!(WalletConfig::default().params(), &WalletParams::default());
    }
}
