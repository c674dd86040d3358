//! The page's state: one `Copy` handle of signals that every component reads and the backend
//! writes. Rules live in `quantbot_lab_model`; this is only where their values are kept.

use std::sync::Arc;

use leptos::prelude::*;
use quantbot_format::Error;
use quantbot_lab_model::form::Form;
use quantbot_lab_model::origin::Opening;
use quantbot_lab_model::run::{Backend, RunSize};
use quantbot_lab_model::share::{Selected, ShareLink, Tab};

use crate::job::{self, Data, Progress, RunOutput};

/// Bytes one grid point's score takes in this build (wasm32): the memory budget's unit.
pub const BYTES_PER_SCORE: u64 = std::mem::size_of::<quantbot_core::metrics::Scored>() as u64;

/// A result bundle's files by name, as the user gave them.
pub type BundleFiles = Arc<std::collections::BTreeMap<String, Vec<u8>>>;

#[derive(Debug, Clone, Copy)]
pub struct Lab {
    pub backend: Backend,
    /// The link the page was opened with (the lab's defaults when it had none).
    pub link: StoredValue<ShareLink>,
    /// Worker threads ready (1 in one-worker mode), or why none are.
    pub workers: RwSignal<Option<usize>>,
    pub workers_error: RwSignal<Option<String>>,

    pub data_url: RwSignal<String>,
    /// The link's folder on another origin, waiting for the user's click (`Opening::Ask`).
    pub data_ask: RwSignal<Option<Opening>>,
    pub files_interval: RwSignal<String>,
    pub loaded: RwSignal<Option<Data>>,
    pub loading: RwSignal<bool>,
    pub load_status: RwSignal<String>,
    pub load_error: RwSignal<Option<String>>,

    pub form: RwSignal<Form>,
    pub problems: Memo<Vec<Error>>,
    pub run_size: Memo<Option<RunSize>>,

    pub running: RwSignal<bool>,
    pub progress: StoredValue<Arc<Progress>>,
    pub progress_pct: RwSignal<f64>,
    pub run_t0: StoredValue<f64>,
    pub output: RwSignal<Option<Arc<RunOutput>>>,
    pub run_error: RwSignal<Option<String>>,
    pub run_stats: RwSignal<String>,
    /// The caller, policy and trade selected in the results (restored from a link).
    pub selected: RwSignal<Selected>,
    /// The tab shown (restored from a link).
    pub tab: RwSignal<Tab>,
    /// A result bundle the user opened from files (`results.json` and its companions).
    pub bundle_files: RwSignal<Option<BundleFiles>>,
}

impl Lab {
    pub fn new(backend: Backend, link: ShareLink) -> Lab {
        let loaded = RwSignal::new(None::<Data>);
        let form = RwSignal::new(link.form.clone());
        let dims = move || {
            loaded.with(|l| {
                l.as_ref()
                    .map_or((48.0, 60), |l| (l.ds.horizon_hours, l.ds.interval_s))
            })
        };
        let problems = Memo::new(move |_| {
            let (h, i) = dims();
            form.with(|f| f.options(h, i).err().unwrap_or_default())
        });
        let run_size = Memo::new(move |_| {
            let (h, i) = dims();
            let options = form.with(|f| f.options(h, i)).ok()?;
            let grid = options.grid(h).ok()?;
            let counts = loaded.with(|l| {
                l.as_ref()
                    .map_or_else(Vec::new, |l| job::calls_per_caller(&l.ds, &options))
            });
            Some(RunSize::for_search(&grid, counts, &options))
        });
        Lab {
            backend,
            data_url: RwSignal::new(link.data.clone().unwrap_or_else(|| "data/demo/".into())),
            data_ask: RwSignal::new(None),
            selected: RwSignal::new(link.selected.clone()),
            tab: RwSignal::new(link.tab),
            bundle_files: RwSignal::new(None),
            link: StoredValue::new(link),
            workers: RwSignal::new(None),
            workers_error: RwSignal::new(None),
            files_interval: RwSignal::new("1m".into()),
            loaded,
            loading: RwSignal::new(false),
            load_status: RwSignal::new(String::new()),
            load_error: RwSignal::new(None),
            form,
            problems,
            run_size,
            running: RwSignal::new(false),
            progress: StoredValue::new(Arc::new(Progress::default())),
            progress_pct: RwSignal::new(0.0),
            run_t0: StoredValue::new(0.0),
            output: RwSignal::new(None),
            run_error: RwSignal::new(None),
            run_stats: RwSignal::new(String::new()),
        }
    }

    /// The loaded horizon and interval (the defaults before any load).
    pub fn dims(&self) -> (f64, i64) {
        self.loaded.with(|l| {
            l.as_ref()
                .map_or((48.0, 60), |l| (l.ds.horizon_hours, l.ds.interval_s))
        })
    }

    /// Why a run cannot start now (`None` when it can): every path that starts a run (the
    /// button, a share link) asks this first.
    pub fn run_blocker(&self) -> Option<String> {
        if self.workers.get().is_none() {
            return Some("the workers are not ready".into());
        }
        if self.loaded.with(Option::is_none) {
            return Some("no data is loaded".into());
        }
        if self.running.get() || self.loading.get() {
            return Some("busy".into());
        }
        if !self.problems.with(Vec::is_empty) {
            return Some("fix the fields marked above to run".into());
        }
        let Some(size) = self.run_size.get() else {
            return Some("fix the fields marked above to run".into());
        };
        self.backend.check(size, BYTES_PER_SCORE).err()
    }

    /// The share link of what the page shows now.
    /// What a click on a row of a per-caller table does: select that caller of `out` (row `k`
    /// is `out`'s `k`-th caller), which opens its details.
    pub fn open_caller(&self, out: &RunOutput) -> crate::components::data_table::RowClick {
        let names: Vec<String> = out
            .result
            .per_caller
            .iter()
            .map(|c| c.caller.clone())
            .collect();
        let selected = self.selected;
        Some(Arc::new(move |k: usize| {
            selected.set(Selected {
                caller: names.get(k).cloned(),
                policy: None,
                trade: None,
            })
        }))
    }

    /// Whether the loaded data came from the user's files (a link cannot carry them).
    pub fn data_is_local(&self) -> bool {
        self.loaded
            .with(|l| l.as_ref().is_some_and(|l| l.label.starts_with("files:")))
    }

    pub fn share_link(&self) -> ShareLink {
        ShareLink {
            data: Some(self.data_url.get()),
            version: Some(quantbot_core::VERSION.to_string()),
            sha: self.loaded.with(|l| {
                l.as_ref()
                    .and_then(|l| l.manifest.as_ref().map(|m| m.sha256.clone()))
            }),
            form: self.form.get(),
            selected: self.selected.get(),
            tab: self.tab.get(),
            // A bundle's page shares the bundle (shown as computed, never rerun by the link).
            bundle: self.link.with_value(|l| l.bundle.clone()),
            run: true,
        }
    }
}
