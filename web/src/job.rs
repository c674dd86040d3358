//! Work on the pool of Web Workers, never on the page's thread: decoding a dataset and
//! running the grid search, with shared progress, thread accounting and cancellation.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use quantbot_core::grid::Grid;
use quantbot_core::optimize::{
    search_cancellable, CallWindow, Prepared, SearchOptions, SearchResult,
};
use quantbot_core::store::Volumes;
use quantbot_format::dataset::{
    load_published, parse_manifest, selected, Dataset, LoadOptions, ManifestInfo, PublishedFiles,
};
use quantbot_format::options::{no_files, Selection, V1Options};
use quantbot_format::parts;
use quantbot_format::results::results_json;

/// Runs `f` on the pool and awaits its result without blocking the page.
pub async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = futures_channel::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.expect("the pool dropped a job")
}

/// The message of the last panic on any thread (set by [`install_panic_hook`]).
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps each panic's message for [`on_pool_checked`] (a panicking worker aborts, so its job
/// never answers) and logs it to the console.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = PANIC.lock() {
            *p = Some(info.to_string());
        }
        console_error_panic_hook::hook(info);
    }));
}

thread_local! {
    /// The page's pool as it starts (`init_thread_pool`'s promise), once [`pool_starting`] was
    /// told of it.
    static POOL: std::cell::RefCell<Option<js_sys::Promise>> = const { std::cell::RefCell::new(None) };
}

/// Records the promise of the pool the page is starting, which every job of
/// [`on_pool_checked`] awaits first.
pub fn pool_starting(promise: js_sys::Promise) {
    POOL.with(|p| *p.borrow_mut() = Some(promise));
}

/// Waits until the page's pool exists. Before it does, `rayon::spawn` would make rayon's own
/// global pool of the page's thread alone, which never runs the job (the page waits on it, not
/// in it): a small dataset read before the workers started would hang on "decoding…", and the
/// real pool could no longer be made. A promise can be awaited any number of times.
async fn pool_ready() -> Result<(), String> {
    let Some(p) = POOL.with(|p| p.borrow().clone()) else {
        return Ok(());
    };
    wasm_bindgen_futures::JsFuture::from(p)
        .await
        .map(|_| ())
        .map_err(|_| "the worker pool did not start, so nothing can run".into())
}

/// [`on_pool`] that gives up with the panic's message when a worker dies instead of hanging,
/// and that starts the job only once the page's pool exists ([`pool_ready`]).
pub async fn on_pool_checked<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    pool_ready().await?;
    let (tx, mut rx) = futures_channel::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(f());
    });
    loop {
        match rx.try_recv() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(_) => return Err("a worker stopped without an answer; reload the page".into()),
        }
        // try_lock: the page's thread must never block on a lock.
        if let Some(msg) = PANIC.try_lock().ok().and_then(|p| p.clone()) {
            return Err(format!(
                "the engine stopped on an internal error ({msg}); reload the page"
            ));
        }
        crate::io::sleep_ms(20).await;
    }
}

/// A loaded dataset and where it came from.
#[derive(Debug)]
pub struct Loaded {
    pub label: String,
    pub manifest: Option<ManifestInfo>,
    pub ds: Dataset,
    /// Candles decoded (in one-worker mode the page holds the calls only).
    pub candles: usize,
    /// Bytes those candles take in memory, held compact (wherever they are held).
    pub candle_bytes: usize,
}

/// The raw files of a dataset, by role.
#[derive(Debug, Default)]
pub struct RawFiles {
    pub manifest: Option<(String, Vec<u8>)>,
    pub calls: Option<(String, Vec<u8>)>,
    pub excluded: Option<(String, Vec<u8>)>,
    /// `candles.parquet` or its parts (`candles-00000.parquet`, …), as given.
    pub candles: Vec<(String, Vec<u8>)>,
}

impl RawFiles {
    /// Files by name: `manifest.json`, `calls.parquet`, `excluded.parquet`, `candles.parquet`
    /// or a part of it; others are ignored. Returns whether the file was used.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) -> bool {
        let base = parts::base_name(name);
        if base == parts::WHOLE || parts::part_number(base).is_some() {
            self.candles.push((name.to_string(), bytes));
            return true;
        }
        let slot = match base {
            "manifest.json" => &mut self.manifest,
            "calls.parquet" => &mut self.calls,
            "excluded.parquet" => &mut self.excluded,
            _ => return false,
        };
        *slot = Some((name.to_string(), bytes));
        true
    }
}

