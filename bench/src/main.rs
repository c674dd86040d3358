//! `quantbot-bench`: the standard benchmark workload (deterministic), timed for the reference
//! simulator and the fast evaluator, single-threaded and on all cores. It prints figures and
//! asserts only that both algorithms agree: identical trades and identical per-caller results.
//!
//! Standard workload: 10,000 calls from 50 callers, 48 h of 1-minute candles per call, grid
//! 20 tp × 20 sl × 5 trailing × 5 hold = 10,000 policies, per-caller mode, default wallet. The
//! reference simulator runs on a smaller workload (its first 500 calls, same grid) where it
//! finishes in reasonable time, so both algorithms are compared on identical work.
//! `--quick` runs a small version (what CI runs so the benchmark cannot rot); `--search-only`
//! runs only the standard workload's search rows; `--indicators` runs the standard search with
//! and without issue 9's four indicator rules (5× the policies) and prints the time ratio;
//! `--calls N` uses the workload's first N calls for `--search-only` and `--indicators`;
//! `--trades-only` runs only the identical-work trades comparison (goal 1).
//! `race-dump DIR [--cli]` writes the vectorbt race's inputs and the engine's trades (see
//! `race.rs`; `--cli` the command-line race's: 3,000 calls, 30 policies).

mod race;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use quantbot_core::data::Candle;
use quantbot_core::grid::Grid;
use quantbot_core::metrics::{Metrics, Scored};
use quantbot_core::optimize::{run_offers, search, Prepared, SearchOptions};
use quantbot_core::policy::ExecConfig;
use quantbot_core::sim::{simulate_reference, CallPrep};
use quantbot_core::store::Series;
use quantbot_core::trade::Trade;
use quantbot_core::wallet::{wallet_metrics, Offer, Scratch, WalletTrade};

use quantbot_bench::workload::{indicator_grid, standard_grid, Workload};
use quantbot_bench::{digest, options, windows};

/// Peak resident memory of this process since the last [`reset_peak`], from /proc (Linux), MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system, every thread) this process has used, from /proc (Linux; the
/// clock tick is taken as 1/100 s, its value on Linux).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    f.get(11)
        .zip(f.get(12))
        .map_or(f64::NAN, |(u, s)| (u + s) / 100.0)
}

/// Resets the peak to the current resident size (Linux ≥ 4.0), so each row gets its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// One timed run: wall seconds, (call, policy) evaluations, peak RSS.
#[derive(Clone)]
struct Row {
    what: String,
    threads: usize,
    secs: f64,
    /// CPU seconds of every thread: equal to `secs` × threads when the cores are free.
    cpu: f64,
    evals: u64,
    peak_mb: f64,
    /// [`digest`] of the search result (fast search only; the browser benchmark prints it too).
    digest: u64,
    /// Wallets the search ran, and the wallets of its grid points (fast search only): the
    /// difference was shared by policies with identical trades.
    wallets: (u64, u64),
}

impl Row {
    fn print(&self) {
        let rate = self.evals as f64 / self.secs;
        // In per-caller mode every evaluated trade is offered to exactly one wallet, so wallet
        // steps (offers processed, taken or skipped) equal evaluations.
        println!(
            "| {:<42} | {:>7} | {:>9.3} | {:>7.2} | {:>12.3e} | {:>12.3e} | {:>9.0} |",
            self.what, self.threads, self.secs, self.cpu, rate, rate, self.peak_mb
        );
    }
}

fn table_header() {
    println!(
        "| {:<42} | {:>7} | {:>9} | {:>7} | {:>12} | {:>12} | {:>9} |",
        "run", "threads", "wall s", "CPU s", "evals/s", "wallet st/s", "peak MB"
    );
    println!(
        "|{:-<44}|{:->9}|{:->11}|{:->9}|{:->14}|{:->14}|{:->11}|",
        "", "", "", "", "", "", ""
    );
}

