//! A published result bundle (issue 19), opened by `?bundle=FOLDER/`: its `results.json` read
//! from the page's own origin and shown as it was computed (the per-caller table, the options in
//! effect, the engine and dataset it was run on), without the dataset and without a rerun. The
//! dataset named by the link stays unloaded until the user opens it above.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_core::data::{Call, Candle};
use quantbot_format::dataset::parse_manifest;
use quantbot_format::options::parse_interval;
use quantbot_format::parquet_read::read_calls;
use quantbot_format::parts::candle_files;
use quantbot_format::ranged::{metadata, page_ranges, read_token, tail_needed, token_rows, Sparse};
use quantbot_lab_model::bundle::{
    bundle_trade_chart, bundle_trades_table, bundle_view, lab_run, read_trades, BundleTrade,
    BundleView, LAB_FILE,
};
use quantbot_lab_model::run::DataBudget;
use quantbot_lab_model::table::TableView;
use wasm_bindgen::JsCast;

use crate::components::data_table::data_table;
use crate::components::policy_view::draw_trade_chart;
use crate::io::{fetch_bytes, fetch_range, own_origin, resolve};
use crate::job::RunOutput;
use crate::lab::Lab;

fn page_href() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// `{folder}{file}` on this page's origin, or why not.
fn same_origin_url(folder: &str, file: &str) -> Result<String, String> {
    let r = resolve(&format!("{}{file}", folder.trim()), &page_href())
        .ok_or_else(|| format!("{folder}{file}: not a URL"))?;
    if r.origin != own_origin() {
        return Err(format!(
            "{folder}: on another origin ({}); a link opens files of this site only",
            r.origin
        ));
    }
    Ok(r.href)
}

/// Where a bundle comes from: a folder of this site (a link's `bundle=`), or the files the user
/// picked or dropped.
#[derive(Clone)]
pub enum BundleSource {
    Folder(String),
    Files(crate::lab::BundleFiles),
}

