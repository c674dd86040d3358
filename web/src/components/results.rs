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
    let o2 = out.clone();
    // Only a change of caller re-renders the details (a policy click keeps the table's page).
    let caller = Memo::new(move |_| lab.selected.with(|s| s.caller.clone()));
    view! {
        <Leaderboard lab out=out.clone() />
        <section id="results">
            <h2>"Per caller" <a id="download" href=json_url(&out.json) download="results.json">" results.json"</a></h2>
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