/// What SPEC §13 costs on top of the search (issue 17): the same search without it, with it,
/// and with 4 walk-forward folds, on all cores; three rounds, interleaved so that a slow
/// spell of the shared machine hits every variant, and the fastest of each reported.
fn robustness_rows(w: &Workload, n: usize, grid: &Grid, threads: usize) {
    let variants = [
        (false, 0, ", without robustness"),
        (true, 0, ", with robustness"),
        (true, 4, ", with robustness and --folds 4"),
    ];
    let mut best: Vec<Option<Row>> = vec![None; variants.len()];
    for _round in 0..3 {
        for (k, &(robustness, folds, note)) in variants.iter().enumerate() {
            let mut opts = options();
            opts.robustness = robustness;
            opts.folds = folds;
            let (row, _) = search_with(w, n, grid, threads, &opts, note);
            if best[k].as_ref().is_none_or(|b| row.secs < b.secs) {
                best[k] = Some(row);
            }
        }
    }
    table_header();
    let rows: Vec<Row> = best.into_iter().flatten().collect();
    for row in &rows {
        row.print();
    }
    for row in &rows[1..] {
        println!(
            "{}: {:+.1} % wall time, {:+.1} % CPU time against the search without robustness (fastest of 3 rounds each)",
            row.what,
            (row.secs / rows[0].secs - 1.0) * 100.0,
            (row.cpu / rows[0].cpu - 1.0) * 100.0
        );
    }
}

/// The engine's per-caller search (fast evaluator).
fn fast_search(w: &Workload, n: usize, grid: &Grid, threads: usize) -> (Row, Vec<Vec<Scored>>) {
    fast_search_named(w, n, grid, threads, "")
}

/// [`fast_search`] with `note` appended to the row's name.
fn fast_search_named(
    w: &Workload,
    n: usize,
    grid: &Grid,
    threads: usize,
    note: &str,
) -> (Row, Vec<Vec<Scored>>) {
    search_with(w, n, grid, threads, &options(), note)
}

/// [`fast_search_named`] under the given options.
fn search_with(
    w: &Workload,
    n: usize,
    grid: &Grid,
    threads: usize,
    opts: &SearchOptions,
    note: &str,
) -> (Row, Vec<Vec<Scored>>) {
    reset_peak();
    let (t, cpu) = (Instant::now(), cpu_secs());
    let result = pool(threads).install(|| {
        let prepared = Prepared::new(windows(w, n), grid, &opts.exec);
        search(&prepared, grid, opts)
    });
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    let digest = digest(&result);
    let scored = result.per_caller.iter().map(|c| c.scored.clone()).collect();
    let row = Row {
        what: format!("per-caller search, fast, {n} calls{note}"),
        threads,
        secs,
        cpu,
        evals: result.evaluations,
        peak_mb: peak_rss_mb().unwrap_or(f64::NAN),
        digest,
        wallets: (result.wallets, result.wallet_points),
    };
    (row, scored)
}

/// The same per-caller search written plainly on the reference simulator: for every caller and
/// policy, each call simulated candle by candle, then the wallet and its metrics.
fn reference_search(
    w: &Workload,
    n: usize,
    grid: &Grid,
    threads: usize,
) -> (Row, Vec<Vec<Scored>>) {
    let opts = options();
    let policies = grid.policies();
    // Callers in byte order, calls in time order (the workload's order is time order).
    let mut callers: Vec<&str> = w.calls[..n].iter().map(|c| c.caller.as_str()).collect();
    callers.sort_unstable();
    callers.dedup();
    // The reference simulator reads plain `Candle` rows: decoded before the clock starts.
    let paths: Vec<Vec<Candle>> = w.paths[..n].iter().map(|p| p.to_vec()).collect();
    reset_peak();
    let (t, cpu) = (Instant::now(), cpu_secs());
    let scored: Vec<Vec<Scored>> = pool(threads).install(|| {
        callers
            .iter()
            .map(|&caller| {
                let calls: Vec<usize> = (0..n).filter(|&k| w.calls[k].caller == caller).collect();
                (0..policies.len())
                    .into_par_iter()
                    .map(|index| {
                        let trades: Vec<Option<Trade>> = calls
                            .iter()
                            .map(|&k| {
                                simulate_reference(&paths[k], &opts.exec, &policies[index]).ok()
                            })
                            .collect();
                        let offers: Vec<Offer<'_>> = calls
                            .iter()
                            .zip(&trades)
                            .map(|(&k, trade)| Offer {
                                call_id: &w.calls[k].call_id,
                                token: (&w.calls[k].chain, &w.calls[k].mint),
                                trade: trade.as_ref(),
                                entry_stop: policies[index].entry_stop(),
                            })
                            .collect();
                        let run = run_offers(&offers, &opts);
                        let metrics = Metrics::of(&run);
                        Scored {
                            index,
                            feasible: opts.constraints.feasible(&metrics),
                            metrics,
                        }
                    })
                    .collect()
            })
            .collect()
    });
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    let row = Row {
        what: format!("per-caller search, reference, {n} calls"),
        threads,
        secs,
        cpu,
        evals: (n * policies.len()) as u64,
        peak_mb: peak_rss_mb().unwrap_or(f64::NAN),
        digest: 0,
        wallets: (0, 0),
    };
    (row, scored)
}

