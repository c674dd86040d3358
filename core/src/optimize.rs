//! Grid search (SPEC §6): per-caller wallets over every grid point, the best policy per caller
//! with its `collapsed` and `edge` flags, the grouped wallet of the kept callers, and the
//! holdout split. Grid points are evaluated in parallel and merged in policy-index order, so
//! results never depend on the number of threads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};

use rayon::prelude::*;
use thiserror::Error;

use crate::data::Call;
use crate::grid::Grid;
use crate::metrics::{best, Constraints, Metrics, Objective, Scored};
use crate::policy::{ExecConfig, Policy};
use crate::sim::CallPrep;
use crate::store::Window;
use crate::trade::Trade;
use crate::wallet::{run_wallet, Offer, WalletConfig, WalletRun};

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
        run_wallet(
            &offers,
            &opts.wallet,
            opts.exec.cost_model(),
            opts.exec.fee_bps(),
            opts.exec.slippage_bps(),
        )
    }

    /// Scores the policies `range` over `calls`. The trades are computed call by call (every
    /// policy of the block on one call, then the next call), so a call's index and candles
    /// are read from memory once per block rather than once per policy; then each policy's
    /// wallet runs over its column. The result is the same as scoring each policy alone.
    fn score_block(
        &self,
        calls: &[usize],
        range: std::ops::Range<usize>,
        opts: &SearchOptions,
        progress: &(dyn Fn() + Sync),
    ) -> Vec<Scored> {
        let n = calls.len();
        let policies = &self.policies[range.clone()];
        // trades[k * n + i]: policy range.start + k on call calls[i].
        let mut trades: Vec<Option<Trade>> = vec![None; policies.len() * n];
        for (i, &c) in calls.iter().enumerate() {
            if let Some(prep) = &self.preps[c] {
                prep.evaluate_each(&opts.exec, policies, |k, t| trades[k * n + i] = Some(t));
            }
        }
        range
            .zip(trades.chunks(n.max(1)))
            .map(|(index, column)| {
                let run = self.wallet(calls, column, |_| index, opts);
                let metrics = Metrics::of(&run);
                progress();
                Scored {
                    index,
                    feasible: opts.constraints.feasible(&metrics),
                    metrics,
                }
            })
            .collect()
    }

    /// Number of in-sample calls out of `n` for a holdout fraction (SPEC §12).
    pub fn in_sample_count(n: usize, fraction: f64) -> usize {
        ((1.0 - fraction) * n as f64).ceil() as usize
    }
}

/// Trades per block of the search (policies × calls of one caller), about 600 KB.
const BLOCK_TRADES: usize = 8192;

/// Runs the whole search (SPEC §6).
pub fn search(prepared: &Prepared<'_>, grid: &Grid, opts: &SearchOptions) -> SearchResult {
    search_with_progress(prepared, grid, opts, &|_, _| {})
}

