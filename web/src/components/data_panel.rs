//! The data panel: a dataset folder by URL, or the user's own files (picker or drop), the
//! question before a link's folder on another origin is opened, the load's status, and the
//! summary of what is loaded.

use leptos::prelude::*;
use quantbot_core::select::format_ts_ms;
use quantbot_core::window::Exclusion;
use quantbot_format::options::interval_name;
use quantbot_lab_model::origin::Opening;

use crate::job::Loaded;
use crate::lab::Lab;
use crate::load;

#[component]
pub fn DataPanel(lab: Lab) -> impl IntoView {
    let busy = move || lab.loading.get() || lab.running.get();
    view! {
        <section id="data">
            <h2>"Data"</h2>
            <div class="row">
                <label>"Dataset folder URL "
                    <input id="data-url" type="text" size="40" prop:value=move || lab.data_url.get()
                        on:input=move |ev| {
                            // The question was about the link's folder, not this text.
                            lab.data_ask.set(None);
                            lab.data_url.set(event_target_value(&ev));
                        } />
                </label>
                <button id="load-url" on:click=move |_| load::open_confirmed(lab) disabled=busy>"Open"</button>
            </div>
            {move || {
                let runs = lab.link.with_value(|l| l.run);
                lab.data_ask.get().and_then(|ask| {
                    let question = ask.question(runs)?;
                    let Opening::Ask { origin, .. } = ask else { return None };
                    Some(view! {
                        <div id="data-confirm" class="confirm">
                            <p>{question}</p>
                            <button id="data-confirm-open" on:click=move |_| load::open_confirmed(lab)>
                                "Open the dataset from "{origin}
                            </button>
                        </div>
                    })
                })
            }}
            <div class="row drop"
                on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
                        load::load_files(lab, list);
                    }
                }>
                <label>"Your files (an exported folder's files, or calls.parquet + candles.parquet) "
                    <input id="files" type="file" multiple=true accept=".parquet,.json" disabled=busy
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(list) = input.files() {
                                load::load_files(lab, list);
                            }
                        } />
                </label>
                <label>" interval without a manifest "
                    <select id="files-interval" on:change=move |ev| lab.files_interval.set(event_target_value(&ev))>
                        {["1m", "5m", "15m", "1h"].map(|v| view! { <option value=v selected=move || lab.files_interval.get() == v>{v}</option> })}
                    </select>
                </label>
                <span class="hint">" or drop the files here. Nothing leaves this page."</span>
            </div>
            <p id="load-status">{move || lab.load_status.get()}</p>
            <p id="load-error" class="error">{move || lab.load_error.get().unwrap_or_default()}</p>
            {move || lab.loaded.get().map(|d| summary(&d))}
        </section>
    }
}

/// What is loaded: calls, callers, dates, interval, candles, exclusions and identity.
fn summary(d: &Loaded) -> impl IntoView {
    let ds = &d.ds;
    let (eligible, excluded) = ds.coverage();
    let callers = ds.callers().len();
    let when = |c: Option<&quantbot_core::data::Call>| {
        c.map(|c| format_ts_ms(c.alert_ts_ms)).unwrap_or_default()
    };
    let (first, last) = (when(ds.calls.first()), when(ds.calls.last()));
    let reasons: Vec<String> = Exclusion::ALL
        .iter()
        .map(|e| format!("{} {}", e.as_str(), excluded[*e as usize]))
        .collect();
    let held = format!("{:.0} MB", d.candle_bytes as f64 / 1e6);
    let sha = d.manifest.as_ref().map_or("no manifest".to_string(), |m| {
        format!("manifest {}", m.sha256.chars().take(12).collect::<String>())
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
