//! The wallet reduced to its metrics, for the search's inner loop: the same run as
//! [`run_wallet`](super::run_wallet) followed by [`Metrics::of`], bit for bit, without the
//! history (no `Offer`s, no `Taken` list, no equity curve, no allocation per run). Tokens are
//! integers and call ids ranks ([`Book`], built once per caller); open positions sit in a few
//! small arrays reused across runs ([`Scratch`]); the metrics' sums are accumulated as positions
//! are taken, in the same order as `Metrics::of` adds them.

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::Metrics;
use crate::num::median;
use crate::policy::CostModel;
use crate::sim::v1_pnl;
use crate::trade::{ExitReason, Trade};
use crate::wallet::{SkipReason, WalletConfig};

/// What the wallet, the metrics and the robustness measures read of one call's trade, in 32
/// bytes (an `Option<Trade>` takes 80): the search's blocks hold their trades in this form, so a
/// block of trades moves through the caches in 40 % of the bytes. The entry time is the call's
/// (the [`Book`] holds it), and the flags sit below the exit time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WalletTrade {
    /// The exit time (ms) times 8, plus 1 when the call has a trade (0: no entry, and every
    /// other field 0), 2 when its exit reason is `stop_loss` (the only reason the metrics
    /// count) and 4 when it is ambiguous. Times are within ±2^42 s (SPEC §8), so the product
    /// is exact.
    exit_flags: i64,
    pub net_multiple: f64,
    pub gross_multiple: f64,
    pub peak_multiple: f64,
}

impl WalletTrade {
    /// Whether the call has a trade.
    #[inline]
    pub fn traded(&self) -> bool {
        self.exit_flags & 1 != 0
    }

    #[inline]
    pub fn stop_loss(&self) -> bool {
        self.exit_flags & 2 != 0
    }

    #[inline]
    pub fn ambiguous(&self) -> bool {
        self.exit_flags & 4 != 0
    }

    #[inline]
    pub fn exit_ts_ms(&self) -> i64 {
        self.exit_flags >> 3
    }

    /// Whether the two give the same wallets, metrics and robustness measures: every field
    /// equal, numbers bit for bit.
    #[inline]
    pub fn same(&self, o: &WalletTrade) -> bool {
        self.exit_flags == o.exit_flags
            && self.net_multiple.to_bits() == o.net_multiple.to_bits()
            && self.gross_multiple.to_bits() == o.gross_multiple.to_bits()
            && self.peak_multiple.to_bits() == o.peak_multiple.to_bits()
    }
}

impl From<Option<&Trade>> for WalletTrade {
    #[inline]
    fn from(t: Option<&Trade>) -> WalletTrade {
        match t {
            None => WalletTrade::default(),
            Some(t) => WalletTrade {
                exit_flags: (t.exit_ts_ms << 3)
                    | 1
                    | i64::from(t.exit_reason == ExitReason::StopLoss) << 1
                    | i64::from(t.ambiguous) << 2,
                net_multiple: t.net_multiple,
                gross_multiple: t.gross_multiple,
                peak_multiple: t.peak_multiple,
            },
        }
    }
}

/// What the wallet reads of a caller's calls besides their trades, as integers: the token of
/// each call (equal tokens, equal ids), the rank of its call id in byte order (equal ids,
/// equal ranks) and its entry time (every trade of a call enters at the call's entry candle),
/// in the order the trades will be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    tokens: Vec<u32>,
    ranks: Vec<u32>,
    entries: Vec<i64>,
    /// Whether the calls with an entry come in entry order (entry time, then call id): then
    /// so do the trades of any column, and the wallet need not check.
    in_order: bool,
    /// Distinct tokens.
    token_count: usize,
}

