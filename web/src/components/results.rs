//! The results of a run: the caller leaderboard, the per-caller table (a click opens the
//! caller), the grouped wallet,
//! the download of `results.json`, and the selected caller's details.

use std::sync::Arc;

use leptos::prelude::*;
use quantbot_lab_model::rows::{caller_table, metric_cells, METRIC_COLUMNS};
use quantbot_lab_model::table::TableView;

use crate::components::caller_detail::CallerDetail;
use crate::components::data_table::data_table;
use crate::components::leaderboard::Leaderboard;
use crate::job::RunOutput;
use crate::lab::Lab;

/// An object URL of the run's §10.1 JSON, for the download link.
fn json_url(json: &str) -> String {
    let parts = js_sys::Array::of1(&json.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/json");
    web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
        .ok()
        .and_then(|b| web_sys::Url::create_object_url_with_blob(&b).ok())
        .unwrap_or_default()
}

/// Saves the run as the CLI's `--out-dir` bundle would hold it (`results.json`, `grid.parquet`,
/// `trades.parquet`, `lab.json`, `index.html`, the same bytes), one download per file;
/// `publish` takes the folder they land in, named `name` (the page's link into the lab names
/// it), as a bundle. Only a run computed on this page's pool has its best policies' trades.
fn save_bundle(lab: Lab, out: &RunOutput, name: &str) -> Result<(), String> {
    use quantbot_format::run_files::{grid_parquet, trades_parquet};
    let data = lab
        .loaded
        .get_untracked()
        .ok_or("the run's dataset is no longer loaded")?;
    let (grid_, opts, sel, _) = crate::job::inputs(&data.ds, &out.options)?;
    let report =
        quantbot_format::results::RunReport::new(&data.ds, &sel, &grid_, &opts, &out.result);
    let doc: serde_json::Value = serde_json::from_str(&out.json).map_err(|e| e.to_string())?;
    let page = quantbot_format::html::v1_page(&report, &doc, &out.equity, name);
    let best = out
        .best
        .as_ref()
        .ok_or("this run's trades were not computed on this page's worker pool")?;
    let grid = grid_parquet(&out.grid, &out.result).map_err(|e| e.to_string())?;
    let trades = trades_parquet(best).map_err(|e| e.to_string())?;
    let lab = quantbot_lab_model::bundle::lab_json(&out.options, &out.result, &out.equity);
    let lab = serde_json::to_string(&lab).map_err(|e| e.to_string())?;
    crate::io::download(
        "results.json",
        "application/json",
        &format!("{}\n", out.json),
    );
    crate::io::download_bytes("grid.parquet", &grid);
    crate::io::download_bytes("trades.parquet", &trades);
    crate::io::download(
        quantbot_lab_model::bundle::LAB_FILE,
        "application/json",
        &lab,
    );
    crate::io::download("index.html", "text/html", &page);
    Ok(())
}

#[component]
pub fn Results(lab: Lab, out: Arc<RunOutput>) -> impl IntoView {
    let table = caller_table(&out.grid, &out.result, out.options.objective);
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
    let open = lab.open_caller(&out);
    let save_error = RwSignal::new(None::<String>);
    let o2 = out.clone();
    // Only a change of caller re-renders the details (a policy click keeps the table's page).
    let caller = Memo::new(move |_| lab.selected.with(|s| s.caller.clone()));
    view! {
        <Leaderboard lab out=out.clone() />
        <section id="results">
            <h2>"Per caller" <a id="download" href=json_url(&out.json) download="results.json">" results.json"</a>
                {out.best.is_some().then(|| {
                    let o = out.clone();
                    let name = RwSignal::new("lab-run".to_string());
                    view! { <button id="save-bundle" title="results.json, grid.parquet, trades.parquet, lab.json and index.html, as quantbot backtest v1-baseline --out-dir writes them: put them in one folder of the name given and publish it with cargo xtask publish --bundles"
                        on:click=move |_| if let Err(e) = save_bundle(lab, &o, &name.get_untracked()) { save_error.set(Some(e)) }>"Save as a bundle"</button>
                        <label class="hint">" folder name "<input id="bundle-name" type="text" size="12" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) /></label> }
                })}
                <span class="error" id="save-error">{move || save_error.get()}</span></h2>
            <p class="hint">"Click a column to sort, a row to see all its grid points."</p>
            {data_table("callers", Memo::new(move |_| table.clone()).into(), RwSignal::new(TableView::new(50)), open)}
        </section>
        {grouped}
        <section id="caller-grid">
            {move || {
                let name = caller.get()?;
                let k = o2.result.per_caller.iter().position(|c| c.caller == name)?;
                Some(view! { <CallerDetail lab out=o2.clone() k /> })
            }}
        </section>
    }
}
