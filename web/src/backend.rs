//! Where the lab's work runs, chosen once (`quantbot_lab_model::run::Backend`): on the pool of
//! workers sharing the page's engine, or on the one worker with its own. Components call
//! `start`, `run` and `cancel` here and `load::open_confirmed`/`load_files`, and never branch on
//! isolation.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_format::options::V1Options;
use quantbot_lab_model::messages::{dataset_of, result_of, FromWorker, ToWorker};
use quantbot_lab_model::run::Backend;
use quantbot_lab_model::share::ShareLink;

use crate::io::{now_ms, publish, wasm_memory_bytes};
use crate::job::{self, on_pool_checked, Loaded, Progress, RunOutput};
use crate::lab::Lab;
use crate::load::loaded;
use crate::solo;

thread_local! {
    /// The options of the run the one worker is computing (its answer carries the result only).
    static SOLO_RUN: std::cell::RefCell<Option<V1Options>> = const { std::cell::RefCell::new(None) };
}

fn js_text(e: &wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::Reflect::get(e, &"message".into()).ok()?.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Starts the workers: the pool, or the one worker.
pub fn start(lab: Lab) {
    match lab.backend {
        Backend::Pool { threads } => spawn_local(async move {
            let p = crate::init_thread_pool(threads);
            // Loads and runs await this same promise before they reach the pool.
            job::pool_starting(p.clone());
            match wasm_bindgen_futures::JsFuture::from(p).await {
                Ok(_) => lab.workers.set(Some(threads)),
                Err(e) => lab.workers_error.set(Some(format!(
                    "the worker pool did not start, so nothing can run: {}",
                    js_text(&e)
                ))),
            }
        }),
        Backend::Solo => {
            if let Err(e) = solo::start(move |m| on_solo(lab, m)) {
                lab.workers_error.set(Some(e));
            }
        }
    }
}

/// The one worker's answers.
fn on_solo(lab: Lab, msg: FromWorker) {
    match msg {
        FromWorker::Ready => lab.workers.set(Some(1)),
        FromWorker::Loaded {
            label,
            calls,
            manifest,
            manifest_sha256,
        } => {
            lab.loading.set(false);
            match dataset_of(&calls, manifest.as_ref(), manifest_sha256.as_deref()) {
                Ok(l) => loaded(
                    lab,
                    Loaded {
                        label,
                        manifest: l.manifest,
                        ds: l.ds,
                        candles: l.candles,
                        candle_bytes: l.candle_bytes,
                    },
                    format!("decoded {} candles in one worker", l.candles),
                ),
                Err(e) => lab.load_error.set(Some(e.to_string())),
            }
        }
        FromWorker::Done {
            results_json,
            result,
            equity,
        } => {
            lab.running.set(false);
            let secs = (now_ms() - lab.run_t0.get_value()) / 1000.0;
            let Some(options) = SOLO_RUN.with(|r| r.borrow_mut().take()) else {
                return;
            };
            let horizon = lab.dims().0;
            let out = result_of(&result, &equity)
                .map_err(|e| e.to_string())
                .and_then(|(result, equity)| {
                    let grid = options.grid(horizon).map_err(|e| e.to_string())?;
                    Ok(RunOutput {
                        grid,
                        options,
                        result,
                        json: results_json,
                        equity,
                        best: None,
                    })
                });
            match out {
                Ok(out) => finish_run(lab, out, secs, 1),
                Err(e) => lab.run_error.set(Some(e)),
            }
        }
        FromWorker::Error { message } => {
            if lab.loading.get_untracked() {
                lab.loading.set(false);
                lab.load_error.set(Some(message));
            } else {
                lab.running.set(false);
                lab.run_error.set(Some(message));
            }
        }
    }
}

/// A finished run, from either backend.
fn finish_run(lab: Lab, out: RunOutput, secs: f64, used: u32) {
    lab.progress_pct.set(1.0);
    let evals = out.result.evaluations as f64;
    let mem = wasm_memory_bytes();
    lab.run_stats.set(format!(
        "{secs:.2} s wall · {used} worker thread{} ran · {:.3e} evaluations/s · wasm memory {:.0} MB",
        if used == 1 { "" } else { "s" },
        evals / secs.max(1e-9),
        mem / 1e6
    ));
    publish(
        "quantbotRunStats",
        &serde_json::json!({
            "secs": secs,
            "threads_used": used,
            "pool_threads": lab.workers.get_untracked(),
            "evaluations": out.result.evaluations,
            "evaluations_per_s": evals / secs.max(1e-9),
            "wasm_memory_bytes": mem,
            "isolated": lab.backend != Backend::Solo,
        })
        .to_string(),
    );
    publish("quantbotResults", &out.json);
    // A caller named by the link stays selected if this run has it.
    lab.selected.update(|s| {
        if s.caller
            .as_ref()
            .is_some_and(|c| !out.result.per_caller.iter().any(|r| &r.caller == c))
        {
            *s = Default::default();
        }
    });
    lab.output.set(Some(Arc::new(out)));
}

/// Starts a run of the form's grid, if nothing blocks it (the one guard of every path: the
/// button, a share link, a reload); else returns the blocker's message, the one the page shows
/// under the Run button.
pub fn run(lab: Lab) -> Result<(), String> {
    if let Some(why) = lab.run_blocker() {
        return Err(why);
    }
    let Some(data) = lab.loaded.get_untracked() else {
        return Err("no data is loaded".into());
    };
    let (h, i) = lab.dims();
    let Ok(options) = lab.form.with_untracked(|f| f.options(h, i)) else {
        return Err("fix the fields marked above to run".into());
    };
    let prog = Arc::new(Progress::default());
    lab.progress.set_value(prog.clone());
    lab.running.set(true);
    lab.run_error.set(None);
    lab.run_stats.set(String::new());
    lab.progress_pct.set(0.0);
    lab.run_t0.set_value(now_ms());
    if lab.backend == Backend::Solo {
        SOLO_RUN.with(|r| *r.borrow_mut() = Some(options));
        let query = ShareLink {
            form: lab.form.get_untracked(),
            ..ShareLink::default()
        }
        .to_query();
        if let Err(e) = solo::post(&ToWorker::Run { query }, None) {
            lab.running.set(false);
            lab.run_error.set(Some(e));
        }
        return Ok(());
    }
    let poll = prog.clone();
    let ticker = set_interval_with_handle(
        move || lab.progress_pct.set(poll.fraction()),
        Duration::from_millis(100),
    )
    .ok();
    spawn_local(async move {
        let job_prog = prog.clone();
        let r = on_pool_checked(move || job::run(&data, options, &job_prog))
            .await
            .and_then(|r| r);
        let secs = (now_ms() - lab.run_t0.get_value()) / 1000.0;
        if let Some(t) = ticker {
            t.clear();
        }
        lab.running.set(false);
        match r {
            Ok(Some(out)) => finish_run(lab, out, secs, prog.threads_used()),
            Ok(None) => lab
                .run_error
                .set(Some(format!("cancelled after {secs:.1} s"))),
            Err(e) => lab.run_error.set(Some(e)),
        }
    });
    Ok(())
}

/// [`run`], or the blocker's message under the Run button when it does not start (what a click
/// and a link's `run=1` do).
pub fn run_or_say(lab: Lab) {
    if let Err(why) = run(lab) {
        lab.run_error.set(Some(why));
    }
}

/// Cancels a run: no new block of work starts on the pool; the one worker is stopped and
/// started anew (its data goes with it).
pub fn cancel(lab: Lab) {
    match lab.backend {
        Backend::Pool { .. } => lab
            .progress
            .with_value(|p| p.cancel.store(true, Ordering::Relaxed)),
        Backend::Solo => {
            solo::stop();
            lab.running.set(false);
            lab.loaded.set(None);
            lab.workers.set(None);
            lab.run_error.set(Some(
                "cancelled: the worker was stopped; open the data again".into(),
            ));
            start(lab);
        }
    }
}
