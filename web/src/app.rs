//! The lab's page. Components only render the state types of `quantbot_format::lab` and start
//! jobs on the pool (`job`); every rule (validation, sorting, paging, results) lives in those
//! plain types.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_core::select::format_ts_ms;
use quantbot_core::window::Exclusion;
use quantbot_format::dataset::LoadOptions;
use quantbot_format::lab::{
    caller_columns, caller_rows, equity_points, grid_columns, grid_rows, metric_cells, Cell, Form,
    RunSize, TableView, METRIC_COLUMNS,
};
use quantbot_format::options::interval_name;
use quantbot_format::Error;

use crate::io::{fetch_bytes, file_bytes, now_ms, publish, wasm_memory_bytes};
use crate::job::{self, on_pool_checked, Data, Progress, RawFiles, RunOutput};

type GetText = fn(&Form) -> String;
type SetText = fn(&mut Form, String);

fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

fn pool_threads() -> usize {
    let hc = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency()) as usize;
    query_param("threads")
        .and_then(|t| t.parse().ok())
        .unwrap_or(hc)
        .clamp(1, 16)
}

fn js_object(fields: &[(&str, wasm_bindgen::JsValue)]) -> wasm_bindgen::JsValue {
    let o = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

fn js_text(e: &wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::Reflect::get(e, &"message".into()).ok()?.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

#[component]
pub fn App() -> impl IntoView {
    let isolated = cross_origin_isolated();
    // Every grid point's score is kept per caller (about 150 bytes each in wasm32); beyond this
    // the page would run out of memory. One-worker mode also copies them through JSON.
    let too_big = move |s: RunSize| {
        let budget: u64 = if isolated { 1 << 30 } else { 1 << 28 };
        s.scores_held() * std::mem::size_of::<quantbot_core::metrics::Scored>() as u64 > budget
    };
    let pool = RwSignal::new(None::<usize>);
    let pool_error = RwSignal::new(None::<String>);
    // Without cross-origin isolation the shared memory cannot reach a pool: one worker with its
    // own engine instead (see solo.rs).
    let wanted = pool_threads();
    let solo = StoredValue::new_local(None::<web_sys::Worker>);
    let solo_options = StoredValue::new(None::<quantbot_format::options::V1Options>);
    if isolated {
        spawn_local(async move {
            let p = crate::init_thread_pool(wanted);
            match wasm_bindgen_futures::JsFuture::from(p).await {
                Ok(_) => pool.set(Some(wanted)),
                Err(e) => pool_error.set(Some(format!(
                    "the worker pool did not start, so nothing can run: {}",
                    js_text(&e)
                ))),
            }
        });
    }

    let loaded = RwSignal::new(None::<Data>);
    let load_status = RwSignal::new(String::new());
    let load_error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let data_url = RwSignal::new(query_param("data").unwrap_or_else(|| "data/demo/".into()));
    let files_interval = RwSignal::new("1m".to_string());

    // A share link carries the form (only what differs from the defaults), the data URL, the
    // dataset's manifest hash and `run=1`; opening it loads, checks and runs the same thing.
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let form = RwSignal::new(Form::from_query(&search));
    let link_sha = query_param("sha");
    let autorun = StoredValue::new(query_param("run").as_deref() == Some("1"));
    let dims = move || {
        loaded.with(|l| {
            l.as_ref()
                .map_or((48.0, 60), |l| (l.ds.horizon_hours, l.ds.interval_s))
        })
    };
    let problems: Memo<Vec<Error>> = Memo::new(move |_| {
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

    let running = RwSignal::new(false);
    let progress = StoredValue::new(Arc::new(Progress::default()));
    let progress_pct = RwSignal::new(0.0f64);
    let output = RwSignal::new(None::<Arc<RunOutput>>);
    let run_error = RwSignal::new(None::<String>);
    let run_stats = RwSignal::new(String::new());

    // Loading: bytes in, decoding on the pool.
    let finish_load = move |label: String, files: RawFiles| {
        let fallback = LoadOptions {
            interval_s: quantbot_format::options::parse_interval(&files_interval.get_untracked())
                .unwrap_or(60),
            horizon_hours: 48.0,
            min_coverage: 0.8,
        };
        load_status.set("decoding Parquet on the workers…".into());
        spawn_local(async move {
            let t0 = now_ms();
            let r = on_pool_checked(move || job::decode(label, files, fallback))
                .await
                .and_then(|r| r);
            loading.set(false);
            match r {
                Ok(data) => {
                    let secs = (now_ms() - t0) / 1000.0;
                    load_status.set(format!(
                        "decoded {} candles in {secs:.1} s; wasm memory {:.0} MB",
                        data.candles,
                        wasm_memory_bytes() / 1e6
                    ));
                    publish("quantbotLoaded", &data.label);
                    output.set(None);
                    loaded.set(Some(Arc::new(data)));
                }
                Err(e) => load_error.set(Some(e)),
            }
        });
    };
    let solo_load = move |label: String, items: js_sys::Array| {
        let interval =
            quantbot_format::options::parse_interval(&files_interval.get_untracked()).unwrap_or(60);
        load_status.set("decoding Parquet in the one worker…".into());
        let msg = js_object(&[(
            "load",
            js_object(&[
                ("label", label.into()),
                ("items", items.into()),
                ("interval", (interval as f64).into()),
            ]),
        )]);
        solo.with_value(|w| w.as_ref().map(|w| w.post_message(&msg)));
    };
    let load_url = move || {
        let mut base = data_url.get_untracked().trim().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        loading.set(true);
        load_error.set(None);
        load_status.set(format!("fetching {base}…"));
        if !isolated {
            let items = js_sys::Array::new();
            for name in [
                "manifest.json",
                "calls.parquet",
                "excluded.parquet",
                "candles.parquet",
            ] {
                let url = web_sys::Url::new_with_base(
                    &format!("{base}{name}"),
                    &web_sys::window()
                        .and_then(|w| w.location().href().ok())
                        .unwrap_or_default(),
                )
                .map(|u| u.href())
                .unwrap_or_else(|_| format!("{base}{name}"));
                items.push(&js_object(&[
                    ("name", format!("{base}{name}").into()),
                    ("url", url.into()),
                    (
                        "optional",
                        (name == "excluded.parquet" || name == "manifest.json").into(),
                    ),
                ]));
            }
            solo_load(base, items);
            return;
        }
        spawn_local(async move {
            let mut files = RawFiles::default();
            for name in [
                "manifest.json",
                "calls.parquet",
                "excluded.parquet",
                "candles.parquet",
            ] {
                let url = format!("{base}{name}");
                match fetch_bytes(&url).await {
                    Ok(Some(b)) => {
                        files.add(&url, b);
                    }
                    Ok(None) if name == "excluded.parquet" => {}
                    Ok(None) => {
                        loading.set(false);
                        load_error.set(Some(format!(
                            "{url}: not found (is {base} a dataset folder?)"
                        )));
                        return;
                    }
                    Err(e) => {
                        loading.set(false);
                        load_error.set(Some(e));
                        return;
                    }
                }
            }
            finish_load(base, files);
        });
    };
    let load_files = move |list: web_sys::FileList| {
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        loading.set(true);
        load_error.set(None);
        load_status.set(format!("reading {} files…", files.len()));
        if !isolated {
            let items = js_sys::Array::new();
            for f in &files {
                items.push(&js_object(&[("name", f.name().into()), ("file", f.into())]));
            }
            let names: Vec<String> = files.iter().map(|f| f.name()).collect();
            solo_load(format!("files:{}", names.join(",")), items);
            return;
        }
        spawn_local(async move {
            let mut raw = RawFiles::default();
            let mut ignored = Vec::new();
            for f in &files {
                match file_bytes(f).await {
                    Ok(b) => {
                        if !raw.add(&f.name(), b) {
                            ignored.push(f.name());
                        }
                    }
                    Err(e) => {
                        loading.set(false);
                        load_error.set(Some(e));
                        return;
                    }
                }
            }
            if raw.calls.is_none() || raw.candles.is_none() {
                loading.set(false);
                load_error.set(Some(format!(
                    "give calls.parquet and candles.parquet (or every file of an exported folder); got {}",
                    files.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
                )));
                return;
            }
            let names: Vec<String> = files.iter().map(|f| f.name()).collect();
            finish_load(format!("files:{}", names.join(",")), raw);
        });
    };

    // A finished run, from the pool or from the one worker.
    let finish_run = move |out: RunOutput, secs: f64, used: u32| {
        progress_pct.set(1.0);
        let evals = out.result.evaluations as f64;
        let mem = wasm_memory_bytes();
        run_stats.set(format!(
            "{:.2} s wall · {used} worker thread{} ran · {:.3e} evaluations/s · wasm memory {:.0} MB",
            secs,
            if used == 1 { "" } else { "s" },
            evals / secs.max(1e-9),
            mem / 1e6
        ));
        publish(
            "quantbotRunStats",
            &serde_json::json!({
                "secs": secs,
                "threads_used": used,
                "pool_threads": pool.get_untracked(),
                "evaluations": out.result.evaluations,
                "evaluations_per_s": evals / secs.max(1e-9),
                "wasm_memory_bytes": mem,
                "isolated": isolated,
            })
            .to_string(),
        );
        publish("quantbotResults", &out.json);
        output.set(Some(Arc::new(out)));
    };
    let run_t0 = StoredValue::new(0.0f64);
    let on_run = move |_: ()| {
        let Some(data) = loaded.get_untracked() else {
            return;
        };
        let (h, i) = dims();
        let Ok(options) = form.with_untracked(|f| f.options(h, i)) else {
            return;
        };
        let prog = Arc::new(Progress::default());
        progress.set_value(prog.clone());
        running.set(true);
        run_error.set(None);
        run_stats.set(String::new());
        progress_pct.set(0.0);
        run_t0.set_value(now_ms());
        if !isolated {
            solo_options.set_value(Some(options));
            let msg = js_object(&[(
                "run",
                js_object(&[("query", form.with_untracked(Form::to_query).into())]),
            )]);
            solo.with_value(|w| w.as_ref().map(|w| w.post_message(&msg)));
            return;
        }
        let poll = prog.clone();
        let ticker = set_interval_with_handle(
            move || progress_pct.set(poll.fraction()),
            Duration::from_millis(100),
        )
        .ok();
        spawn_local(async move {
            let job_prog = prog.clone();
            let r = on_pool_checked(move || job::run(&data, options, &job_prog))
                .await
                .and_then(|r| r);
            let secs = (now_ms() - run_t0.get_value()) / 1000.0;
            if let Some(t) = ticker {
                t.clear();
            }
            running.set(false);
            match r {
                Ok(Some(out)) => finish_run(out, secs, prog.threads_used()),
                Ok(None) => run_error.set(Some(format!("cancelled after {secs:.1} s"))),
                Err(e) => run_error.set(Some(e)),
            }
        });
    };
    // The one worker of a page without cross-origin isolation, and its answers.
    let start_solo = move || {
        let on_message = move |data: wasm_bindgen::JsValue| {
            let get = |k: &str| {
                js_sys::Reflect::get(&data, &k.into())
                    .ok()
                    .filter(|v| !v.is_undefined())
            };
            if get("ready").is_some() {
                pool.set(Some(1));
            } else if let Some(v) = get("loaded") {
                loading.set(false);
                match crate::solo::loaded_from(&v.as_string().unwrap_or_default()) {
                    Ok(d) => {
                        load_status.set(format!("decoded {} candles in one worker", d.candles));
                        publish("quantbotLoaded", &d.label);
                        output.set(None);
                        loaded.set(Some(Arc::new(d)));
                    }
                    Err(e) => load_error.set(Some(e)),
                }
            } else if let Some(v) = get("done") {
                running.set(false);
                let secs = (now_ms() - run_t0.get_value()) / 1000.0;
                let options = solo_options.get_value();
                let horizon =
                    loaded.with_untracked(|l| l.as_ref().map_or(48.0, |l| l.ds.horizon_hours));
                match options.map(|o| {
                    crate::solo::output_from(&v.as_string().unwrap_or_default(), o, horizon)
                }) {
                    Some(Ok(out)) => finish_run(out, secs, 1),
                    Some(Err(e)) => run_error.set(Some(e)),
                    None => {}
                }
            } else if let Some(e) = get("error") {
                let e = e.as_string().unwrap_or_default();
                if loading.get_untracked() {
                    loading.set(false);
                    load_error.set(Some(e));
                } else {
                    running.set(false);
                    run_error.set(Some(e));
                }
            }
        };
        match crate::solo::start(on_message) {
            Ok(w) => solo.set_value(Some(w)),
            Err(e) => pool_error.set(Some(e)),
        }
    };
    if !isolated {
        start_solo();
    }
    // The bundled demo dataset opens by default.
    if query_param("autoload") != Some("0".into()) {
        load_url();
    }

    Effect::new(move |_| {
        if autorun.get_value()
            && pool.get().is_some()
            && loaded.with(Option::is_some)
            && !running.get()
        {
            autorun.set_value(false);
            if problems.with(Vec::is_empty) {
                on_run(());
            }
        }
    });
    let share = move || {
        let data = data_url.get();
        let sha = loaded.with(|l| {
            l.as_ref()
                .and_then(|l| l.manifest.as_ref().map(|m| m.sha256.clone()))
        });
        let mut q = format!(
            "?data={}&v={}",
            quantbot_format::lab::percent_encode(data.trim()),
            quantbot_core::VERSION
        );
        if let Some(sha) = sha {
            q.push_str(&format!("&sha={sha}"));
        }
        let f = form.with(Form::to_query);
        if !f.is_empty() {
            q.push('&');
            q.push_str(&f);
        }
        q.push_str("&run=1");
        q
    };
    let link_version = query_param("v");
    let sha_warning = move || {
        if let Some(v) = link_version
            .as_deref()
            .filter(|v| *v != quantbot_core::VERSION)
        {
            return Some(format!(
                "this link was made with engine {v}; this lab runs engine {}: results may differ",
                quantbot_core::VERSION
            ));
        }
        let want = link_sha.clone()?;
        let have = loaded.with(|l| {
            l.as_ref()
                .and_then(|l| l.manifest.as_ref().map(|m| m.sha256.clone()))
        })?;
        (want != have).then(|| {
            format!(
                "this link was made on dataset {}, but the loaded one is {}: results will differ",
                want.chars().take(12).collect::<String>(),
                have.chars().take(12).collect::<String>()
            )
        })
    };
    let on_cancel = move |_| {
        if isolated {
            progress.with_value(|p| p.cancel.store(true, Ordering::Relaxed));
        } else {
            // The one worker cannot hear a message while it computes: stop it and start anew
            // (its data goes with it).
            solo.with_value(|w| w.as_ref().map(web_sys::Worker::terminate));
            running.set(false);
            loaded.set(None);
            pool.set(None);
            run_error.set(Some(
                "cancelled: the worker was stopped; open the data again".into(),
            ));
            start_solo();
        }
    };

    let can_run = move || {
        run_size.get().is_some_and(|s| !too_big(s))
            && pool.get().is_some()
            && loaded.with(Option::is_some)
            && problems.with(Vec::is_empty)
            && !running.get()
            && !loading.get()
    };

    let text = move |label: &'static str, flag: &'static str, get: GetText, set: SetText| {
        text_field(form, problems, label, flag, get, set)
    };
    let pick = move |label: &'static str,
                     flag: &'static str,
                     choices: &'static [&'static str],
                     get: GetText,
                     set: SetText| {
        select_field(form, problems, label, flag, choices, get, set)
    };

    view! {
        <header>
            <h1>"Quantbot Lab"</h1>
            <span id="isolation" class=if isolated { "ok" } else { "warn" }>
                {if isolated {
                    "cross-origin isolated: threads on".to_string()
                } else {
                    "not cross-origin isolated: running on one worker (serve with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, as cargo xtask lab does, to use every core)".to_string()
                }}
            </span>
            <span id="pool">
                {move || match (pool.get(), pool_error.get()) {
                    (Some(n), _) => format!("{n} worker threads ready"),
                    (None, Some(e)) => e,
                    (None, None) => "starting workers…".into(),
                }}
            </span>
        </header>
        <main>
        <section id="data">
            <h2>"Data"</h2>
            <div class="row">
                <label>"Dataset folder URL "
                    <input id="data-url" type="text" size="40" prop:value=move || data_url.get()
                        on:input=move |ev| data_url.set(event_target_value(&ev)) />
                </label>
                <button id="load-url" on:click=move |_| load_url() disabled=move || loading.get() || running.get()>"Open"</button>
            </div>
            <div class="row drop"
                on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
                        load_files(list);
                    }
                }>
                <label>"Your files (an exported folder's files, or calls.parquet + candles.parquet) "
                    <input id="files" type="file" multiple=true accept=".parquet,.json" disabled=move || loading.get() || running.get()
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(list) = input.files() {
                                load_files(list);
                            }
                        } />
                </label>
                <label>" interval without a manifest "
                    <select id="files-interval" on:change=move |ev| files_interval.set(event_target_value(&ev))>
                        {["1m", "5m", "15m", "1h"].map(|v| view! { <option value=v selected=move || files_interval.get() == v>{v}</option> })}
                    </select>
                </label>
                <span class="hint">" or drop the files here. Nothing leaves this page."</span>
            </div>
            <p id="load-status">{move || load_status.get()}</p>
            <p id="load-error" class="error">{move || load_error.get().unwrap_or_default()}</p>
            {move || loaded.get().map(|d| summary(&d))}
        </section>
        <section id="options">
            <h2>"Grid and options"</h2>
            <div class="grid-fields">
                {text("take profit multiples", "--tp-mults", |f| f.tp_mults.clone(), |f, v| f.tp_mults = v)}
                {text("stop loss multiples", "--sl-mults", |f| f.sl_mults.clone(), |f, v| f.sl_mults = v)}
                {text("trailing stops", "--trail-pcts", |f| f.trail_pcts.clone(), |f, v| f.trail_pcts = v)}
                {text("trailing activations", "--trail-activations", |f| f.trail_activations.clone(), |f, v| f.trail_activations = v)}
                {text("break-even triggers", "--be-triggers", |f| f.be_triggers.clone(), |f, v| f.be_triggers = v)}
                {text("ladders", "--ladders", |f| f.ladders.clone(), |f, v| f.ladders = v)}
                {text("time stops (hours)", "--max-hold-hrs", |f| f.max_hold_hrs.clone(), |f, v| f.max_hold_hrs = v)}
                {text("indicator exits", "--indicators", |f| f.indicators.clone(), |f, v| f.indicators = v)}
            </div>
            <p class="hint">"Lists are JSON, as on the command line: [2,3], [null,0.9], [[[2,0.5],[3,0.5]]], [null,\"ema_cross:9:21\",\"rsi_below:14:70\",\"tk_cross:9:26\",\"vol_spike:30:4\"]. Empty means off."</p>
            <div class="fields">
                {text("initial capital", "--initial-capital", |f| f.initial_capital.clone(), |f, v| f.initial_capital = v)}
                {text("max allocation", "--max-allocation-pct", |f| f.max_allocation_pct.clone(), |f, v| f.max_allocation_pct = v)}
                {text("max risk per trade", "--max-risk-per-trade", |f| f.max_risk_per_trade.clone(), |f, v| f.max_risk_per_trade = v)}
                {text("max positions", "--max-concurrent-positions", |f| f.max_concurrent_positions.clone(), |f, v| f.max_concurrent_positions = v)}
                {text("min size", "--min-executable-size", |f| f.min_executable_size.clone(), |f, v| f.min_executable_size = v)}
                {text("taker fee (bps)", "--taker-fee-bps", |f| f.taker_fee_bps.clone(), |f, v| f.taker_fee_bps = v)}
                {text("slippage (bps)", "--slippage-bps", |f| f.slippage_bps.clone(), |f, v| f.slippage_bps = v)}
                {text("break-even offset", "--be-offset", |f| f.be_offset.clone(), |f, v| f.be_offset = v)}
                {pick("cost model", "--cost-model", &["fills", "v1"], |f| f.cost_model.clone(), |f, v| f.cost_model = v)}
                {pick("entry price", "--entry-price", &["open", "close"], |f| f.entry_price.clone(), |f, v| f.entry_price = v)}
                {pick("intrabar order", "--intrabar", &["sl-first", "tp-first"], |f| f.intrabar.clone(), |f, v| f.intrabar = v)}
                {pick("mode", "--mode", &["per-caller", "grouped", "both"], |f| f.mode.clone(), |f, v| f.mode = v)}
                {pick("objective", "--objective", &["final_capital", "mean_return", "median_return", "sharpe", "profit_factor", "win_rate", "capture"], |f| f.objective.clone(), |f, v| f.objective = v)}
                {text("max drawdown", "--max-drawdown", |f| f.max_drawdown.clone(), |f, v| f.max_drawdown = v)}
                {text("min win rate", "--min-win-rate", |f| f.min_win_rate.clone(), |f, v| f.min_win_rate = v)}
                {text("min trades", "--min-trades", |f| f.min_trades.clone(), |f, v| f.min_trades = v)}
                {text("max stop-out rate", "--max-stop-out-rate", |f| f.max_stop_out_rate.clone(), |f, v| f.max_stop_out_rate = v)}
                {text("min profit factor", "--min-profit-factor", |f| f.min_profit_factor.clone(), |f, v| f.min_profit_factor = v)}
                {text("holdout fraction", "--holdout-fraction", |f| f.holdout_fraction.clone(), |f, v| f.holdout_fraction = v)}
                {text("min calls", "--min-calls", |f| f.min_calls.clone(), |f, v| f.min_calls = v)}
                {text("callers", "--caller-groups", |f| f.caller_groups.clone(), |f, v| f.caller_groups = v)}
                {text("from", "--from", |f| f.from.clone(), |f, v| f.from = v)}
                {text("to", "--to", |f| f.to.clone(), |f, v| f.to = v)}
                {text("chain", "--chain", |f| f.chain.clone(), |f, v| f.chain = v)}
                {check_field(form, "same token twice", "--allow-same-token", |f| f.allow_same_token, |f, v| f.allow_same_token = v)}
                {check_field(form, "grouped: leave out collapsed", "--filter-collapsed", |f| f.filter_collapsed, |f, v| f.filter_collapsed = v)}
                {check_field(form, "grouped: leave out edge", "--filter-edge", |f| f.filter_edge, |f, v| f.filter_edge = v)}
            </div>
            <p id="run-size">
                {move || match run_size.get() {
                    Some(s) if too_big(s) => format!(
                        "{} grid points × {} callers = {} scores to keep: more than this page can hold; use fewer grid points or callers, or the CLI",
                        s.grid_points, s.callers, s.scores_held()
                    ),
                    Some(s) => format!("{} grid points · {} (call, policy) evaluations in sample", s.grid_points, s.evaluations),
                    None => problems.with(|p| {
                        let loose: Vec<String> = p
                            .iter()
                            .filter(|e| !e.flag().is_some_and(|f| quantbot_format::lab::FLAGS.contains(&f)))
                            .map(ToString::to_string)
                            .collect();
                        if loose.is_empty() {
                            "fix the fields marked above to run".into()
                        } else {
                            loose.join("; ")
                        }
                    }),
                }}
            </p>
            <div class="row">
                <button id="run" on:click=move |_| on_run(()) disabled=move || !can_run()>"Run"</button>
                <button id="cancel" on:click=on_cancel disabled=move || !running.get()>"Cancel"</button>
                <progress id="progress" max="1" prop:value=move || progress_pct.get()></progress>
                <span id="progress-text">{move || format!("{:.0} %", progress_pct.get() * 100.0)}</span>
            </div>
            <p id="run-stats">{move || run_stats.get()}</p>
            <p><a id="share" href=share>"Link to this run"</a>
                <span class="hint">" (the data URL, the engine version, the dataset's hash and every option; opening it runs the same grid)"</span></p>
            <p id="sha-warning" class="error">{sha_warning}</p>
            <p id="run-error" class="error">{move || run_error.get().unwrap_or_default()}</p>
        </section>
        {move || output.get().map(|o| view! { <Results out=o /> })}
        </main>
    }
}