/// Decodes a dataset (on the pool). Without a manifest, `fallback` gives interval and horizon.
pub fn decode(label: String, files: RawFiles, fallback: LoadOptions) -> Result<Loaded, String> {
    let manifest = files
        .manifest
        .as_ref()
        .map(|(name, b)| parse_manifest(name, b).map(|m| (name, m)))
        .transpose()
        .map_err(|e| e.to_string())?;
    let calls = files.calls.ok_or("calls.parquet is missing")?;
    // Whole or in parts, each part checked against the manifest's list.
    let candles = parts::pick_candle_files(
        manifest.as_ref().map(|(name, m)| (name.as_str(), &m.json)),
        files.candles,
    )
    .map_err(|e| e.to_string())?;
    let manifest = manifest.map(|(_, m)| m);
    let published = PublishedFiles {
        calls: (calls.0, Bytes::from(calls.1)),
        excluded: files.excluded.map(|(n, b)| (n, Bytes::from(b))),
        candles: candles
            .into_iter()
            .map(|(n, b)| (n, Bytes::from(b)))
            .collect(),
    };
    let sel = quantbot_format::options::Selection::all();
    // Volumes kept: any grid may follow the load, `vol_spike` included.
    let ds = load_published(
        label.clone(),
        manifest.as_ref(),
        fallback,
        published,
        &sel,
        Volumes::Keep,
    )
    .map_err(|e| e.to_string())?;
    let candles = ds.candle_count();
    let candle_bytes = ds.candle_bytes();
    Ok(Loaded {
        label,
        manifest,
        ds,
        candles,
        candle_bytes,
    })
}

/// Eligible calls per caller inside the options' selection (none when it does not parse).
/// Counted from the calls' status, not their windows: in one-worker mode the page holds the
/// calls without their candles, and the memory guard must see the same callers there.
pub fn calls_per_caller(ds: &Dataset, options: &V1Options) -> Vec<usize> {
    let Ok(sel) = options.selection(&no_files) else {
        return Vec::new();
    };
    // An unknown caller group is an error of the selection (the form shows it).
    if sel.groups.is_some() && ds.selected_windows(&sel).is_err() {
        return Vec::new();
    }
    let mut by: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (call, status) in ds.calls.iter().zip(&ds.status) {
        if status.is_ok() && selected(&sel, call) {
            *by.entry(call.caller.as_str()).or_default() += 1;
        }
    }
    by.into_values().collect()
}

/// Progress of a run, shared between the workers and the page.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
    /// Bit k set when pool thread k scored grid points.
    pub threads: AtomicU32,
    pub cancel: AtomicBool,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        let t = self.total.load(Ordering::Relaxed);
        if t == 0 {
            0.0
        } else {
            self.done.load(Ordering::Relaxed) as f64 / t as f64
        }
    }

    pub fn threads_used(&self) -> u32 {
        self.threads.load(Ordering::Relaxed).count_ones()
    }
}

/// What a finished run shows.
#[derive(Debug)]
pub struct RunOutput {
    pub grid: Grid,
    pub options: V1Options,
    pub result: SearchResult,
    /// The §10.1 document, pretty-printed as the CLI prints it.
    pub json: String,
    /// Per caller (in `result.per_caller` order): the equity after each close of its best
    /// policy's wallet, in sample.
    pub equity: Vec<Vec<(i64, f64)>>,
    /// The trades of each caller's best-policy wallet (the bundle's `trades.parquet`), when the
    /// run was computed here on the pool.
    pub best: Option<Vec<quantbot_format::run_files::BestTrade>>,
}

/// What a run's options make of a dataset: the grid, the search options, the selection and the
/// selected calls' windows (a search, and the views that rebuild one caller of it).
pub type Inputs<'a> = (Grid, SearchOptions, Selection, Vec<CallWindow<'a>>);

pub fn inputs<'a>(ds: &'a Dataset, options: &V1Options) -> Result<Inputs<'a>, String> {
    let grid = options.grid(ds.horizon_hours).map_err(|e| e.to_string())?;
    let opts = options
        .search_options(ds.interval_s)
        .map_err(|e| e.to_string())?;
    let sel = options.selection(&no_files).map_err(|e| e.to_string())?;
    let windows = ds.selected_windows(&sel).map_err(|e| e.to_string())?;
    Ok((grid, opts, sel, windows))
}

/// Runs the grid search on the pool (call it inside [`on_pool`]). `Ok(None)` when cancelled.
pub fn run(
    data: &Loaded,
    options: V1Options,
    progress: &Progress,
) -> Result<Option<RunOutput>, String> {
    let ds = &data.ds;
    let (grid, opts, sel, windows) = inputs(ds, &options)?;
    if windows.is_empty() {
        return Err("no eligible call in the selection".into());
    }
    let prepared = Prepared::new(windows, &grid, &opts.exec);
    let tick = |done: u64, total: u64| {
        progress.total.store(total, Ordering::Relaxed);
        progress.done.fetch_max(done, Ordering::Relaxed);
        if let Some(k) = rayon::current_thread_index() {
            progress
                .threads
                .fetch_or(1 << (k.min(31)), Ordering::Relaxed);
        }
    };
    let Some(result) = search_cancellable(&prepared, &grid, &opts, &tick, &progress.cancel) else {
        return Ok(None);
    };
    // Each caller's best policy: its trades (the bundle's trades.parquet) and its equity, from
    // the one function the CLI writes them with.
    let mut equity = Vec::new();
    let best =
        quantbot_format::run_files::best_trades(&prepared, &result.per_caller, &opts, &mut equity);
    let json = results_json(ds, &sel, &grid, &opts, &result);
    let json = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    Ok(Some(RunOutput {
        grid,
        options,
        result,
        json,
        equity,
        best: Some(best),
    }))
}

/// Shared handle to the loaded data.
pub type Data = Arc<Loaded>;
