//! Grid search (SPEC §6): per-caller wallets over every grid point, the best policy per caller
//! with its `collapsed` and `edge` flags, the grouped wallet of the kept callers, and the
//! holdout split, and each caller's robustness (SPEC §13, [`crate::robust`]) from the same
//! evaluation. Grid points are evaluated in parallel and merged in policy-index order, so
//! results never depend on the number of threads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};

use rayon::prelude::*;
use thiserror::Error;

use crate::data::Call;
use crate::grid::Grid;
use crate::metrics::{best, Constraints, Metrics, Objective, Scored};
use crate::policy::{ExecConfig, Policy};
use crate::robust::{blocks, deflated_sharpe, Cscv, Fold, Robustness, SetPerf, WalkForward};
use crate::sim::CallPrep;
use crate::store::Window;
use crate::trade::Trade;
use crate::wallet::{
    run_wallet, wallet_metrics, Book, Offer, Scratch, WalletConfig, WalletRun, WalletTrade,
};

/// One eligible call and its window (starting at the entry candle), read from its token's
/// compact [`crate::store::Series`].
#[derive(Debug, Clone, Copy)]
pub struct CallWindow<'a> {
    pub call: &'a Call,
    pub candles: Window<'a>,
}

/// Which results a run produces (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    PerCaller,
    Grouped,
    #[default]
    Both,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::PerCaller, Mode::Grouped, Mode::Both];

    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::PerCaller => "per-caller",
            Mode::Grouped => "grouped",
            Mode::Both => "both",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum OptionsError {
    #[error("holdout fraction must be in [0, 1), got {0}")]
    Holdout(f64),
}

/// How callers are selected and judged. Build with [`SearchOptions::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub exec: ExecConfig,
    pub wallet: WalletConfig,
    pub objective: Objective,
    pub constraints: Constraints,
    pub mode: Mode,
    /// Callers with fewer eligible calls are left out entirely.
    pub min_calls: usize,
    pub filter_collapsed: bool,
    pub filter_edge: bool,
    /// Walk-forward folds `K` (SPEC §13.3); 0 is off.
    pub folds: usize,
    /// Whether per-caller results carry SPEC §13's robustness (in `per-caller` and `both`
    /// modes; on by default). Off only to measure what it costs (the benchmark).
    pub robustness: bool,
    holdout_fraction: f64,
}

impl SearchOptions {
    /// Defaults of the CLI: both modes, both filters on, no holdout, no constraints.
    pub fn new(exec: ExecConfig, wallet: WalletConfig) -> SearchOptions {
        SearchOptions {
            exec,
            wallet,
            objective: Objective::FinalCapital,
            constraints: Constraints::default(),
            mode: Mode::Both,
            min_calls: 0,
            filter_collapsed: true,
            filter_edge: true,
            folds: 0,
            robustness: true,
            holdout_fraction: 0.0,
        }
    }

    pub fn with_holdout(mut self, fraction: f64) -> Result<SearchOptions, OptionsError> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(OptionsError::Holdout(fraction));
        }
        self.holdout_fraction = fraction;
        Ok(self)
    }

    pub fn holdout_fraction(&self) -> f64 {
        self.holdout_fraction
    }
}

/// In-sample and out-of-sample metrics of a caller's chosen policy.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutResult {
    pub in_sample: Metrics,
    pub out_of_sample: Metrics,
    pub in_sample_calls: usize,
    pub out_of_sample_calls: usize,
}

/// The search result of one caller.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerResult {
    pub caller: String,
    /// Eligible calls of the caller (all of them, under holdout too).
    pub calls: usize,
    /// Every grid point, in policy-index order (in-sample under holdout).
    pub scored: Vec<Scored>,
    /// Policy index of the best point.
    pub best: usize,
    pub collapsed: bool,
    pub edge: bool,
    pub holdout: Option<HoldoutResult>,
    /// Whether the caller trades in the grouped wallet.
    pub kept: bool,
    /// SPEC §13, in `per-caller` and `both` modes.
    pub robustness: Option<Robustness>,
}

impl CallerResult {
    pub fn best_scored(&self) -> &Scored {
        &self.scored[self.best]
    }
}