/// [`search`], calling `progress(done, total)` as (caller, policy) points finish. The callback
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
    let callers: Vec<(&str, &[usize])> = prepared
        .callers()
        .filter(|(_, calls)| calls.len() >= opts.min_calls)
        .collect();
    let holdout = opts.holdout_fraction > 0.0;
    let in_sample: Vec<&[usize]> = callers
        .iter()
        .map(|(_, calls)| {
            if holdout {
                &calls[..Prepared::in_sample_count(calls.len(), opts.holdout_fraction)]
            } else {
                *calls
            }
        })
        .collect();

    // Every (caller, block of policies) pair, flattened so the pool stays busy; merged in
    // index order. A block holds about `BLOCK_TRADES` trades, so it stays in cache.
    let size = grid.size();
    let total = (callers.len() * size) as u64;
    let done = AtomicU64::new(0);
    let tick = || progress(done.fetch_add(1, AtomicOrdering::Relaxed) + 1, total);
    let tasks: Vec<(usize, std::ops::Range<usize>)> = in_sample
        .iter()
        .enumerate()
        .flat_map(|(ci, calls)| {
            let block = (BLOCK_TRADES / calls.len().max(1)).clamp(1, size.max(1));
            (0..size)
                .step_by(block)
                .map(move |a| (ci, a..(a + block).min(size)))
        })
        .collect();
    let task_caller: Vec<usize> = tasks.iter().map(|(ci, _)| *ci).collect();
    let blocks: Vec<Vec<Scored>> = tasks
        .into_par_iter()
        .map(|(ci, range)| {
            if cancel.load(AtomicOrdering::Relaxed) {
                Vec::new()
            } else {
                prepared.score_block(in_sample[ci], range, opts, &tick)
            }
        })
        .collect();
    let evaluations = in_sample.iter().map(|c| c.len() as u64).sum::<u64>() * size as u64;
    if cancel.load(AtomicOrdering::Relaxed) {
        return None;
    }
    // Blocks come in task order (caller by caller, policies ascending): each is moved into
    // its caller's list and dropped, so the scores are held about once, not three times.
    let mut scored: Vec<Vec<Scored>> = callers.iter().map(|_| Vec::new()).collect();
    for (ci, block) in task_caller.into_iter().zip(blocks) {
        if scored[ci].is_empty() {
            scored[ci].reserve_exact(size);
        }
        scored[ci].extend(block);
    }

    let mut per_caller = Vec::with_capacity(callers.len());
    for (ci, chunk) in scored.into_iter().enumerate() {
        let (caller, calls) = callers[ci];
        let top = best(opts.objective, &chunk).expect("a grid has at least one point");
        let collapsed = !top.feasible || top.metrics.final_capital < opts.wallet.initial_capital();
        let edge = grid.is_edge(top.index);
        let holdout_result = holdout.then(|| {
            let rest = &calls[in_sample[ci].len()..];
            let trades = prepared.trades(rest, top.index, &opts.exec);
            let run = prepared.wallet(rest, &trades, |_| top.index, opts);
            HoldoutResult {
                in_sample: top.metrics.clone(),
                out_of_sample: Metrics::of(&run),
                in_sample_calls: in_sample[ci].len(),
                out_of_sample_calls: rest.len(),
            }
        });
        let kept = !((opts.filter_collapsed && collapsed) || (opts.filter_edge && edge));
        per_caller.push(CallerResult {
            caller: caller.to_string(),
            calls: calls.len(),
            best: top.index,
            scored: chunk,
            collapsed,
            edge,
            holdout: holdout_result,
            kept,
        });
    }

    let grouped = if opts.mode == Mode::PerCaller {
        None
    } else {
        grouped_wallet(prepared, &callers, &per_caller, opts)
    };
    Some(SearchResult {
        per_caller,
        grouped,
        evaluations,
    })
}

/// The kept callers in one shared wallet, each call under its caller's best policy (all
/// calls, under holdout too).
fn grouped_wallet(
    prepared: &Prepared<'_>,
    callers: &[(&str, &[usize])],
    per_caller: &[CallerResult],
    opts: &SearchOptions,
) -> Option<GroupedResult> {
    let mut calls = Vec::new();
    let mut policy_of = vec![0usize; prepared.windows.len()];
    let mut names = Vec::new();
    for (r, (_, idx)) in per_caller.iter().zip(callers) {
        if !r.kept {
            continue;
        }
        names.push(r.caller.clone());
        for &c in *idx {
            policy_of[c] = r.best;
            calls.push(c);
        }
    }
    if names.is_empty() {
        return None;
    }
    let trades: Vec<Option<Trade>> = calls
        .par_iter()
        .map(|&c| {
            prepared.preps[c]
                .as_ref()
                .map(|p| p.evaluate(&opts.exec, &prepared.policies[policy_of[c]]))
        })
        .collect();
    let run = prepared.wallet(&calls, &trades, |c| policy_of[c], opts);
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

    #[test]
    fn cancel_stops_the_search_and_an_unset_flag_changes_nothing() {
        let calls: Vec<Call> = (0..40)
            .map(|k| Call {
                call_id: format!("c{k}"),
                caller: ["A", "B"][k % 2].into(),
                chain: "sol".into(),
                mint: format!("m{k}"),
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
        let series: Vec<Series> = paths.iter().map(|p| Series::new(p)).collect();
        let windows: Vec<CallWindow<'_>> = calls
            .iter()
            .zip(&series)
            .map(|(call, s)| CallWindow {
                call,
                candles: s.window(0..s.len()),
            })
            .collect();
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