fn text_field(
    form: RwSignal<Form>,
    problems: Memo<Vec<Error>>,
    label: &'static str,
    flag: &'static str,
    get: GetText,
    set: SetText,
) -> impl IntoView {
    let problem = move || problems.with(|p| Form::problem_for(p, flag));
    view! {
        <label class="field" class:bad=move || problem().is_some()>
            <span class="name" title=flag>{label}</span>
            <input type="text" data-flag=flag prop:value=move || form.with(get)
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    form.update(|f| set(f, v));
                } />
            <span class="problem" data-flag=flag>{move || problem().unwrap_or_default()}</span>
        </label>
    }
}

fn select_field(
    form: RwSignal<Form>,
    problems: Memo<Vec<Error>>,
    label: &'static str,
    flag: &'static str,
    choices: &'static [&'static str],
    get: GetText,
    set: SetText,
) -> impl IntoView {
    view! {
        <label class="field">
            <span class="name" title=flag>{label}</span>
            <select data-flag=flag on:change=move |ev| {
                let v = event_target_value(&ev);
                form.update(|f| set(f, v));
            }>
                {choices.iter().map(|c| {
                    let c = *c;
                    view! { <option value=c selected=move || form.with(get) == c>{c}</option> }
                }).collect_view()}
            </select>
            <span class="problem">{move || problems.with(|p| Form::problem_for(p, flag)).unwrap_or_default()}</span>
        </label>
    }
}

