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
    let share = move || lab.share_link().to_query();
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
        <p><a id="share" href=share>"Link to this run"</a>
            <span class="hint">" (the data URL, the engine version, the dataset's hash, every option and the selected caller; opening it runs the same grid)"</span></p>
        <p id="sha-warning" class="error">{warning}</p>
        <p id="run-error" class="error">{move || lab.run_error.get().unwrap_or_default()}</p>
    }
}
