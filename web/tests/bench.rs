//! The browser figure of the benchmark (issue 6): the native benchmark's per-caller search
//! (`quantbot-bench`'s workload, grid and options) on the lab's Web Worker pool in headless
//! Chromium, printing wall time, evaluations per second, the wasm memory and a digest of the
//! results that the native `quantbot-bench --search-only --calls N` prints for the same work.
//!
//! Small by default (500 calls × 625 policies, well under a second of search) so CI's
//! `cargo test --release --target wasm32-unknown-unknown` stays cheap. The size is read at
//! compile time from `QUANTBOT_BROWSER_BENCH`: `full` is the whole standard workload (10,000
//! calls × 2,880 candles × 10,000 policies), a number `N` is the first N calls × 10,000
//! policies. See BENCHMARKS.md for the command and the figures.

use std::sync::Arc;

use quantbot_bench::workload::{standard_grid, Workload};
use quantbot_bench::{digest, options, windows};
use quantbot_core::optimize::{search, Prepared};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The standard workload: its candles are held compact (`Series`, about 26 bytes per candle,
/// 0.75 GB for 28.8 M candles) and the search adds the index and the 50 × 10,000 scored grid
/// points (held once while the results are merged).
const FULL_CALLS: usize = 10_000;
const CANDLES: usize = 2_880;
const THREADS: usize = 2;

/// (calls, grid scale): see the module's documentation.
fn size() -> (usize, usize) {
    match option_env!("QUANTBOT_BROWSER_BENCH") {
        None | Some("") => (500, 4),
        Some("full") => (FULL_CALLS, 1),
        Some(n) => (
            n.parse()
                .expect("QUANTBOT_BROWSER_BENCH: `full` or a number of calls"),
            1,
        ),
    }
}

fn now_ms() -> f64 {
    web_sys::window()
        .expect("a window")
        .performance()
        .expect("performance")
        .now()
}

/// Runs `f` on the pool and awaits it without blocking the page (as the lab's `job::on_pool`).
async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = futures_channel::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.expect("the pool dropped a job")
}

/// Bytes of the module's shared linear memory (it only grows, so this is the peak so far).
fn wasm_memory_bytes() -> f64 {
    let buffer = js_sys::Reflect::get(&wasm_bindgen::memory(), &"buffer".into()).unwrap();
    js_sys::Reflect::get(&buffer, &"byteLength".into())
        .unwrap()
        .as_f64()
        .unwrap()
}

fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

#[wasm_bindgen_test]
async fn standard_search_on_the_worker_pool() {
    wasm_bindgen_futures::JsFuture::from(quantbot_web::init_thread_pool(THREADS))
        .await
        .unwrap();
    let (n, scale) = size();
    let mem0 = wasm_memory_bytes();

    let t = now_ms();
    // Held as the engine holds candles for a grid that reads no volume (like the native bench).
    let w = Arc::new(on_pool(move || Workload::prices_only(n, 50, CANDLES)).await);
    let gen_s = (now_ms() - t) / 1e3;
    let mem_data = wasm_memory_bytes();

    // Timed like the native benchmark's search rows: preparing the calls, then the search.
    let wc = w.clone();
    let t = now_ms();
    let (evaluations, callers, threads, d) = on_pool(move || {
        let grid = standard_grid(scale);
        let opts = options();
        let prepared = Prepared::new(windows(&wc, n), &grid, &opts.exec);
        let result = search(&prepared, &grid, &opts);
        (
            result.evaluations,
            result.per_caller.len(),
            rayon::current_num_threads(),
            digest(&result),
        )
    })
    .await;
    let secs = (now_ms() - t) / 1e3;
    let mem = wasm_memory_bytes();

    let policies = standard_grid(scale).size();
    assert_eq!(evaluations, (n * policies) as u64);
    assert_eq!(callers, 50);
    assert_eq!(threads, THREADS);
    let line = format!(
        "browser bench: {n} calls × {CANDLES} candles × {policies} policies, per-caller, {threads} pool threads: \
         search {secs:.3} s wall ({:.3e} evaluations/s); workload generated in {gen_s:.1} s; \
         wasm memory {:.0} MB at start, {:.0} MB with the workload, {:.0} MB after the search (peak: memory only grows); \
         results digest {d:016x}",
        evaluations as f64 / secs,
        mb(mem0),
        mb(mem_data),
        mb(mem),
    );
    console_log!("{line}");
    if option_env!("QUANTBOT_BROWSER_BENCH") == Some("full") {
        assert!(
            mem <= 1.5e9,
            "issue 6 allows at most 1.5 GB of wasm memory: {line}"
        );
    }
}