fn check_field(
    form: RwSignal<Form>,
    label: &'static str,
    flag: &'static str,
    get: fn(&Form) -> bool,
    set: fn(&mut Form, bool),
) -> impl IntoView {
    view! {
        <label class="field check">
            <input type="checkbox" data-flag=flag prop:checked=move || form.with(get)
                on:change=move |ev| {
                    let v = event_target_checked(&ev);
                    form.update(|f| set(f, v));
                } />
            <span class="name" title=flag>{label}</span>
        </label>
    }
}

fn summary(d: &Data) -> impl IntoView {
    let ds = &d.ds;
    let (eligible, excluded) = ds.coverage();
    let callers = ds.callers().len();
    let first = ds
        .calls
        .first()
        .map(|c| format_ts_ms(c.alert_ts_ms))
        .unwrap_or_default();
    let last = ds
        .calls
        .last()
        .map(|c| format_ts_ms(c.alert_ts_ms))
        .unwrap_or_default();
    let reasons: Vec<String> = Exclusion::ALL
        .iter()
        .map(|e| format!("{} {}", e.as_str(), excluded[*e as usize]))
        .collect();
    let held = format!("{:.0} MB", d.candle_bytes as f64 / 1e6);
    let sha = d.manifest.as_ref().map_or("no manifest".to_string(), |m| {
        format!("manifest {}", &m.sha256[..12])
    });
    view! {
        <dl id="summary">
            <dt>"source"</dt><dd>{d.label.clone()}</dd>
            <dt>"calls"</dt><dd id="summary-calls">{eligible}" eligible"</dd>
            <dt>"callers"</dt><dd id="summary-callers">{callers}</dd>
            <dt>"alerts"</dt><dd>{first}" → "{last}</dd>
            <dt>"interval"</dt><dd>{interval_name(ds.interval_s)}", horizon "{ds.horizon_hours}" h"</dd>
            <dt>"candles"</dt><dd id="summary-candles">{d.candles}" ("{held}" in memory)"</dd>
            <dt>"excluded"</dt><dd id="summary-excluded">{reasons.join(" · ")}</dd>
            <dt>"identity"</dt><dd>{sha}</dd>
        </dl>
    }
}

