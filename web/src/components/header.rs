//! The page's header: which backend runs the work and whether its workers are ready.

use leptos::prelude::*;
use quantbot_lab_model::run::Backend;

use crate::lab::Lab;

#[component]
pub fn Header(lab: Lab) -> impl IntoView {
    let class = if lab.backend == Backend::Solo {
        "warn"
    } else {
        "ok"
    };
    view! {
        <header>
            <h1>"Quantbot Lab"</h1>
            <span id="isolation" class=class>{lab.backend.describe()}</span>
            <span id="pool">
                {move || match (lab.workers.get(), lab.workers_error.get()) {
                    (Some(n), _) => format!("{n} worker threads ready"),
                    (None, Some(e)) => e,
                    (None, None) => "starting workers…".into(),
                }}
            </span>
        </header>
    }
}
