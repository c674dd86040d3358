//! The caller leaderboard (SPEC §13): is each caller worth following? The verdict as a coloured
//! word, DSR, PBO, the walk-forward, and the selected caller's verdict in one sentence. A
//! click on a row opens the caller below.

use std::sync::Arc;

use leptos::prelude::*;
use quantbot_lab_model::leaderboard::{explain, leaderboard, verdict_rule};
use quantbot_lab_model::table::TableView;

use crate::components::data_table::data_table;
use crate::job::RunOutput;
use crate::lab::Lab;

#[component]
pub fn Leaderboard(lab: Lab, out: Arc<RunOutput>) -> impl IntoView {
    let table = leaderboard(&out.grid, &out.result);
    let open = lab.open_caller(&out);
    let folds = out.options.folds;
    let o2 = out.clone();
    let sentence = move || {
        let name = lab.selected.with(|s| s.caller.clone())?;
        let r = o2.result.per_caller.iter().find(|c| c.caller == name)?;
        Some(explain(r, folds))
    };
    view! {
        <section id="leaderboard">
            <h2>"Is this caller worth following?"</h2>
            <p class="hint">{verdict_rule(folds)}" Click a row for the caller's details."</p>
            {data_table("leaderboard-table", Memo::new(move |_| table.clone()).into(), RwSignal::new(TableView::new(50)), open)}
            <p id="verdict-sentence">{sentence}</p>
        </section>
    }
}