#[component]
fn Results(out: Arc<RunOutput>) -> impl IntoView {
    let holdout = out.result.per_caller.iter().any(|c| c.holdout.is_some());
    let columns = caller_columns(holdout);
    let rows = caller_rows(&out.grid, &out.result, out.options.objective);
    let caller_view = RwSignal::new(TableView::new(50));
    let selected = RwSignal::new(None::<usize>);
    let grid_view = RwSignal::new(TableView::new(50));
    let o2 = out.clone();
    let grid_rows_memo = Memo::new(move |_| {
        selected
            .get()
            .map(|k| grid_rows(&o2.grid, &o2.result.per_caller[k]))
            .unwrap_or_default()
    });
    let gcols = grid_columns(&out.grid);
    let grouped = out.result.grouped.as_ref().map(|g| {
        let cells = metric_cells(&g.metrics);
        view! {
            <section id="grouped">
                <h2>"Grouped wallet"</h2>
                <p>"Callers: "{g.callers.join(", ")}</p>
                <table class="data"><tbody>
                    {METRIC_COLUMNS.iter().zip(cells).map(|(n, c)| view! { <tr><th>{*n}</th><td>{c.display()}</td></tr> }).collect_view()}
                </tbody></table>
            </section>
        }
    });
    let download = {
        let parts = js_sys::Array::of1(&out.json.clone().into());
        let opts = web_sys::BlobPropertyBag::new();
        opts.set_type("application/json");
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
            .ok()
            .and_then(|b| web_sys::Url::create_object_url_with_blob(&b).ok())
            .unwrap_or_default()
    };
    let names: Vec<String> = out
        .result
        .per_caller
        .iter()
        .map(|c| c.caller.clone())
        .collect();
    let out2 = out.clone();
    view! {
        <section id="results">
            <h2>"Per caller" <a id="download" href=download download="results.json">" results.json"</a></h2>
            <p class="hint">"Click a column to sort, a row to see all its grid points."</p>
            {data_table("callers", columns, Signal::derive(move || rows.clone()), caller_view,
                Some(Arc::new(move |k| { selected.set(Some(k)); grid_view.set(TableView::new(50)); })),
                |r| matches!(&r[9], Cell::Text(t) if t.contains("infeasible")))}
        </section>
        {grouped}
        <section id="caller-grid">
            {move || selected.get().map(|k| {
                let initial = out2.options.initial_capital;
                let curve = &out2.equity[k];
                let points = equity_points(curve, initial, 600.0, 140.0);
                let last = curve.last().map_or(initial, |p| p.1);
                view! {
                    <h2>"Best policy of "{names[k].clone()}": equity after each close (in sample)"</h2>
                    <svg id="equity" viewBox="-2 -2 604 144" width="604" height="144" data-final=last.to_string()>
                        <rect x="0" y="0" width="600" height="140" fill="#fbfcfe" stroke="#dde1e8" />
                        <polyline points=points fill="none" stroke="#2f6fde" stroke-width="1.5" />
                    </svg>
                    <p class="hint">{format!("{} closes · start {} · end {}", curve.len(), Cell::Num(Some(initial)).display(), Cell::Num(Some(last)).display())}</p>
                    <h2>"Grid of "{names[k].clone()}" (in-sample under holdout)"</h2>
                }
            })}
            {move || selected.get().map(|_| data_table("grid-table", gcols.clone(), grid_rows_memo.into(), grid_view, None,
                |r| matches!(&r[1], Cell::Text(t) if t == "no")))}
        </section>
    }
}