impl BundleSource {
    /// A file of the bundle; `None` when it has none by that name.
    async fn file(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            BundleSource::Folder(folder) => {
                let url = same_origin_url(folder, name)?;
                fetch_bytes(&url, &mut DataBudget::default()).await
            }
            BundleSource::Files(files) => Ok(files.get(name).cloned()),
        }
    }

    fn label(&self) -> String {
        match self {
            BundleSource::Folder(folder) => folder.clone(),
            BundleSource::Files(files) => format!(
                "your files ({})",
                files.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

async fn whole(folder: &str, file: &str) -> Result<Vec<u8>, String> {
    let url = same_origin_url(folder, file)?;
    fetch_bytes(&url, &mut DataBudget::default())
        .await?
        .ok_or_else(|| format!("{folder}{file}: not found"))
}

/// The bundle's trades (its `trades.parquet`).
async fn read_bundle_trades(source: BundleSource) -> Result<Vec<BundleTrade>, String> {
    match source.file("trades.parquet").await? {
        Some(bytes) => read_trades("trades.parquet", bytes.into()),
        None => Ok(Vec::new()),
    }
}

/// The run of the bundle's `lab.json` (`None` for a bundle written before it existed), as the
/// page's results: every view of the run as computed, nothing rerun.
async fn read_lab_run(
    source: BundleSource,
    results_text: String,
) -> Result<Option<RunOutput>, String> {
    let folder = source.label();
    let Some(bytes) = source.file(LAB_FILE).await? else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{folder}{LAB_FILE}: not JSON ({e})"))?;
    let run = lab_run(&v)?;
    let doc: serde_json::Value =
        serde_json::from_str(&results_text).map_err(|e| format!("{folder}results.json: {e}"))?;
    let horizon = doc["options"]["horizon_hours"].as_f64().unwrap_or(48.0);
    let interval = doc["options"]["interval"]
        .as_str()
        .and_then(|t| parse_interval(t).ok())
        .unwrap_or(60);
    let options = run
        .form
        .options(horizon, interval)
        .map_err(|e| format!("{folder}{LAB_FILE}: its options do not read: {e:?}"))?;
    let grid = options.grid(horizon).map_err(|e| e.to_string())?;
    Ok(Some(RunOutput {
        grid,
        options,
        result: run.result,
        json: results_text,
        equity: run.equity,
        best: None,
    }))
}

/// The candles of a trade's call, read from the published dataset by byte ranges: its
/// manifest and calls (small), then in each candle file the footer and page index, then the
/// pages of the call's token only. Returns the call, its window and the interval.
async fn trade_candles(data: String, call_id: String) -> Result<(Call, Vec<Candle>, i64), String> {
    let manifest_bytes = whole(&data, "manifest.json").await?;
    let manifest = parse_manifest("manifest.json", &manifest_bytes).map_err(|e| e.to_string())?;
    let calls = read_calls(
        "calls.parquet",
        bytes::Bytes::from(whole(&data, "calls.parquet").await?),
        false,
    )
    .map_err(|e| e.to_string())?;
    let call = calls
        .into_iter()
        .map(|(c, _)| c)
        .find(|c| c.call_id == call_id)
        .ok_or_else(|| format!("call {call_id} is not in {data}calls.parquet"))?;
    let files = candle_files("manifest.json", &manifest.json).map_err(|e| e.to_string())?;
    let mut candles = Vec::new();
    for name in files.names() {
        let len = manifest.json["files"][name.as_str()]["bytes"]
            .as_u64()
            .ok_or_else(|| format!("manifest.json: no size for {name}"))?;
        let url = same_origin_url(&data, &name)?;
        let mut file = Sparse::new(len);
        while let Some(r) = tail_needed(&name, &file).map_err(|e| e.to_string())? {
            let b = fetch_range(&url, r.clone()).await?;
            file.add(r.start, b.into());
        }
        let meta = metadata(&name, &file).map_err(|e| e.to_string())?;
        let rows = token_rows(&meta, &call.chain, &call.mint);
        if rows.is_empty() {
            continue;
        }
        for r in page_ranges(&meta, &rows) {
            let b = fetch_range(&url, r.clone()).await?;
            file.add(r.start, b.into());
        }
        candles.extend(
            read_token(&name, file, meta, &call.chain, &call.mint, &rows)
                .map_err(|e| e.to_string())?,
        );
    }
    quantbot_format::dataset::sort_by_time(&mut candles);
    let spec = manifest.load_options().window_spec();
    let window = quantbot_core::window::call_window(&candles, call.alert_ts_ms, &spec)
        .map(|r| candles[r].to_vec())
        .ok_or_else(|| format!("call {call_id}: no candles at or after its alert"))?;
    Ok((call, window, manifest.interval_s))
}

/// Reads the bundle's `results.json` (a folder of this page's origin only: a link must not
/// make the page contact another site by itself).
async fn read(source: BundleSource) -> Result<(BundleView, String), String> {
    let folder = source.label();
    let bytes = source
        .file("results.json")
        .await
        .map_err(|e| format!("bundle {e}"))?
        .ok_or_else(|| format!("bundle {folder}: results.json not found"))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("bundle {folder}: results.json is not JSON ({e})"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok((bundle_view(&doc)?, text))
}

#[component]
pub fn Bundle(lab: Lab, source: BundleSource) -> impl IntoView {
    let folder = source.label();
    let view_state: RwSignal<Option<Result<BundleView, String>>> = RwSignal::new(None);
    let f = source.clone();
    let lab_error = RwSignal::new(None::<String>);
    spawn_local(async move {
        let r = read(f.clone()).await;
        let text = r.as_ref().ok().map(|(_, t)| t.clone());
        view_state.set(Some(r.map(|(v, _)| v)));
        // Every view of the run, from its lab.json: the page's results, as if it had run here
        // (its options fill the form, so opening the dataset and running reproduces it).
        if let Some(text) = text {
            match read_lab_run(f, text).await {
                Ok(Some(out)) => {
                    lab.form
                        .set(quantbot_lab_model::form::Form::from_options(&out.options));
                    lab.output.set(Some(Arc::new(out)));
                }
                Ok(None) => {}
                Err(e) => lab_error.set(Some(e)),
            }
        }
        crate::io::publish("quantbotBundle", "1");
    });
    let sha = lab.link.with_value(|l| l.sha.clone());
    let data = lab.link.with_value(|l| l.data.clone());
    // The bundle's trades, and the candles of the one clicked.
    let trades: RwSignal<Option<Result<Arc<Vec<BundleTrade>>, String>>> = RwSignal::new(None);
    let f2 = source.clone();
    spawn_local(async move {
        trades.set(Some(read_bundle_trades(f2).await.map(Arc::new)));
    });
    let chart_error = RwSignal::new(None::<String>);
    let chart_title = RwSignal::new(String::new());
    let trades_view = move || {
        let list = match trades.get()? {
            Ok(t) => t,
            Err(e) => {
                return Some(view! { <p class="error" id="bundle-trades-error">{e}</p> }.into_any())
            }
        };
        let table = bundle_trades_table(&list);
        let count = list.len();
        let data = data.clone();
        let open = Arc::new(move |row: usize| {
            let Some(t) = list.get(row).cloned() else {
                return;
            };
            let Some(d) = data.clone() else {
                chart_error.set(Some(
                    "the link names no dataset, so the trade's candles cannot be read".into(),
                ));
                return;
            };
            chart_error.set(None);
            chart_title.set(format!(
                "Candles of call {} (read by byte ranges from the published dataset)…",
                t.call_id
            ));
            spawn_local(async move {
                match trade_candles(d, t.call_id.clone()).await {
                    Ok((call, window, interval)) => {
                        let chart = bundle_trade_chart(&t, &call, &window, interval);
                        let json = serde_json::to_string(&chart).unwrap_or_default();
                        let el = web_sys::window()
                            .and_then(|w| w.document())
                            .and_then(|d| d.get_element_by_id("trade-chart"))
                            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                        if let Some(el) = el {
                            if let Err(e) =
                                wasm_bindgen_futures::JsFuture::from(draw_trade_chart(&el, &json))
                                    .await
                            {
                                chart_error.set(Some(format!("the chart did not draw: {e:?}")));
                            }
                        }
                        chart_title.set(format!(
                            "Candles of call {} ({} candles; entry and exit from trades.parquet).",
                            t.call_id,
                            window.len()
                        ));
                    }
                    Err(e) => chart_error.set(Some(e)),
                }
            });
        });
        Some(view! {
            <h3>"Trades of each caller's best policy ("{count}")"</h3>
            <p class="hint">"Click a trade for its candles: only that token's pages of the dataset are fetched."</p>
            {data_table("bundle-trades", Memo::new(move |_| table.clone()).into(), RwSignal::new(TableView::new(25)), Some(open))}
        }.into_any())
    };
    let body = move || match view_state.get() {
        None => view! { <p class="hint">"reading the bundle…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" id="bundle-error">{e}</p> }.into_any(),
        Some(Ok(v)) => {
            let mut warnings = Vec::new();
            if let Some(ver) = v
                .engine_version
                .as_deref()
                .filter(|x| *x != quantbot_core::VERSION)
            {
                warnings.push(format!(
                    "computed by engine {ver}; this lab runs engine {}: a rerun may differ",
                    quantbot_core::VERSION
                ));
            }
            if let (Some(a), Some(b)) = (v.manifest_sha256.as_deref(), sha.as_deref()) {
                if a != b {
                    warnings.push(format!(
                        "computed on dataset {}, but the link names dataset {}",
                        &a[..a.len().min(12)],
                        &b[..b.len().min(12)]
                    ));
                }
            }
            let options = v
                .options
                .iter()
                .map(|(k, x)| view! { <dt>{k.clone()}</dt><dd>{x.clone()}</dd> })
                .collect_view();
            let table = v.table.clone();
            view! {
                <p id="bundle-warning" class="error">{warnings.join("; ")}</p>
                <p class="hint">{format!("{} callers, objective {}; dataset {}. Shown as computed: nothing was rerun, and the dataset is not loaded (Open it above to explore it with the lab).",
                    v.callers, v.objective, v.manifest_sha256.as_deref().map_or("–", |s| &s[..s.len().min(12)]))}</p>
                {data_table("bundle-table", Memo::new(move |_| table.clone()).into(), RwSignal::new(TableView::new(50)), None)}
                <details><summary>"Options in effect"</summary><dl class="options">{options}</dl></details>
            }
            .into_any()
        }
    };
    view! {
        <section id="bundle">
            <h2>"Published result: "{folder}</h2>
            {body}
            <p class="error" id="bundle-lab-error">{move || lab_error.get()}</p>
            {trades_view}
            <div id="trade-chart-box">
                <p id="trade-chart-title" class="hint">{move || chart_title.get()}</p>
                <div id="trade-chart" class="trade-chart"></div>
                <p class="error" id="trade-chart-error">{move || chart_error.get()}</p>
            </div>
        </section>
    }
}