/// Trades alone, one thread: every (call, policy) pair of the first `n` calls by both
/// algorithms (the fast one including its per-call precomputation). First, untimed, every
/// trade of both is compared (the function panics on a difference). Then each algorithm is
/// timed in a pass of its own over the calls, each reading its own input (the reference plain
/// `Candle` rows, decoded before its clock starts; the fast evaluator the compact series) and
/// handing every trade to `black_box`, so neither pays for storing the other's results or
/// finds the data warmed by the other; each pass is timed three times and its best time kept.
/// Returns both times and the number of trades compared.
fn trades_only(w: &Workload, n: usize, grid: &Grid) -> (f64, f64, usize) {
    let exec = ExecConfig::defaults(60).expect("defaults");
    let policies = grid.policies();
    let mut same = 0;
    let mut reference: Vec<Option<Trade>> = Vec::with_capacity(policies.len());
    let mut fast: Vec<Option<Trade>> = Vec::with_capacity(policies.len());
    for s in &w.paths[..n] {
        reference.clear();
        fast.clear();
        let p = s.to_vec();
        reference.extend(
            policies
                .iter()
                .map(|pol| simulate_reference(&p, &exec, pol).ok()),
        );
        match CallPrep::new(s.whole(), &exec, &[]) {
            Ok(prep) => prep.evaluate_each(&exec, &policies, |_, t| fast.push(Some(t))),
            Err(_) => fast.extend(policies.iter().map(|_| None)),
        }
        assert_eq!(
            reference, fast,
            "the fast evaluator must give the reference simulator's trades"
        );
        same += fast.len();
    }
    // Each pass is timed three times and the best is kept (for both algorithms alike).
    let best_of = |pass: &dyn Fn()| -> f64 {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                pass();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let t_fast = best_of(&|| {
        for s in &w.paths[..n] {
            if let Ok(prep) = CallPrep::new(s.whole(), &exec, &[]) {
                prep.evaluate_each(&exec, &policies, |_, t| {
                    std::hint::black_box(t);
                });
            }
        }
    });
    let rows: Vec<Vec<Candle>> = w.paths[..n].iter().map(Series::to_vec).collect();
    let t_ref = best_of(&|| {
        for p in &rows {
            for pol in &policies {
                std::hint::black_box(simulate_reference(p, &exec, pol).ok());
            }
        }
    });
    drop(rows);
    (t_ref, t_fast, same)
}

/// The wallet pass alone (wallet and metrics of every caller × policy, trades given), one
/// thread: offers processed per second, through the full wallet (`run_wallet` with its
/// history, then `Metrics::of`: what the holdout, the grouped wallet and the lab's detail views
/// run) and through the search's reduced wallet (`wallet_metrics`), whose metrics are checked
/// equal to the full wallet's on every caller × policy before either is timed.
fn wallet_pass(w: &Workload, n: usize, grid: &Grid, every: usize) -> WalletPass {
    let opts = options();
    let prepared = Prepared::new(windows(w, n), grid, &opts.exec);
    let mut pass = WalletPass::default();
    let mut scratch = Scratch::new();
    let policies = grid.policies();
    let picked: Vec<usize> = (0..grid.size()).step_by(every).collect();
    for (_, calls) in prepared.callers() {
        let book = prepared.book(calls);
        let columns: Vec<Vec<Option<Trade>>> = picked
            .iter()
            .map(|&index| prepared.trades(calls, index, &opts.exec))
            .collect();
        let compact: Vec<Vec<WalletTrade>> = columns
            .iter()
            .map(|c| c.iter().map(|t| t.as_ref().into()).collect())
            .collect();
        let t = Instant::now();
        let full: Vec<Metrics> = picked
            .iter()
            .zip(&columns)
            .map(|(&index, trades)| {
                let run = prepared.wallet(calls, trades, |_| index, &opts);
                std::hint::black_box(Metrics::of(&run))
            })
            .collect();
        pass.full_secs += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let reduced: Vec<Metrics> = picked
            .iter()
            .zip(&columns)
            .zip(&compact)
            .map(|((&index, _), trades)| {
                std::hint::black_box(wallet_metrics(
                    &book,
                    trades,
                    policies[index].entry_stop(),
                    &opts.wallet,
                    opts.exec.cost_model(),
                    opts.exec.fee_bps(),
                    opts.exec.slippage_bps(),
                    &mut scratch,
                ))
            })
            .collect();
        pass.reduced_secs += t.elapsed().as_secs_f64();
        assert_eq!(
            format!("{reduced:?}"),
            format!("{full:?}"),
            "the reduced wallet must give the full wallet's metrics"
        );
        pass.wallets += picked.len();
        pass.steps += (calls.len() * picked.len()) as u64;
    }
    pass
}

#[derive(Default)]
struct WalletPass {
    wallets: usize,
    full_secs: f64,
    reduced_secs: f64,
    steps: u64,
}

/// Prints the wallet pass: every caller's 200 calls (as in the search), every 20th policy.
fn wallet_row(w: &Workload, n_calls: usize, grid: &Grid, quick: bool) {
    let every = if quick { 1 } else { 20 };
    let wp = wallet_pass(w, n_calls, grid, every);
    // The nominal clock of this machine's processor (2.3 GHz; the hypervisor hides the cycle
    // counter), so "cycles" is an estimate.
    let cycles = |secs: f64| secs / wp.steps as f64 * 2.3e9;
    println!(
        "wallet pass alone ({n_calls} calls × every {every}th policy, 1 thread, metrics included): full wallet with history {:.3} s, {:.3e} steps/s ({:.0} cycles/step at 2.3 GHz); search's reduced wallet {:.3} s, {:.3e} steps/s ({:.0} cycles/step); metrics equal on all {} wallets",
        wp.full_secs,
        wp.steps as f64 / wp.full_secs,
        cycles(wp.full_secs),
        wp.reduced_secs,
        wp.steps as f64 / wp.reduced_secs,
        cycles(wp.reduced_secs),
        wp.wallets,
    );
}

/// Bytes held per candle during a search: the compact candles the engine reads, and the fast
/// evaluator's index beside them.
fn bytes_per_candle(w: &Workload) -> (f64, f64) {
    let exec = ExecConfig::defaults(60).expect("defaults");
    let index: usize = w
        .paths
        .par_iter()
        .map(|p| CallPrep::new(p.whole(), &exec, &[]).map_or(0, |c| c.index_bytes()))
        .sum();
    let rows: usize = w.paths.iter().map(Series::bytes).sum();
    let n = w.candles() as f64;
    (rows as f64 / n, index as f64 / n)
}

/// Bytes per candle of the compact store on the real candles of `../shared/data`, when that
/// folder is there (it is never copied into the project): one series per file.
fn real_data_bytes() {
    // `cargo run` gives the package's directory at run time (the compiled-in one may be another
    // clone's: clones share a target directory).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let root = manifest.join("../../shared/data");
    let sets = [
        (
            "quantbot-brook-sample/candles",
            "Solana memecoins, 5 min and 1 h (Birdeye)",
        ),
        ("binanceus-btc-1m-2023-03", "BTC 1 min, Binance.US"),
    ];
    for (dir, what) in sets {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "csv")
                    && !p.to_string_lossy().contains("metadata")
            })
            .collect();
        files.sort();
        let (mut candles, mut bytes, mut prices_only) = (0usize, 0usize, 0usize);
        for f in &files {
            let rows = read_candle_csv(f);
            let mut s = Series::new(&rows);
            assert_eq!(
                s.to_vec(),
                rows,
                "{}: the store must give back every candle",
                f.display()
            );
            candles += rows.len();
            bytes += s.bytes();
            s.drop_volume();
            prices_only += s.bytes();
        }
        if candles > 0 {
            let per = |b: usize| b as f64 / candles as f64;
            println!(
                "compact candles on real data, {what}: {candles} candles in {} files, {:.1} bytes per candle (exact round trip checked), {:.1} prices only",
                files.len(),
                per(bytes),
                per(prices_only)
            );
        }
    }
}

