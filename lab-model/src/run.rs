//! What a run costs and where it runs: the size shown before it starts ([`RunSize`]), the memory
//! budget that refuses a run the page cannot hold, and the backend ([`Backend`]): a pool of
//! workers sharing the engine's memory when the page is cross-origin isolated, else one worker
//! with its own engine.

use quantbot_core::grid::Grid;
use quantbot_core::optimize::Prepared;
use quantbot_format::options::V1Options;

/// What a run will cost, shown before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSize {
    pub grid_points: usize,
    /// Callers searched (each keeps every grid point's score).
    pub callers: usize,
    /// (call, policy) evaluations: grid points × eligible calls.
    pub evaluations: u64,
}

impl RunSize {
    pub fn of(grid: &Grid, eligible_calls: usize) -> RunSize {
        RunSize {
            grid_points: grid.size(),
            callers: 1,
            evaluations: grid.size() as u64 * eligible_calls as u64,
        }
    }

    /// Grid-point scores the result keeps (every point of every caller).
    pub fn scores_held(&self) -> u64 {
        (self.grid_points as u64).saturating_mul(self.callers as u64)
    }

    /// The evaluations a search will do: per caller with at least `min_calls` eligible calls,
    /// its in-sample calls (SPEC §6 holdout) × the grid points.
    pub fn for_search(
        grid: &Grid,
        calls_per_caller: impl IntoIterator<Item = usize>,
        options: &V1Options,
    ) -> RunSize {
        let kept: Vec<usize> = calls_per_caller
            .into_iter()
            .filter(|&n| n >= options.min_calls)
            .collect();
        let callers = kept.len();
        let in_sample: u64 = kept
            .into_iter()
            .map(|n| {
                if options.holdout_fraction > 0.0 {
                    Prepared::in_sample_count(n, options.holdout_fraction) as u64
                } else {
                    n as u64
                }
            })
            .sum();
        RunSize {
            grid_points: grid.size(),
            callers,
            evaluations: grid.size() as u64 * in_sample,
        }
    }

    /// The line shown before a run: its size, or why the page refuses it.
    pub fn describe(&self, backend: Backend, bytes_per_score: u64) -> String {
        match backend.check(*self, bytes_per_score) {
            Ok(()) => format!(
                "{} grid points · {} (call, policy) evaluations in sample",
                self.grid_points, self.evaluations
            ),
            Err(e) => e,
        }
    }
}

/// Where the grid runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A pool of Web Workers sharing the engine's memory (the page is cross-origin isolated).
    Pool { threads: usize },
    /// One dedicated worker with its own copy of the engine: without cross-origin isolation
    /// the shared memory cannot reach a pool.
    Solo,
}

/// The most worker threads a page starts, whatever it is asked.
pub const MAX_THREADS: usize = 16;

impl Backend {
    /// The backend of a page: a pool when it is cross-origin isolated, of `?threads=N` workers
    /// when the link gives a number, else one per core (`hardware`), between 1 and
    /// [`MAX_THREADS`].
    pub fn choose(isolated: bool, threads_param: Option<&str>, hardware: usize) -> Backend {
        if !isolated {
            return Backend::Solo;
        }
        let threads = threads_param
            .and_then(|t| t.trim().parse::<usize>().ok())
            .unwrap_or(hardware)
            .clamp(1, MAX_THREADS);
        Backend::Pool { threads }
    }

    /// The bytes of grid-point scores the page may keep: wasm32 addresses 4 GiB, shared by the
    /// candles and the results; the one worker also copies its results through JSON.
    pub fn memory_budget(self) -> u64 {
        match self {
            Backend::Pool { .. } => 1 << 30,
            Backend::Solo => 1 << 28,
        }
    }

    /// Refuses a run whose scores (`bytes_per_score` each: the size of the engine's `Scored`
    /// in wasm32) would not fit the budget, with the message the page shows.
    pub fn check(self, size: RunSize, bytes_per_score: u64) -> Result<(), String> {
        if size.scores_held().saturating_mul(bytes_per_score) <= self.memory_budget() {
            return Ok(());
        }
        Err(format!(
            "{} grid points × {} callers = {} scores to keep: more than this page can hold; use fewer grid points or callers, or the CLI",
            size.grid_points,
            size.callers,
            size.scores_held()
        ))
    }

    /// The header's line about isolation.
    pub fn describe(self) -> &'static str {
        match self {
            Backend::Pool { .. } => "cross-origin isolated: threads on",
            Backend::Solo => "not cross-origin isolated: running on one worker (serve with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, as cargo xtask lab does, to use every core)",
        }
    }
}

/// The most bytes of files one dataset may bring into the page, all its files together. The
/// page holds those bytes while it decodes them into candles (about as many bytes again, held
/// compact), beside up to [`Backend::memory_budget`] of results, inside wasm32's 4 GiB; so a
/// load is refused from its `Content-Length` (or a picked file's size) before any byte is read,
/// and, when the size was not given, as soon as the bytes read pass it.
pub const DATASET_LIMIT: u64 = 1_000_000_000;

/// The bytes of one dataset's files read so far, checked against [`DATASET_LIMIT`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DataBudget {
    read: u64,
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

