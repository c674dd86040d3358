//! The run bar: what the run will cost (or why it cannot start), Run and Cancel, progress,
//! the finished run's figures, the share link and its warnings.

use leptos::prelude::*;
use quantbot_lab_model::form::Form;

use crate::backend;
use crate::lab::{Lab, BYTES_PER_SCORE};

#[component]
pub fn RunBar(lab: Lab) -> impl IntoView {
    let size_line = move || match lab.run_size.get() {
        Some(s) => s.describe(lab.backend, BYTES_PER_SCORE),
        None => {
            let loose = lab.problems.with(|p| Form::loose_problems(p));
            if loose.is_empty() {
                "fix the fields marked above to run".into()
            } else {
                loose.join("; ")
            }
        }
    };
    // The whole link (this page's address with the run's query), shown as text and copied by
    // the button; opening it reruns, so it is not a link on this page.
    let share = move || {
        let here = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default();
        let base = here.split(['?', '#']).next().unwrap_or("").to_string();
        format!("{base}{}", lab.share_link().to_query())
    };
    let copied = RwSignal::new(String::new());
    let copy = move |_| {
        let text = share();
        let Some(clip) = web_sys::window().map(|w| w.navigator().clipboard()) else {
            return;
        };
        copied.set(String::new());
        leptos::task::spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(clip.write_text(&text)).await;
            copied.set(match done {
                Ok(_) => "copied".into(),
                Err(_) => {
                    "the clipboard is not available here: select the link above and copy it".into()
                }
            });
        });
    };
    let warning = move || {
        let have = lab.loaded.with(|l| {
            l.as_ref()
                .and_then(|l| l.manifest.as_ref().map(|m| m.sha256.clone()))
        });
        lab.link
            .with_value(|l| l.warning(quantbot_core::VERSION, have.as_deref()))
    };
    view! {
        <p id="run-size">{size_line}</p>
        <div class="row">
            <button id="run" on:click=move |_| backend::run_or_say(lab) disabled=move || lab.run_blocker().is_some()>"Run"</button>
            <button id="cancel" on:click=move |_| backend::cancel(lab) disabled=move || !lab.running.get()>"Cancel"</button>
            <progress id="progress" max="1" prop:value=move || lab.progress_pct.get()></progress>
            <span id="progress-text">{move || format!("{:.0} %", lab.progress_pct.get() * 100.0)}</span>
        </div>
        <p id="run-stats">{move || lab.run_stats.get()}</p>
        {move || if lab.data_is_local() {
            view! {
                <p id="share-local" class="hint">"The data comes from files on this machine: a link cannot carry it. To share this run, publish the dataset ("
                    <code>"cargo xtask publish --out site --data DIR"</code>") and open it from the site, then copy the link."</p>
            }.into_any()
        } else {
            view! {
                <div class="row share">
                    <input id="share-text" type="text" readonly prop:value=share />
                    <button id="copy-link" on:click=copy>"Copy link"</button>
                    <span id="copy-status" class="hint">{move || copied.get()}</span>
                </div>
                <p class="hint">"The link carries the data URL, the engine version, the dataset's hash, every option, and the selected caller, policy, trade and tab; opening it runs the same grid."</p>
            }.into_any()
        }}
        <p id="sha-warning" class="error">{warning}</p>
        <p id="run-error" class="error">{move || lab.run_error.get().unwrap_or_default()}</p>
    }
}