impl Book {
    /// `calls` yields `(call_id, (chain, mint), entry_ts_ms)` in the order of the trades to
    /// come, `None` for a call without an entry (which never has a trade).
    pub fn new<'a>(
        calls: impl IntoIterator<Item = (&'a str, (&'a str, &'a str), Option<i64>)>,
    ) -> Book {
        let calls: Vec<(&str, (&str, &str), Option<i64>)> = calls.into_iter().collect();
        let mut ids: BTreeMap<(&[u8], &[u8]), u32> = BTreeMap::new();
        let tokens = calls
            .iter()
            .map(|&(_, (chain, mint), _)| {
                let next = ids.len() as u32;
                *ids.entry((chain.as_bytes(), mint.as_bytes()))
                    .or_insert(next)
            })
            .collect();
        let mut by_id: Vec<usize> = (0..calls.len()).collect();
        by_id.sort_by(|&a, &b| calls[a].0.as_bytes().cmp(calls[b].0.as_bytes()));
        let mut ranks = vec![0u32; calls.len()];
        let mut rank = 0u32;
        for (k, &i) in by_id.iter().enumerate() {
            if k > 0 && calls[by_id[k - 1]].0 != calls[i].0 {
                rank += 1;
            }
            ranks[i] = rank;
        }
        let keys = calls
            .iter()
            .zip(&ranks)
            .filter_map(|(c, &r)| c.2.map(|e| (e, r)));
        let in_order = keys.clone().zip(keys.skip(1)).all(|(a, b)| a <= b);
        Book {
            tokens,
            ranks,
            entries: calls.iter().map(|c| c.2.unwrap_or(0)).collect(),
            in_order,
            token_count: ids.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// The buffers one thread's wallet runs reuse: the open positions in the order they were taken,
/// the exits to come in the order they will happen, the open positions per token, the returns
/// of the positions taken, and the entry order when the trades do not come in it.
#[derive(Debug, Default)]
pub struct Scratch {
    open: VecDeque<Open>,
    /// `(exit_ts_ms, seq)` of the open positions, in closing order from `head` on.
    exits: Vec<(i64, u32)>,
    head: usize,
    per_token: Vec<u32>,
    returns: Vec<f64>,
    order: Vec<u32>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// An open position: its place among the positions taken, token, cost and the cash its close
/// returns.
#[derive(Debug, Clone, Copy)]
struct Open {
    seq: u32,
    token: u32,
    size: f64,
    credit: f64,
}

/// The running state of one wallet.
struct Run {
    free_cash: f64,
    peak_equity: f64,
    max_drawdown: f64,
    /// Positions taken so far.
    taken: u32,
    /// The open positions' cost summed as they come and go (`at_cost` in another order), and
    /// a bound on its distance from their exact sum.
    approx_cost: f64,
    approx_err: f64,
    /// An equity above this gives no drawdown beyond `max_drawdown` (set with the two).
    floor: f64,
}

impl Run {
    /// `peak_equity × (1 − max_drawdown)` raised by 16 roundings of the peak: an equity `E`
    /// above it has `(peak − E) / peak`, rounded as `run_wallet` rounds it, below
    /// `max_drawdown` (each rounding moves the quotient by at most one in 2⁵³; at 0 drawdown
    /// nothing passes, as an equity would have to exceed the peak).
    fn set_floor(&mut self) {
        self.floor =
            self.peak_equity * (1.0 - self.max_drawdown) + 8.0 * f64::EPSILON * self.peak_equity;
    }
}

/// The settings one run reads, unpacked.
#[derive(Clone, Copy)]
struct Rules {
    /// `WalletConfig::size`'s terms: the allocation, and the risk cap (`max_risk_per_trade /
    /// risk`, the same for every offer of a run).
    allocation: f64,
    risk_cap: f64,
    max_positions: usize,
    allow_same_token: bool,
    min_size: f64,
    cost_model: CostModel,
    fee_bps: f64,
    slippage_bps: f64,
}

/// [`Metrics::of`] of [`run_wallet`](super::run_wallet) over `trades`, the calls of `book` in
/// their order (a prefix of them when `trades` is shorter), every offer with the same
/// `entry_stop`.
#[allow(clippy::too_many_arguments)]
pub fn wallet_metrics(
    book: &Book,
    trades: &[WalletTrade],
    entry_stop: Option<f64>,
    cfg: &WalletConfig,
    cost_model: CostModel,
    fee_bps: f64,
    slippage_bps: f64,
    s: &mut Scratch,
) -> Metrics {
    assert!(
        trades.len() <= book.len(),
        "a trade for every call of the book"
    );
    let risk = match entry_stop {
        Some(s) => 1.0 - s,
        None => 1.0,
    };
    let rules = Rules {
        allocation: cfg.max_allocation_pct(),
        risk_cap: cfg.max_risk_per_trade() / risk,
        max_positions: cfg.max_concurrent_positions() as usize,
        allow_same_token: cfg.allow_same_token(),
        min_size: cfg.min_executable_size(),
        cost_model,
        fee_bps,
        slippage_bps,
    };
    // The wallet takes trades in entry order (entry time, call id, given order); offers
    // without a trade are skipped wherever they stand.
    let key = |i: usize| (book.entries[i], book.ranks[i], i);
    let mut no_entry = 0u32;
    let mut in_order = true;
    if !book.in_order {
        let mut last: Option<(i64, u32, usize)> = None;
        for (i, t) in trades.iter().enumerate() {
            if t.traded() {
                let k = key(i);
                in_order &= last.is_none_or(|l| l < k);
                last = Some(k);
            }
        }
    }
    s.open.clear();
    s.exits.clear();
    s.head = 0;
    s.per_token.clear();
    s.per_token.resize(book.token_count, 0);
    s.returns.clear();
    let initial = cfg.initial_capital();
    let mut run = Run {
        free_cash: initial,
        peak_equity: initial,
        max_drawdown: 0.0,
        taken: 0,
        approx_cost: 0.0,
        approx_err: 0.0,
        floor: f64::INFINITY,
    };
    run.set_floor();
    let mut acc = Acc::default();
    if in_order {
        for (i, t) in trades.iter().enumerate() {
            no_entry += u32::from(!t.traded());
            if t.traded() {
                offer(
                    t,
                    book.tokens[i],
                    book.entries[i],
                    rules,
                    &mut run,
                    &mut acc,
                    s,
                );
            }
        }
    } else {
        let mut order = std::mem::take(&mut s.order);
        order.clear();
        order.extend((0..trades.len() as u32).filter(|&i| trades[i as usize].traded()));
        no_entry = (trades.len() - order.len()) as u32;
        order.sort_unstable_by_key(|&i| key(i as usize));
        for &i in &order {
            let i = i as usize;
            offer(
                &trades[i],
                book.tokens[i],
                book.entries[i],
                rules,
                &mut run,
                &mut acc,
                s,
            );
        }
        s.order = order;
    }
    acc.skipped[SkipReason::NoEntry as usize] = no_entry;
    close_until(i64::MAX, &mut run, s);
    acc.metrics(&run, initial, &mut s.returns)
}

/// What the metrics sum as positions are taken, in entry order (as `Metrics::of` adds them).
#[derive(Default)]
struct Acc {
    skipped: [u32; 4],
    wins: u32,
    stops: u32,
    ambiguous: u32,
    max_open: usize,
    wins_usd: f64,
    losses_usd: f64,
    has_loss: bool,
    hold_hours: f64,
    capture: f64,
    captures: usize,
}

impl Acc {
    fn metrics(self, run: &Run, initial: f64, returns: &mut [f64]) -> Metrics {
        let n = returns.len();
        let nf = n as f64;
        let share = |count: u32| (n > 0).then(|| count as f64 / nf);
        let mean_return = (n > 0).then(|| {
            let mut sum = 0.0;
            for &r in returns.iter() {
                sum += r;
            }
            sum / nf
        });
        let sharpe = match mean_return {
            Some(m) if n >= 2 && returns.iter().any(|&r| r != returns[0]) => {
                let mut sq = 0.0;
                for &r in returns.iter() {
                    sq += (r - m) * (r - m);
                }
                let sd = (sq / (nf - 1.0)).sqrt();
                (sd > 0.0).then(|| m / sd)
            }
            _ => None,
        };
        Metrics {
            final_capital: run.free_cash,
            total_return: run.free_cash / initial - 1.0,
            trades: n as u32,
            skipped: self.skipped,
            win_rate: share(self.wins),
            mean_return,
            median_return: median(returns),
            profit_factor: self.has_loss.then(|| self.wins_usd / self.losses_usd.abs()),
            sharpe,
            max_drawdown: run.max_drawdown,
            stop_out_rate: share(self.stops),
            mean_hold_hours: (n > 0).then(|| self.hold_hours / nf),
            capture: (self.captures > 0).then(|| self.capture / self.captures as f64),
            ambiguous_trades: self.ambiguous,
        }
    }
}

/// One trade offered: positions closed up to its entry, then taken or skipped (SPEC §4, §12).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn offer(
    t: &WalletTrade,
    token: u32,
    entry_ts_ms: i64,
    rules: Rules,
    run: &mut Run,
    acc: &mut Acc,
    s: &mut Scratch,
) {
    close_until(entry_ts_ms, run, s);
    if s.open.len() >= rules.max_positions {
        acc.skipped[SkipReason::MaxPositions as usize] += 1;
        return;
    }
    if !rules.allow_same_token && s.per_token[token as usize] > 0 {
        acc.skipped[SkipReason::SameTokenOpen as usize] += 1;
        return;
    }
    // `WalletConfig::size`, term by term.
    let size = (rules.allocation * run.free_cash)
        .min(rules.risk_cap)
        .min(run.free_cash);
    if size.is_nan() || size <= 0.0 || size < rules.min_size {
        acc.skipped[SkipReason::BelowMinSize as usize] += 1;
        return;
    }
    let (credit, pnl, multiple) = match rules.cost_model {
        CostModel::Fills => {
            let credit = size * t.net_multiple;
            (credit, credit - size, t.net_multiple)
        }
        CostModel::V1 => {
            let pnl = v1_pnl(size, t.gross_multiple, rules.fee_bps, rules.slippage_bps);
            (size + pnl, pnl, 1.0 + pnl / size)
        }
    };
    run.free_cash -= size;
    let seq = run.taken;
    run.taken += 1;
    s.open.push_back(Open {
        seq,
        token,
        size,
        credit,
    });
    // A new exit usually comes last: its place is sought from the end.
    let key = (t.exit_ts_ms(), seq);
    let mut at = s.exits.len();
    while at > s.head && s.exits[at - 1] > key {
        at -= 1;
    }
    if at == s.exits.len() {
        s.exits.push(key);
    } else {
        s.exits.insert(at, key);
    }
    s.per_token[token as usize] += 1;
    run.approx_cost += size;
    run.approx_err += run.approx_cost.abs() * f64::EPSILON;
    acc.max_open = acc.max_open.max(s.open.len());
    s.returns.push(multiple - 1.0);
    // Without a branch (gains and losses alternate unpredictably): a sum that takes a zero
    // instead of skipping the term is the same to the bit (both sums start at +0.0 and move
    // away from zero, and x + ±0.0 = x), and a NaN pnl is skipped by both.
    acc.wins_usd += if pnl > 0.0 { pnl } else { 0.0 };
    acc.losses_usd += if pnl < 0.0 { pnl } else { 0.0 };
    acc.has_loss |= pnl < 0.0;
    acc.wins += u32::from(multiple > 1.0);
    acc.stops += u32::from(t.stop_loss());
    acc.ambiguous += u32::from(t.ambiguous());
    acc.hold_hours += (t.exit_ts_ms() - entry_ts_ms) as f64 / 3_600_000.0;
    if t.peak_multiple > 1.0 {
        acc.capture += (multiple - 1.0) / (t.peak_multiple - 1.0);
        acc.captures += 1;
    }
}

/// Closes every open position with exit ≤ `until`, earliest exit first (ties in the order they
/// were taken), updating the peak equity and the drawdown after each close. The equity is the
/// free cash plus the open positions at cost summed in the order they were taken, as
/// `run_wallet` sums them; that sum is only needed when the equity may be a new peak or give a
/// new largest drawdown, which a running sum with a bound on its rounding rules out for most
/// closes (the bound is wide: every operation is counted at twice its largest rounding error).
#[inline(always)]
fn close_until(until: i64, run: &mut Run, s: &mut Scratch) {
    const EPS: f64 = f64::EPSILON;
    while let Some(&(exit, seq)) = s.exits.get(s.head) {
        if exit > until {
            break;
        }
        s.head += 1;
        // The position closing is usually among the oldest: sought from the front.
        let j = s
            .open
            .iter()
            .position(|p| p.seq == seq)
            .expect("an exit of an open position");
        // The oldest, mostly: taken off the front without shifting the others.
        let p = if j == 0 {
            s.open.pop_front()
        } else {
            s.open.remove(j)
        }
        .expect("an open position");
        s.per_token[p.token as usize] -= 1;
        run.free_cash += p.credit;
        run.approx_cost -= p.size;
        run.approx_err += run.approx_cost.abs() * EPS;

        let live = s.open.len();
        let a = run.free_cash + run.approx_cost;
        let b = 2.0
            * (run.approx_err
                + (live + 4) as f64
                    * EPS
                    * (run.free_cash.abs() + run.approx_cost.abs() + run.approx_err));
        let (upper, lower) = (a + 2.0 * b, a - 2.0 * b);
        if upper < run.peak_equity && lower > run.floor {
            // Below the peak, and no deeper than the largest drawdown so far.
            continue;
        }
        let mut at_cost = 0.0;
        for q in &s.open {
            at_cost += q.size;
        }
        run.approx_cost = at_cost;
        run.approx_err = (live + 1) as f64 * EPS * at_cost;
        let equity = run.free_cash + at_cost;
        if equity > run.peak_equity {
            run.peak_equity = equity;
        }
        let dd = (run.peak_equity - equity) / run.peak_equity;
        if dd > run.max_drawdown {
            run.max_drawdown = dd;
        }
        run.set_floor();
    }
    // The exits already passed are dropped now and then, not at every close.
    if s.head >= 32 && 2 * s.head >= s.exits.len() {
        s.exits.drain(..s.head);
        s.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::splitmix::SplitMix64;
    use crate::wallet::{run_wallet, Offer, WalletParams};

    /// Random wallets (ties in entry time, calls out of order, repeated call ids and tokens,
    /// missing trades, few positions, both cost models, with and without a stop): the metrics
    /// equal `Metrics::of(run_wallet(…))` to the bit, on the whole book and on its prefixes.
    #[test]
    fn the_reduced_wallet_gives_the_full_wallets_metrics_bit_for_bit() {
        let mut rng = SplitMix64::new(21);
        let mut scratch = Scratch::new();
        let (mut checked, mut ordered) = (0, 0);
        for case in 0..3000 {
            // Every tenth case a long wallet with many positions open at once.
            let long = case % 10 == 0;
            let n = if long {
                300
            } else {
                (rng.next_u64() % 40) as usize
            };
            let ids: Vec<String> = (0..n)
                .map(|_| format!("c{}", rng.next_u64() % 30))
                .collect();
            let mints: Vec<String> = (0..n).map(|_| format!("m{}", rng.next_u64() % 6)).collect();
            let trades: Vec<Option<Trade>> = (0..n)
                .map(|_| {
                    (rng.below(7) != 0).then(|| {
                        let entry = (rng.next_u64() % if long { 900 } else { 50 }) as i64 * 60_000;
                        let exit = entry + (rng.next_u64() % 40) as i64 * 60_000;
                        let m = 0.2 + rng.unit() * 2.5;
                        Trade {
                            entry_ts_ms: entry,
                            entry_px: 1.0,
                            exit_ts_ms: exit,
                            exit_reason: ExitReason::ALL[(rng.next_u64() % 7) as usize],
                            gross_multiple: m * 1.003,
                            net_multiple: m,
                            peak_multiple: if rng.below(4) == 0 {
                                1.0
                            } else {
                                m + rng.unit()
                            },
                            mae: 0.0,
                            ambiguous: rng.below(5) == 0,
                            fills: 1,
                            candles_held: 1,
                        }
                    })
                })
                .collect();
            // Every third case in entry order (entry time, then call id), as a search's calls
            // come: the book then knows the order and the wallet does not check it.
            let (ids, trades) = if case % 3 == 1 {
                let mut rows: Vec<(String, Option<Trade>)> = ids.into_iter().zip(trades).collect();
                rows.sort_by_key(|(id, t)| {
                    (t.as_ref().map_or(i64::MIN, |t| t.entry_ts_ms), id.clone())
                });
                rows.into_iter().unzip()
            } else {
                (ids, trades)
            };
            let cfg = WalletConfig::new(WalletParams {
                initial_capital: 1000.0 + rng.unit() * 9000.0,
                max_allocation_pct: if long { 0.04 } else { 0.05 + rng.unit() * 0.9 },
                max_risk_per_trade: 50.0 + rng.unit() * 500.0,
                max_concurrent_positions: 1 + (rng.next_u64() % if long { 30 } else { 6 }) as u32,
                min_executable_size: rng.unit() * 100.0,
                allow_same_token: rng.below(3) == 0,
            })
            .unwrap();
            let stop = (case % 3 != 0).then(|| 0.5 + rng.unit() * 0.45);
            let cost = if case % 2 == 0 {
                CostModel::Fills
            } else {
                CostModel::V1
            };
            let book = Book::new((0..n).map(|i| {
                let entry = trades[i].as_ref().map(|t| t.entry_ts_ms);
                (ids[i].as_str(), ("sol", mints[i].as_str()), entry)
            }));
            if case % 3 == 1 {
                assert!(book.in_order, "case {case}: sorted calls are in order");
            }
            ordered += usize::from(book.in_order && n > 20);
            for end in [n, n / 2, n.saturating_sub(1)] {
                let offers: Vec<Offer<'_>> = (0..end)
                    .map(|i| Offer {
                        call_id: &ids[i],
                        token: ("sol", &mints[i]),
                        trade: trades[i].as_ref(),
                        entry_stop: stop,
                    })
                    .collect();
                let full = Metrics::of(&run_wallet(&offers, &cfg, cost, 30.0, 10.0));
                let column: Vec<WalletTrade> =
                    trades[..end].iter().map(|t| t.as_ref().into()).collect();
                let fast =
                    wallet_metrics(&book, &column, stop, &cfg, cost, 30.0, 10.0, &mut scratch);
                assert_eq!(
                    format!("{fast:?}"),
                    format!("{full:?}"),
                    "case {case}, {end} calls"
                );
                checked += usize::from(full.trades > 0 && full.skipped.iter().sum::<u32>() > 0);
            }
        }
        assert!(checked > 1000, "the cases take and skip: {checked}");
        assert!(ordered > 300, "the cases in entry order: {ordered}");
    }
}