/// The shared wallet of the kept callers.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedResult {
    pub callers: Vec<String>,
    pub metrics: Metrics,
    pub wallet: WalletRun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Sorted by caller name (byte order).
    pub per_caller: Vec<CallerResult>,
    /// `None` in per-caller mode or when no caller is kept.
    pub grouped: Option<GroupedResult>,
    /// Evaluations of (call, policy) pairs done.
    pub evaluations: u64,
    /// The wallets of the grid search: one per caller and policy and one per walk-forward
    /// training prefix.
    pub wallet_points: u64,
    /// How many of them ran: the others were shared by policies with identical trades.
    pub wallets: u64,
}

/// Calls prepared once for every grid point.
#[derive(Debug)]
pub struct Prepared<'a> {
    windows: Vec<CallWindow<'a>>,
    preps: Vec<Option<CallPrep<'a>>>,
    policies: Vec<Policy>,
    /// Caller name → call indices in time order `(alert_ts_ms, call_id)`.
    by_caller: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> Prepared<'a> {
    pub fn new(windows: Vec<CallWindow<'a>>, grid: &Grid, exec: &ExecConfig) -> Prepared<'a> {
        let rules = grid.rules();
        let preps = windows
            .par_iter()
            .map(|w| CallPrep::new(w.candles, exec, &rules).ok())
            .collect();
        let mut by_caller: BTreeMap<&'a str, Vec<usize>> = BTreeMap::new();
        for (i, w) in windows.iter().enumerate() {
            by_caller.entry(w.call.caller.as_str()).or_default().push(i);
        }
        for idx in by_caller.values_mut() {
            idx.sort_by(|&a, &b| {
                let (ca, cb) = (windows[a].call, windows[b].call);
                ca.alert_ts_ms
                    .cmp(&cb.alert_ts_ms)
                    .then_with(|| ca.call_id.as_bytes().cmp(cb.call_id.as_bytes()))
            });
        }
        Prepared {
            windows,
            preps,
            policies: grid.policies(),
            by_caller,
        }
    }

    pub fn windows(&self) -> &[CallWindow<'a>] {
        &self.windows
    }

    /// The callers and their call indices in time order.
    pub fn callers(&self) -> impl Iterator<Item = (&'a str, &[usize])> + '_ {
        self.by_caller.iter().map(|(c, v)| (*c, v.as_slice()))
    }

    /// The trades of `calls` under policy `index` (fast evaluator), `None` for no entry.
    pub fn trades(&self, calls: &[usize], index: usize, exec: &ExecConfig) -> Vec<Option<Trade>> {
        let policy = &self.policies[index];
        calls
            .iter()
            .map(|&c| self.preps[c].as_ref().map(|p| p.evaluate(exec, policy)))
            .collect()
    }

    /// Policy `index` alone on `calls` in a fresh wallet (the holdout's and the walk-forward's
    /// test runs, and the best policy's trades for the deflated Sharpe).
    /// The [`Book`] of `calls` (ids, tokens and entry times) for [`wallet_metrics`].
    pub fn book(&self, calls: &[usize]) -> Book {
        Book::new(calls.iter().map(|&c| {
            let call = self.windows[c].call;
            let entry = self.preps[c].as_ref().map(|p| p.entry().entry_ts_ms);
            (
                call.call_id.as_str(),
                (call.chain.as_str(), call.mint.as_str()),
                entry,
            )
        }))
    }

    pub fn run_alone(&self, calls: &[usize], index: usize, opts: &SearchOptions) -> WalletRun {
        let trades = self.trades(calls, index, &opts.exec);
        self.wallet(calls, &trades, |_| index, opts)
    }

    /// Runs a wallet over `calls`, each under the policy that `policy_of` gives it.
    pub fn wallet(
        &self,
        calls: &[usize],
        trades: &[Option<Trade>],
        policy_of: impl Fn(usize) -> usize,
        opts: &SearchOptions,
    ) -> WalletRun {
        let offers: Vec<Offer<'_>> = calls
            .iter()
            .zip(trades)
            .map(|(&c, t)| {
                let call = self.windows[c].call;
                Offer {
                    call_id: &call.call_id,
                    token: (&call.chain, &call.mint),
                    trade: t.as_ref(),
                    entry_stop: self.policies[policy_of(c)].entry_stop(),
                }
            })
            .collect();
        run_offers(&offers, opts)
    }

    /// Scores the policies `range` over `calls`. The trades are computed call by call (every
    /// policy of the block on one call, then the next call), so a call's index and candles
    /// are read from memory once per block rather than once per policy; then each policy's
    /// wallet runs over its column. The result is the same as scoring each policy alone.
    /// The same column also feeds the robustness measures (SPEC §13): the policy's CSCV
    /// perfs and its wallets on the walk-forward training prefixes.
    fn score_block(
        &self,
        calls: &[usize],
        range: std::ops::Range<usize>,
        opts: &SearchOptions,
        extra: &Extra,
        progress: &(dyn Fn(u64) + Sync),
        buffers: &mut BlockBuffers,
    ) -> BlockScores {
        let n = calls.len();
        let policies = &self.policies[range.clone()];
        // trades[k * n + i]: policy range.start + k on call calls[i], as the wallet reads it.
        // Every element is written below, so the buffer of an earlier block is reused as it is.
        let BlockBuffers { trades, scratch } = buffers;
        trades.resize(policies.len() * n, WalletTrade::default());
        let trades = &mut trades[..policies.len() * n];
        // `alias[k]`: on every call so far, policy k got the trade of `prev[k]`, the policy
        // before it in its family (`evaluate_each_shared`): then its column is that one's.
        let prev: Vec<Option<usize>> = if policies.iter().all(|p| p.family().is_some()) {
            // A grid's policies name their family: the latest one seen is the one before. A
            // small table keyed by the family id keeps the latest of each (a family that lost
            // its slot to another finds none: its policies are then compared by hash).
            let mut latest = [(usize::MAX, 0usize); 1024];
            (0..policies.len())
                .map(|k| {
                    let f = policies[k].family().unwrap_or(usize::MAX);
                    let slot = &mut latest[f % 1024];
                    let before = (slot.0 == f).then_some(slot.1);
                    *slot = (f, k);
                    before
                })
                .collect()
        } else {
            (0..policies.len())
                .map(|k| {
                    (0..k)
                        .rev()
                        .take(FAMILY_LOOKBACK)
                        .find(|&j| policies[j].same_but_hold(&policies[k]))
                })
                .collect()
        };
        let mut alias: Vec<bool> = prev.iter().map(Option::is_some).collect();
        for (i, &c) in calls.iter().enumerate() {
            match &self.preps[c] {
                Some(prep) => prep.evaluate_each_shared(&opts.exec, policies, |k, t, same| {
                    trades[k * n + i] = WalletTrade::from(Some(&t));
                    alias[k] &= same;
                }),
                None => {
                    (0..policies.len()).for_each(|k| trades[k * n + i] = WalletTrade::default())
                }
            }
        }
        let trades = &*trades;
        let mut out = BlockScores {
            scored: Vec::with_capacity(policies.len()),
            perfs: Vec::new(),
            perf_of: Vec::with_capacity(if extra.cscv.is_some() {
                policies.len()
            } else {
                0
            }),
            folds: vec![Vec::with_capacity(policies.len()); extra.prefixes.len()],
            wallets: 0,
        };
        let mut metrics_of = |column: &[WalletTrade], entry_stop: Option<f64>| {
            wallet_metrics(
                &extra.book,
                column,
                entry_stop,
                &opts.wallet,
                opts.exec.cost_model(),
                opts.exec.fee_bps(),
                opts.exec.slippage_bps(),
                scratch,
            )
        };
        let score = |index: usize, metrics: Metrics| Scored {
            index,
            feasible: opts.constraints.feasible(&metrics),
            metrics,
        };
        // SPEC §13.2's signal-level returns of one policy, 0 for a call without a trade.
        let mut returns = vec![0.0; if extra.cscv.is_some() { n } else { 0 }];
        // Policies whose trades are the same (every field the wallet, the metrics and the
        // robustness measures read) and whose entry stop is the same have the same wallets:
        // the first one's results are copied. A hash of the column finds the candidate, a
        // comparison confirms it.
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for (k, column) in trades.chunks(n.max(1)).enumerate() {
            let index = range.start + k;
            let entry_stop = policies[k].entry_stop();
            // A column known to be the one before it in its family needs no hash; otherwise
            // a hash finds the candidate and a comparison confirms it.
            let twin = match prev[k].filter(|_| alias[k]) {
                Some(j) => {
                    debug_assert!(same_trades(&trades[j * n..(j + 1) * n], column));
                    debug_assert!(same_stop(policies[j].entry_stop(), entry_stop));
                    Some(j)
                }
                None => {
                    let hash = column_hash(column, entry_stop);
                    let twin = seen.get(&hash).copied().filter(|&j| {
                        same_stop(policies[j].entry_stop(), entry_stop)
                            && same_trades(&trades[j * n..(j + 1) * n], column)
                    });
                    if twin.is_none() {
                        seen.entry(hash).or_insert(k);
                    }
                    twin
                }
            };
            if let Some(j) = twin {
                let first = &out.scored[j];
                out.scored.push(Scored {
                    index,
                    ..first.clone()
                });
                if extra.cscv.is_some() {
                    out.perf_of.push(out.perf_of[j]);
                }
                for fold in out.folds.iter_mut() {
                    let first = &fold[j];
                    fold.push(Scored {
                        index,
                        ..first.clone()
                    });
                }
                continue;
            }
            out.scored
                .push(score(index, metrics_of(column, entry_stop)));
            out.wallets += 1;
            if let Some(cscv) = &extra.cscv {
                for (x, t) in returns.iter_mut().zip(column) {
                    *x = if t.traded() {
                        t.net_multiple - 1.0
                    } else {
                        0.0
                    };
                }
                out.perf_of.push(out.perfs.len() as u32);
                out.perfs.push(cscv.perf(&returns));
            }
            for (fold, &end) in out.folds.iter_mut().zip(&extra.prefixes) {
                fold.push(score(index, metrics_of(&column[..end], entry_stop)));
                out.wallets += 1;
            }
        }
        progress(policies.len() as u64);
        out
    }

    /// Number of in-sample calls out of `n` for a holdout fraction (SPEC §12).
    pub fn in_sample_count(n: usize, fraction: f64) -> usize {
        ((1.0 - fraction) * n as f64).ceil() as usize
    }
}

/// How far back in a block the policy before another in its family is looked for (families
/// are neighbours in grid order: only the indicator varies faster than the time stop).
const FAMILY_LOOKBACK: usize = 64;

/// Trades per block of the search (policies × calls of one caller), 4 MB of 32-byte trades: a
/// call's candles are read once per block, and identical wallets are found inside a block (on
/// the standard workload 70.2 % of the wallets with blocks of 655 policies, 69.6 % with 327,
/// about 62 % with 40; 2 MB blocks, which fit a core's 2 MB L2 here, were 4 % slower).
const BLOCK_TRADES: usize = 131_072;

/// Runs the whole search (SPEC §6).
pub fn search(prepared: &Prepared<'_>, grid: &Grid, opts: &SearchOptions) -> SearchResult {
    search_with_progress(prepared, grid, opts, &|_, _| {})
}

/// [`search`], calling `progress(done, total)` as (caller, policy) points finish, a block of a
/// caller's policies at a time. The callback
/// may run on any thread and in any order; it never influences the result.
pub fn search_with_progress(
    prepared: &Prepared<'_>,
    grid: &Grid,
    opts: &SearchOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> SearchResult {
    search_cancellable(prepared, grid, opts, progress, &AtomicBool::new(false))
        .expect("never cancelled")
}

/// [`search_with_progress`] that stops early, returning `None`, once `cancel` is set (the lab's
/// cancel button). Blocks already running finish; no new block starts.
pub fn search_cancellable(
    prepared: &Prepared<'_>,
    grid: &Grid,
    opts: &SearchOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
    cancel: &AtomicBool,
) -> Option<SearchResult> {
    let mut result = search_callers(prepared, grid, opts, progress, cancel)?;
    if opts.mode != Mode::PerCaller {
        let offers = prepared.grouped_offers(&result.per_caller, opts);
        result.grouped = grouped_result(kept_callers(&result.per_caller), &offers, opts);
    }
    Some(result)
}

/// The callers' results of [`search_with_progress`] without the grouped wallet
/// (`grouped: None` in every mode): a run in parts (the CLI's memory budget) searches its
/// callers part by part, gathers their [`GroupedOffer`]s, and runs the grouped wallet once at
/// the end with [`grouped_result`].
pub fn search_callers(
    prepared: &Prepared<'_>,
    grid: &Grid,
    opts: &SearchOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
    cancel: &AtomicBool,
) -> Option<SearchResult> {
    let callers: Vec<(&str, &[usize])> = prepared
        .callers()
        .filter(|(_, calls)| calls.len() >= opts.min_calls)
        .collect();
    let size = grid.size();
    let total = (callers.len() * size) as u64;
    let done = AtomicU64::new(0);
    let pool = BufferPool::default();
    // Ticked once per block, with the block's policies (one shared counter touched per
    // policy was a cache line the threads passed back and forth).
    let tick = |n: u64| {
        progress(done.fetch_add(n, AtomicOrdering::Relaxed) + n, total);
    };
    // Callers in parallel and, inside each, blocks of policies in parallel (rayon balances
    // the two levels); each caller's scores are reduced to its result as soon as its blocks
    // are in, so the robustness measures' per-policy data is held for a few callers at a time.
    let per_caller: Vec<Option<(CallerResult, (u64, u64))>> = callers
        .par_iter()
        .map(|&(caller, calls)| {
            evaluate_caller(prepared, grid, opts, (caller, calls), &tick, cancel, &pool)
        })
        .collect();
    if cancel.load(AtomicOrdering::Relaxed) {
        return None;
    }
    let (per_caller, wallets): (Vec<CallerResult>, Vec<(u64, u64)>) =
        per_caller.into_iter().collect::<Option<_>>()?;
    let evaluations = per_caller
        .iter()
        .map(|r| in_sample_len(r.calls, opts) as u64)
        .sum::<u64>()
        * size as u64;
    Some(SearchResult {
        per_caller,
        grouped: None,
        evaluations,
        wallet_points: wallets.iter().map(|w| w.1).sum(),
        wallets: wallets.iter().map(|w| w.0).sum(),
    })
}

/// The kept callers' names, in order.
pub fn kept_callers(per_caller: &[CallerResult]) -> Vec<String> {
    per_caller
        .iter()
        .filter(|r| r.kept)
        .map(|r| r.caller.clone())
        .collect()
}

fn in_sample_len(n: usize, opts: &SearchOptions) -> usize {
    if opts.holdout_fraction > 0.0 {
        Prepared::in_sample_count(n, opts.holdout_fraction)
    } else {
        n
    }
}

/// What a block of policies returns: scores in policy order, and for SPEC §13 their CSCV
/// perfs (empty when PBO is null) and their scores on each walk-forward training prefix
/// (`folds[j − 1]` for fold `j`).
struct BlockScores {
    scored: Vec<Scored>,
    /// The distinct perfs (a policy that shares its wallet shares its perfs) and each
    /// policy's, as an index into them.
    perfs: Vec<SetPerf>,
    perf_of: Vec<u32>,
    folds: Vec<Vec<Scored>>,
    /// Wallets run (the others were shared).
    wallets: u64,
}

/// A hash of the exits of a column of trades and of the entry stop, to find policies with
/// identical wallets (equal hashes are confirmed by [`same_trades`]).
fn column_hash(column: &[WalletTrade], entry_stop: Option<f64>) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let word = |t: &WalletTrade| {
        if t.traded() {
            (t.exit_ts_ms() as u64).rotate_left(17) ^ t.net_multiple.to_bits()
        } else {
            2
        }
    };
    let mix = |h: u64, x: u64| (h ^ x).wrapping_mul(K).rotate_left(29);
    // Four independent lanes (a multiply's latency each, not one per trade), then combined.
    let mut lanes = [entry_stop.map_or(1, f64::to_bits), 3, 5, 7];
    let mut chunks = column.chunks_exact(4);
    for c in &mut chunks {
        for (h, t) in lanes.iter_mut().zip(c) {
            *h = mix(*h, word(t));
        }
    }
    for (h, t) in lanes.iter_mut().zip(chunks.remainder()) {
        *h = mix(*h, word(t));
    }
    lanes.iter().fold(column.len() as u64, |h, &l| mix(h, l))
}

fn same_stop(a: Option<f64>, b: Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

/// Whether two columns hold the same trades in every field the wallet, the metrics and the
/// robustness measures read (numbers compared bit for bit).
fn same_trades(a: &[WalletTrade], b: &[WalletTrade]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
}

/// The buffers a thread's blocks reuse: the block's trades and the wallets' scratch.
#[derive(Default)]
struct BlockBuffers {
    trades: Vec<WalletTrade>,
    scratch: Scratch,
}

/// The blocks' buffers not in use, shared by the search's threads (as many as blocks ever ran
/// at once: one per thread).
#[derive(Default)]
struct BufferPool(std::sync::Mutex<Vec<BlockBuffers>>);

impl BufferPool {
    fn take(&self) -> BlockBuffers {
        self.0
            .lock()
            .map(|mut free| free.pop())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn give(&self, buffers: BlockBuffers) {
        if let Ok(mut free) = self.0.lock() {
            free.push(buffers);
        }
    }
}

/// What the robustness measures need from the evaluation of one caller's in-sample calls.
struct Extra {
    /// The in-sample calls' tokens and call-id ranks, for the wallets.
    book: Book,
    cscv: Option<Cscv>,
    /// The walk-forward training prefixes: calls `..end` for folds 1…K.
    prefixes: Vec<usize>,
}

/// One caller's search: every policy scored on the in-sample calls, the best with its flags,
/// the holdout run and the robustness measures, with the number of wallets run and of its grid
/// wallets. `None` once cancelled.
fn evaluate_caller(
    prepared: &Prepared<'_>,
    grid: &Grid,
    opts: &SearchOptions,
    (caller, calls): (&str, &[usize]),
    tick: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
    pool: &BufferPool,
) -> Option<(CallerResult, (u64, u64))> {
    let in_sample = &calls[..in_sample_len(calls.len(), opts)];
    let n = in_sample.len();
    let robust = opts.robustness && opts.mode != Mode::Grouped;
    // The walk-forward's K + 1 blocks, only for a caller that has one: K may be anything the
    // flag takes (4294967295 would be 64 GB of ranges), and then K + 1 ≤ n / 2.
    let has_walk_forward = robust && WalkForward::applies(n, opts.folds);
    let folds = if has_walk_forward {
        blocks(n, opts.folds + 1)
    } else {
        Vec::new()
    };
    let extra = Extra {
        book: prepared.book(in_sample),
        cscv: if robust { Cscv::new(n) } else { None },
        prefixes: folds.iter().take(opts.folds).map(|b| b.end).collect(),
    };
    // Blocks of about `BLOCK_TRADES` trades, so a block stays in the last-level cache.
    let size = grid.size();
    let block = (BLOCK_TRADES / n.max(1)).clamp(1, size.max(1));
    let ranges: Vec<std::ops::Range<usize>> = (0..size)
        .step_by(block)
        .map(|a| a..(a + block).min(size))
        .collect();
    // A block takes a buffer from the pool and gives it back (rayon's `map_init` would make a
    // new one for every piece of work it splits off: 4 MB allocated and zeroed each time).
    let parts: Vec<Option<BlockScores>> = ranges
        .into_par_iter()
        .map(|range| {
            (!cancel.load(AtomicOrdering::Relaxed)).then(|| {
                let mut buffers = pool.take();
                let scores =
                    prepared.score_block(in_sample, range, opts, &extra, tick, &mut buffers);
                pool.give(buffers);
                scores
            })
        })
        .collect();
    let mut scored = Vec::with_capacity(size);
    let mut wallets = 0;
    // The CSCV perfs stay in their blocks' pieces (PBO reads them in order).
    let mut perfs: Vec<(Vec<SetPerf>, Vec<u32>)> = Vec::with_capacity(parts.len());
    let mut fold_scores: Vec<Vec<Scored>> = vec![Vec::with_capacity(size); extra.prefixes.len()];
    for part in parts {
        let part = part?;
        wallets += part.wallets;
        scored.extend(part.scored);
        perfs.push((part.perfs, part.perf_of));
        for (all, some) in fold_scores.iter_mut().zip(part.folds) {
            all.extend(some);
        }
    }

    let top = best(opts.objective, &scored).expect("a grid has at least one point");
    let collapsed = !top.feasible || top.metrics.final_capital < opts.wallet.initial_capital();
    let edge = grid.is_edge(top.index);
    let holdout = (opts.holdout_fraction > 0.0).then(|| {
        let rest = &calls[n..];
        let run = prepared.run_alone(rest, top.index, opts);
        HoldoutResult {
            in_sample: top.metrics.clone(),
            out_of_sample: Metrics::of(&run),
            in_sample_calls: n,
            out_of_sample_calls: rest.len(),
        }
    });
    let robustness = robust.then(|| {
        let run = prepared.run_alone(in_sample, top.index, opts);
        let returns: Vec<f64> = run.taken.iter().map(|t| t.multiple - 1.0).collect();
        let deflated = deflated_sharpe(
            scored.iter().map(|s| s.metrics.sharpe),
            top.metrics.sharpe,
            &returns,
        );
        let pbo = extra.cscv.as_ref().and_then(|c| {
            c.pbo(
                perfs
                    .iter()
                    .flat_map(|(unique, of)| of.iter().map(|&u| &unique[u as usize])),
            )
        });
        let walk_forward = (!fold_scores.is_empty()).then(|| {
            let folds = fold_scores
                .iter()
                .enumerate()
                .map(|(j, train)| {
                    let chosen = best(opts.objective, train).expect("a grid has a point");
                    let test = &in_sample[folds[j + 1].clone()];
                    let run = prepared.run_alone(test, chosen.index, opts);
                    Fold {
                        fold: j + 1,
                        best: chosen.index,
                        in_sample: chosen.metrics.clone(),
                        out_of_sample: Metrics::of(&run),
                        out_of_sample_equity: run.equity,
                    }
                })
                .collect();
            WalkForward::new(folds)
        });
        let best_point = (&top.metrics, top.feasible);
        Robustness::new(deflated, pbo, walk_forward, best_point, opts.folds)
    });
    let kept = !((opts.filter_collapsed && collapsed) || (opts.filter_edge && edge));
    let result = CallerResult {
        caller: caller.to_string(),
        calls: calls.len(),
        best: top.index,
        collapsed,
        edge,
        holdout,
        kept,
        robustness,
        scored,
    };
    let points = (size * (1 + extra.prefixes.len())) as u64;
    Some((result, (wallets, points)))
}

/// [`run_wallet`] under a run's wallet and cost options.
pub fn run_offers(offers: &[Offer<'_>], opts: &SearchOptions) -> WalletRun {
    run_wallet(
        offers,
        &opts.wallet,
        opts.exec.cost_model(),
        opts.exec.fee_bps(),
        opts.exec.slippage_bps(),
    )
}

/// One call of a kept caller as the grouped wallet is offered it: the call under its caller's
/// best policy. Owned, so that a run in parts can gather the offers of every part.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedOffer {
    pub call_id: String,
    pub chain: String,
    pub mint: String,
    pub trade: Option<Trade>,
    pub entry_stop: Option<f64>,
}

impl Prepared<'_> {
    /// The grouped wallet's offers of the kept callers among `per_caller` (each caller's
    /// calls in time order, all of them under holdout too), callers in `per_caller`'s order.
    pub fn grouped_offers(
        &self,
        per_caller: &[CallerResult],
        opts: &SearchOptions,
    ) -> Vec<GroupedOffer> {
        let calls: Vec<(usize, usize)> = per_caller
            .iter()
            .filter(|r| r.kept)
            .flat_map(|r| {
                let idx = self
                    .by_caller
                    .get(r.caller.as_str())
                    .map_or(&[][..], Vec::as_slice);
                idx.iter().map(move |&c| (c, r.best))
            })
            .collect();
        calls
            .par_iter()
            .map(|&(c, best)| {
                let policy = &self.policies[best];
                let call = self.windows[c].call;
                GroupedOffer {
                    call_id: call.call_id.clone(),
                    chain: call.chain.clone(),
                    mint: call.mint.clone(),
                    trade: self.preps[c]
                        .as_ref()
                        .map(|p| p.evaluate(&opts.exec, policy)),
                    entry_stop: policy.entry_stop(),
                }
            })
            .collect()
    }
}

/// The kept callers `names` in one shared wallet over their `offers` (SPEC §6); `None` when no
/// caller is kept.
pub fn grouped_result(
    names: Vec<String>,
    offers: &[GroupedOffer],
    opts: &SearchOptions,
) -> Option<GroupedResult> {
    if names.is_empty() {
        return None;
    }
    let offers: Vec<Offer<'_>> = offers
        .iter()
        .map(|o| Offer {
            call_id: &o.call_id,
            token: (&o.chain, &o.mint),
            trade: o.trade.as_ref(),
            entry_stop: o.entry_stop,
        })
        .collect();
    let run = run_offers(&offers, opts);
    Some(GroupedResult {
        callers: names,
        metrics: Metrics::of(&run),
        wallet: run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Candle;
    use crate::grid::GridSpec;
    use crate::policy::ExecParams;
    use crate::store::Series;

    /// Forty calls of two callers on two tokens, candles that go up to 2.7× and down to 0.8×.
    fn fixture() -> (Vec<Call>, Vec<Series>) {
        let calls: Vec<Call> = (0..40)
            .map(|k| Call {
                call_id: format!("c{k}"),
                caller: ["A", "B"][k % 2].into(),
                chain: "sol".into(),
                mint: format!("m{}", k % 2),
                alert_ts_ms: k as i64 * 60_000,
                price_at_alert: None,
            })
            .collect();
        let paths: Vec<Vec<Candle>> = (0..40)
            .map(|k| {
                (0..50)
                    .map(|i| {
                        let p = 1.0 + ((i * (k + 3)) % 17) as f64 / 10.0;
                        Candle {
                            ts: (k + i) as i64 * 60,
                            open: p,
                            high: p * 1.2,
                            low: p * 0.8,
                            close: p,
                            volume: 1.0,
                        }
                    })
                    .collect()
            })
            .collect();
        (calls, paths.iter().map(|p| Series::new(p)).collect())
    }

    /// Each call's window: its whole series.
    fn whole_windows<'a>(calls: &'a [Call], series: &'a [Series]) -> Vec<CallWindow<'a>> {
        calls
            .iter()
            .zip(series)
            .map(|(call, s)| CallWindow {
                call,
                candles: s.window(0..s.len()),
            })
            .collect()
    }

    /// Policies whose trades are identical share one wallet (take-profits no candle reaches,
    /// time stops no trade lasts to), and every policy's score is still its own wallet's:
    /// `Metrics::of` of `run_wallet` over its trades, bit for bit, with and without folds.
    #[test]
    fn identical_wallets_run_once_and_every_score_is_its_own_wallets() {
        let (calls, series) = fixture();
        let windows = whole_windows(&calls, &series);
        let spec = GridSpec {
            tp: [1.5, 2.0, 3.5, 4.0, 6.0].map(Some).to_vec(),
            sl: vec![Some(0.85), None],
            // Time stops inside the 50-minute windows (6, 12 and 30 minutes), in both orders,
            // and past them: some policies take their predecessor's trades, some do not.
            max_hold: vec![0.2, 0.1, 0.5, 24.0, 48.0],
            ..GridSpec::default()
        };
        let grid = Grid::new(spec, 48.0).unwrap();
        let exec = ExecConfig::new(ExecParams::default()).unwrap();
        for folds in [0, 2] {
            let mut opts = SearchOptions::new(exec.clone(), WalletConfig::default());
            opts.folds = folds;
            let prepared = Prepared::new(windows.clone(), &grid, &opts.exec);
            let result = search(&prepared, &grid, &opts);
            let points = (result.per_caller.len() * grid.size() * (1 + folds)) as u64;
            assert_eq!(result.wallet_points, points);
            assert!(
                result.wallets < points / 2,
                "{} of {points} wallets run",
                result.wallets
            );
            for (r, (_, idx)) in result.per_caller.iter().zip(prepared.callers()) {
                for s in &r.scored {
                    let own = Metrics::of(&prepared.run_alone(idx, s.index, &opts));
                    assert_eq!(format!("{:?}", s.metrics), format!("{own:?}"));
                }
            }
        }
    }

    #[test]
    fn cancel_stops_the_search_and_an_unset_flag_changes_nothing() {
        let (calls, series) = fixture();
        let windows = whole_windows(&calls, &series);
        let grid = Grid::new(GridSpec::default(), 48.0).unwrap();
        let exec = ExecConfig::new(ExecParams::default()).unwrap();
        let opts = SearchOptions::new(exec, WalletConfig::default());
        let prepared = Prepared::new(windows, &grid, &opts.exec);
        let plain = search(&prepared, &grid, &opts);
        let flag = AtomicBool::new(false);
        let same = search_cancellable(&prepared, &grid, &opts, &|_, _| {}, &flag);
        assert_eq!(same.as_ref(), Some(&plain));
        flag.store(true, AtomicOrdering::Relaxed);
        assert!(search_cancellable(&prepared, &grid, &opts, &|_, _| {}, &flag).is_none());
        // Cancelled from the progress callback, mid-run.
        let flag = AtomicBool::new(false);
        let stop = |_: u64, _: u64| flag.store(true, AtomicOrdering::Relaxed);
        assert!(search_cancellable(&prepared, &grid, &opts, &stop, &flag).is_none());
    }
}