type RowClick = Option<Arc<dyn Fn(usize) + Send + Sync>>;

fn data_table(
    id: &'static str,
    columns: Vec<String>,
    rows: Signal<Vec<Vec<Cell>>>,
    view_state: RwSignal<TableView>,
    on_row: RowClick,
    bad: fn(&[Cell]) -> bool,
) -> impl IntoView {
    let order = Memo::new(move |_| {
        let v = view_state.get();
        rows.with(|r| v.order(r))
    });
    let total = move || rows.with(Vec::len);
    let head = columns
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let arrow = move || match view_state.get().sort {
                Some((k, d)) if k == i => {
                    if d {
                        " ▼"
                    } else {
                        " ▲"
                    }
                }
                _ => "",
            };
            view! { <th on:click=move |_| view_state.update(|v| v.click(i))>{c}{arrow}</th> }
        })
        .collect_view();
    let body = move || {
        let v = view_state.get();
        order.with(|o| {
            rows.with(|r| {
                v.page_of(o)
                    .iter()
                    .map(|&k| {
                        let row = &r[k];
                        let cb = on_row.clone();
                        let cells = row.iter().map(|c| view! { <td>{c.display()}</td> }).collect_view();
                        view! {
                            <tr class:infeasible=bad(row) on:click=move |_| if let Some(f) = &cb { f(k) }>{cells}</tr>
                        }
                    })
                    .collect_view()
            })
        })
    };
    view! {
        <div class="table-wrap">
            <table id=id class="data">
                <thead><tr>{head}</tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
        <div class="pager">
            <button on:click=move |_| view_state.update(|v| { let p = v.page.saturating_sub(1); v.go(p, total()) })>"‹ prev"</button>
            <span class="page">{move || format!("page {} of {} · {} rows", view_state.get().page + 1, view_state.get().pages(total()), total())}</span>
            <button class="next" on:click=move |_| view_state.update(|v| { let p = v.page + 1; v.go(p, total()) })>"next ›"</button>
        </div>
    }
}