/// Candles of a CSV `time,open,high,low,close,volume` (time in epoch seconds or ISO
/// `YYYY-MM-DD HH:MM:SS+00:00`; only the order of times matters to the store's size).
fn read_candle_csv(path: &Path) -> Vec<Candle> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| -> f64 {
                f[i].parse()
                    .unwrap_or_else(|_| panic!("{}: bad number in {line:?}", path.display()))
            };
            let ts = f[0].parse::<i64>().unwrap_or_else(|_| iso_seconds(f[0]));
            Candle {
                ts,
                open: num(1),
                high: num(2),
                low: num(3),
                close: num(4),
                volume: num(5),
            }
        })
        .collect()
}

/// Seconds since the epoch of `YYYY-MM-DD HH:MM:SS…` (UTC), by the civil-from-days formula.
fn iso_seconds(t: &str) -> i64 {
    let n = |a: usize, b: usize| -> i64 { t[a..b].parse().expect("an ISO time") };
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

/// Issue 9: the per-caller search with and without the four indicator rules (the indicator
/// dimension `[null, ema_cross:9:21, rsi_below:14:70, tk_cross:9:26, vol_spike:30:4]`, 5× the
/// policies), on 1 thread and on all cores, and the ratio of the times. The preparation of the
/// calls (including the rules' firing positions) is inside the timed run.
fn indicator_rows(w: &Workload, n: usize, scale: usize, threads: &[usize]) {
    let plain = standard_grid(scale);
    let with = indicator_grid(scale);
    println!(
        "indicator rules: {} policies without, {} with (5 rule values: off and 4 rules)",
        plain.size(),
        with.size()
    );
    table_header();
    let mut ratios = Vec::new();
    for &th in threads {
        let (a, _) = fast_search_named(w, n, &plain, th, ", no rules");
        a.print();
        let (b, _) = fast_search_named(w, n, &with, th, ", 4 rules");
        b.print();
        ratios.push((th, b.secs / a.secs, a.secs, b.secs));
    }
    // Where the difference comes from: preparing the calls (with the rules' firing positions).
    let opts = options();
    let prep_secs = |grid: &Grid| {
        pool(1).install(|| {
            let t = Instant::now();
            std::hint::black_box(Prepared::new(windows(w, n), grid, &opts.exec));
            t.elapsed().as_secs_f64()
        })
    };
    println!(
        "preparing the {n} calls alone, 1 thread: {:.3} s without, {:.3} s with the 4 rules",
        prep_secs(&plain),
        prep_secs(&with)
    );
    for (th, r, a, b) in ratios {
        println!(
            "{th} thread(s): {a:.3} s without, {b:.3} s with the 4 rules: {r:.2}x the time for 5x the policies (goal: at most 6x)"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("race-dump") {
        let dir = args
            .get(1)
            .expect("usage: quantbot-bench race-dump DIR [--cli]");
        let which = if args.iter().any(|a| a == "--cli") {
            race::Race::Cli
        } else {
            race::Race::Trades
        };
        race::dump(std::path::Path::new(dir), which);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // Only the standard workload's search rows (to re-measure scaling quickly).
    let search_only = args.iter().any(|a| a == "--search-only");
    let trades_only_flag = args.iter().any(|a| a == "--trades-only");
    let indicators = args.iter().any(|a| a == "--indicators");
    let calls_arg: Option<usize> = args.iter().position(|a| a == "--calls").map(|i| {
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--calls takes a number of calls")
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<usize> = if cores > 1 { vec![1, cores] } else { vec![1] };
    // Standard: 10,000 calls × 10,000 policies; identical work on its first 500 calls.
    // Quick: 500 calls × 625 policies; identical work on its first 100 calls.
    let (n_calls, scale, n_small) = if quick {
        (500, 4, 100)
    } else {
        (10_000, 1, 500)
    };
    let n_calls = calls_arg.unwrap_or(n_calls);
    let candles = 2880;
    let t = Instant::now();
    let grid = standard_grid(scale);
    // As the CLI does: the volumes are held only for a grid with a rule that reads them.
    let w = if indicators || grid.reads_volume() {
        Workload::new(n_calls, 50, candles)
    } else {
        Workload::prices_only(n_calls, 50, candles)
    };
    let with_volume = w.bytes_with_volumes as f64 / w.candles() as f64;
    println!(
        "workload: {n_calls} calls from 50 callers, {candles} 1-minute candles each ({} candles), grid {} policies, per-caller mode, default wallet; {cores} cores (generated in {:.1} s)",
        w.candles(),
        grid.size(),
        t.elapsed().as_secs_f64()
    );

    if indicators {
        indicator_rows(&w, n_calls, scale, &threads);
        return;
    }

    if args.iter().any(|a| a == "--robustness") {
        robustness_rows(&w, n_calls, &grid, cores);
        return;
    }

    if args.iter().any(|a| a == "--wallet-only") {
        wallet_row(&w, n_calls, &grid, quick);
        return;
    }

    if search_only {
        table_header();
        let rows: Vec<Row> = threads
            .iter()
            .map(|&th| fast_search(&w, n_calls, &grid, th).0)
            .collect();
        rows.iter().for_each(Row::print);
        println!("results digest: {:016x}", rows[0].digest);
        let (ran, points) = rows[0].wallets;
        println!(
            "wallets run: {ran} of {points} ({:.1} % shared by policies with identical trades)",
            (1.0 - ran as f64 / points as f64) * 100.0
        );
        assert!(
            rows.iter().all(|r| r.digest == rows[0].digest),
            "results must not depend on the thread count"
        );
        if rows.len() > 1 {
            println!(
                "{:.2}x speed-up from 1 to {cores} threads",
                rows[0].secs / rows[1].secs
            );
        }
        return;
    }

    // 1. Trades alone on identical work, one thread.
    let (t_ref, t_fast, same) = trades_only(&w, n_small, &grid);
    let evals = (n_small * grid.size()) as f64;
    println!(
        "trades, identical work ({n_small} calls × {} policies, 1 thread): reference {t_ref:.3} s ({:.3e} eval/s), fast {t_fast:.3} s incl. precomputation ({:.3e} eval/s): fast is {:.1}x the reference; {same} of {same} trades identical",
        grid.size(),
        evals / t_ref,
        evals / t_fast,
        t_ref / t_fast
    );
    if trades_only_flag {
        return;
    }
    wallet_row(&w, n_calls, &grid, quick);

    // 2. The per-caller search on identical work: reference and fast, 1 thread and all cores.
    println!();
    table_header();
    let mut reference = None;
    let mut fast = None;
    let mut small_rows = Vec::new();
    for &th in &threads {
        let (row, scored) = reference_search(&w, n_small, &grid, th);
        row.print();
        small_rows.push(row);
        reference.get_or_insert(scored);
    }
    for &th in &threads {
        let (row, scored) = fast_search(&w, n_small, &grid, th);
        row.print();
        small_rows.push(row);
        if let Some(prev) = &fast {
            assert_eq!(prev, &scored, "results must not depend on the thread count");
        }
        fast.get_or_insert(scored);
    }
    assert_eq!(
        reference, fast,
        "the per-caller search must give the same scores on both algorithms"
    );

    // 3. The standard workload: fast only (the reference would take far too long).
    let mut std_rows = Vec::new();
    for &th in &threads {
        let (row, _) = fast_search(&w, n_calls, &grid, th);
        row.print();
        std_rows.push(row);
    }
    let ref_rate = small_rows[0].evals as f64 / small_rows[0].secs;
    println!(
        "| {:<42} | {:>7} | {:>9.0} | {:>7} | {:>12} | {:>12} | {:>9} |",
        format!("per-caller search, reference, {n_calls} calls"),
        1,
        (n_calls * grid.size()) as f64 / ref_rate,
        "",
        "(estimated)",
        "",
        ""
    );
    println!();
    println!(
        "identical work: every per-caller score equal on both algorithms and on every thread count; search speed-up fast/reference on 1 thread {:.1}x",
        small_rows[0].secs / small_rows[threads.len()].secs
    );
    if threads.len() > 1 {
        println!(
            "standard workload: {:.2} s on {cores} threads, {:.2}x speed-up from 1 to {cores} threads",
            std_rows[1].secs,
            std_rows[0].secs / std_rows[1].secs
        );
    }
    let (rows, index) = bytes_per_candle(&w);
    println!(
        "bytes held per candle: {rows:.1} (compact candles, `Series`, prices only: the grid reads no volume) + {index:.2} (the fast evaluator's index) = {:.1}; with volumes (for a rule on volume) {with_volume:.1} + {index:.2} = {:.1}; `Candle` rows would be 48",
        rows + index,
        with_volume + index
    );
    real_data_bytes();
}