impl DataBudget {
    /// Bytes read so far.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Before reading `name`, whose size is known to be `bytes` (its `Content-Length` or the
    /// file's size): refused, with the message the page shows, when the dataset would pass
    /// the limit.
    pub fn admit(&self, name: &str, bytes: u64) -> Result<(), String> {
        let total = self.read.saturating_add(bytes);
        if total <= DATASET_LIMIT {
            return Ok(());
        }
        Err(refusal(&format!("{name} is {}", mb(bytes)), total))
    }

    /// `bytes` more of `name` read (whose size was not given, or not kept to): refused once
    /// the dataset passes the limit, so the page stops reading there.
    pub fn take(&mut self, name: &str, so_far_in_file: u64, bytes: u64) -> Result<(), String> {
        let total = self.read.saturating_add(bytes);
        if total > DATASET_LIMIT {
            let file = so_far_in_file.saturating_add(bytes);
            return Err(refusal(&format!("{name} is more than {}", mb(file)), total));
        }
        self.read = total;
        Ok(())
    }
}

fn refusal(what: &str, total: u64) -> String {
    format!(
        "{what} ({} with the dataset's other files): more than the {} a dataset may take in this page; export fewer calls or a shorter date range, or use the CLI",
        mb(total),
        format_args!("{} MB", DATASET_LIMIT / 1_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Form;

    #[test]
    fn the_backend_follows_isolation_and_the_thread_count() {
        for (isolated, param, hw, want) in [
            (false, Some("4"), 8, Backend::Solo),
            (true, None, 2, Backend::Pool { threads: 2 }),
            (true, Some("4"), 2, Backend::Pool { threads: 4 }),
            (true, Some("0"), 2, Backend::Pool { threads: 1 }),
            (true, Some("999"), 2, Backend::Pool { threads: 16 }),
            (true, Some("two"), 3, Backend::Pool { threads: 3 }),
            (true, None, 0, Backend::Pool { threads: 1 }),
        ] {
            assert_eq!(
                Backend::choose(isolated, param, hw),
                want,
                "{isolated} {param:?} {hw}"
            );
        }
    }

    #[test]
    fn the_memory_budget_refuses_what_the_page_cannot_hold() {
        let size = |grid_points, callers| RunSize {
            grid_points,
            callers,
            evaluations: 0,
        };
        let pool = Backend::Pool { threads: 2 };
        // 150 bytes a score: 1 GiB holds 7,158,278 scores in a pool, 1,789,569 in one worker.
        assert_eq!(pool.check(size(7_158_278, 1), 150), Ok(()));
        assert!(pool.check(size(7_158_279, 1), 150).is_err());
        assert_eq!(Backend::Solo.check(size(1_789_569, 1), 150), Ok(()));
        let e = Backend::Solo.check(size(100_000, 18), 150).unwrap_err();
        assert!(
            e.starts_with("100000 grid points × 18 callers = 1800000 scores to keep"),
            "{e}"
        );
        assert_eq!(size(100_000, 18).describe(Backend::Solo, 150), e);
        // No overflow on absurd sizes.
        assert!(pool.check(size(usize::MAX, usize::MAX), 150).is_err());
    }

    #[test]
    fn run_size_counts_in_sample_calls_of_kept_callers() {
        let o = Form::default().options(48.0, 60).unwrap();
        let grid = o.grid(48.0).unwrap();
        // Holdout 0.3: ceil(0.7 × 10) = 7 and ceil(0.7 × 3) = 3 in-sample calls; a caller
        // under min_calls is left out.
        let mut o2 = o.clone();
        o2.min_calls = 3;
        let s = RunSize::for_search(&grid, [10, 3, 2], &o2);
        assert_eq!(s.evaluations, 30 * (7 + 3));
        assert_eq!(s.callers, 2);
        assert_eq!(s.scores_held(), 60);
        assert_eq!(
            s.describe(Backend::Solo, 150),
            "30 grid points · 300 (call, policy) evaluations in sample"
        );
    }

    #[test]
    fn a_dataset_over_the_limit_is_refused_before_and_while_it_is_read() {
        let mut b = DataBudget::default();
        // Known sizes: admitted up to the limit in all, refused beyond it, before reading.
        assert_eq!(b.admit("calls.parquet", DATASET_LIMIT), Ok(()));
        b.take("calls.parquet", 0, 400_000_000).unwrap();
        assert_eq!(b.admit("candles.parquet", 600_000_000), Ok(()));
        assert_eq!(
            b.admit("candles.parquet", 3_221_225_472),
            Err("candles.parquet is 3221.2 MB (3621.2 MB with the dataset's other files): more than the 1000 MB a dataset may take in this page; export fewer calls or a shorter date range, or use the CLI".into())
        );
        // Unknown sizes: counted chunk by chunk, refused at the chunk that passes the limit.
        b.take("candles.parquet", 0, 599_000_000).unwrap();
        assert_eq!(b.read(), 999_000_000);
        let e = b
            .take("candles.parquet", 599_000_000, 2_000_000)
            .unwrap_err();
        assert!(
            e.starts_with("candles.parquet is more than 601.0 MB (1001.0 MB with the dataset's other files): more than the 1000 MB"),
            "{e}"
        );
        assert_eq!(b.read(), 999_000_000);
        // No overflow on absurd sizes.
        assert!(b.admit("x", u64::MAX).is_err());
        assert!(b.take("x", u64::MAX, u64::MAX).is_err());
    }
}
