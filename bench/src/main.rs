//! `quantbot-bench`: the standard benchmark workload (deterministic), timed for the reference
//! simulator and the fast evaluator, single-threaded and on all cores. It prints figures; it
//! asserts only that both algorithms give identical trades.
//!
//! Standard workload: 10,000 calls from 50 callers, 48 h of 1-minute candles per call, grid
//! 20 tp × 20 sl × 5 trailing × 5 hold = 10,000 policies, per-caller mode, default wallet.
//! `--quick` runs a small version (what CI runs so the benchmark cannot rot).

use std::time::Instant;

use quantbot_core::data::{Call, Candle};
use quantbot_core::grid::{Grid, GridSpec};
use quantbot_core::optimize::{search, CallWindow, Mode, Prepared, SearchOptions};
use quantbot_core::policy::ExecConfig;
use quantbot_core::sim::{simulate_reference, CallPrep};
use quantbot_core::wallet::WalletConfig;

/// SplitMix64: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A memecoin-like 1-minute path: noisy drift with occasional pumps and rugs.
fn path(rng: &mut Rng, n: usize, start: i64) -> Vec<Candle> {
    let mut out = Vec::with_capacity(n);
    let mut price = 0.0001 + rng.unit() * 0.01;
    let drift = (rng.unit() - 0.55) * 0.004;
    for i in 0..n {
        let open = price;
        let mut step = 1.0 + drift + (rng.unit() - 0.5) * 0.06;
        let r = rng.unit();
        if r < 0.004 {
            step *= 1.3 + rng.unit();
        } else if r < 0.006 {
            step *= 0.3 + rng.unit() * 0.4;
        }
        let close = (open * step).max(1e-12);
        let high = open.max(close) * (1.0 + rng.unit() * 0.03);
        let low = open.min(close) * (1.0 - rng.unit() * 0.03);
        out.push(Candle {
            ts: start + 60 * i as i64,
            open,
            high,
            low,
            close,
            volume: rng.unit() * 1000.0,
        });
        price = close;
    }
    out
}

struct Workload {
    calls: Vec<Call>,
    paths: Vec<Vec<Candle>>,
}

fn workload(n_calls: usize, n_callers: usize, candles: usize) -> Workload {
    let mut rng = Rng(20_251_125);
    let mut calls = Vec::with_capacity(n_calls);
    let mut paths = Vec::with_capacity(n_calls);
    for k in 0..n_calls {
        let start = 1_746_057_600 + 600 * k as i64;
        calls.push(Call {
            call_id: format!("b{k:06}"),
            caller: format!("caller{:02}", k % n_callers),
            chain: "solana".into(),
            mint: format!("mint{k:06}"),
            alert_ts_ms: start * 1000,
            price_at_alert: None,
        });
        paths.push(path(&mut rng, candles, start));
    }
    Workload { calls, paths }
}

fn standard_grid(scale: usize) -> Grid {
    let tp: Vec<Option<f64>> = (0..20 / scale)
        .map(|i| Some(1.2 + 0.2 * i as f64))
        .collect();
    let sl: Vec<Option<f64>> = (0..20 / scale)
        .map(|i| Some(0.5 + 0.025 * i as f64))
        .collect();
    let spec = GridSpec {
        tp,
        sl,
        trail: vec![None, Some(0.1), Some(0.2), Some(0.3), Some(0.4)],
        max_hold: vec![6.0, 12.0, 24.0, 36.0, 48.0],
        ..GridSpec::default()
    };
    Grid::new(spec, 48.0).expect("a valid grid")
}

/// Peak resident memory of this process, from /proc (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn per_caller(w: &Workload, grid: &Grid, threads: usize) -> (f64, u64) {
    let exec = ExecConfig::defaults(60).expect("defaults");
    let mut opts = SearchOptions::new(exec.clone(), WalletConfig::default());
    opts.mode = Mode::PerCaller;
    let windows: Vec<CallWindow<'_>> = w
        .calls
        .iter()
        .zip(&w.paths)
        .map(|(call, candles)| CallWindow { call, candles })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let t = Instant::now();
    let evaluations = pool.install(|| {
        let prepared = Prepared::new(windows, grid, &exec);
        search(&prepared, grid, &opts).evaluations
    });
    (t.elapsed().as_secs_f64(), evaluations)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n_calls, scale) = if quick { (500, 4) } else { (10_000, 1) };
    let candles = 2880;
    let t = Instant::now();
    let w = workload(n_calls, 50, candles);
    let grid = standard_grid(scale);
    println!(
        "workload: {n_calls} calls, 50 callers, {candles} candles each ({} candles), grid {} policies (generated in {:.1} s)",
        n_calls * candles,
        grid.size(),
        t.elapsed().as_secs_f64()
    );

    // Reference vs fast on identical work small enough for the reference simulator.
    let exec = ExecConfig::defaults(60).expect("defaults");
    let small_calls = if quick { 20 } else { 200 };
    let small_grid = standard_grid(4);
    let policies = small_grid.policies();
    let t = Instant::now();
    let mut reference = Vec::new();
    for p in &w.paths[..small_calls] {
        for pol in &policies {
            reference.push(simulate_reference(p, &exec, pol).ok());
        }
    }
    let t_ref = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut fast = Vec::new();
    for p in &w.paths[..small_calls] {
        let prep = CallPrep::new(p, &exec, &[]).ok();
        for pol in &policies {
            fast.push(prep.as_ref().map(|c| c.evaluate(&exec, pol)));
        }
    }
    let t_fast = t.elapsed().as_secs_f64();
    assert_eq!(
        reference, fast,
        "the fast evaluator must equal the reference simulator"
    );
    let n = (small_calls * policies.len()) as f64;
    println!(
        "identical work ({small_calls} calls × {} policies, 1 thread): reference {:.3} s ({:.2e} eval/s), fast {:.3} s ({:.2e} eval/s), speed-up {:.1}x, trades identical",
        policies.len(),
        t_ref,
        n / t_ref,
        t_fast,
        n / t_fast,
        t_ref / t_fast
    );

    // Per-caller search on the whole workload: 1 thread and all cores.
    for threads in [1, cores] {
        let (secs, evals) = per_caller(&w, &grid, threads);
        println!(
            "per-caller search, {threads} thread(s): {secs:.2} s wall, {:.2e} (call, policy) evaluations/s, {:.2e} wallet steps/s",
            evals as f64 / secs,
            evals as f64 / secs
        );
        if cores == 1 {
            break;
        }
    }
    let candle_bytes = std::mem::size_of::<Candle>();
    println!(
        "memory: peak RSS {:.0} MB; candles held as {candle_bytes} bytes each plus the fast evaluator's index (8 bytes of running minimum + 1/4 byte of block minima per candle, records per new high)",
        peak_rss_mb().unwrap_or(f64::NAN)
    );
}
