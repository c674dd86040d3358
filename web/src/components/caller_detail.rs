//! One caller's details: its best policy's equity curve (in sample, after each close) and every
//! grid point with every metric; a click on a grid point selects that policy (kept in the
//! share link).

use std::sync::Arc;

use leptos::prelude::*;
use quantbot_lab_model::rows::{equity_points, grid_table};
use quantbot_lab_model::table::{Cell, TableView};

use crate::components::data_table::data_table;
use crate::job::RunOutput;
use crate::lab::Lab;

#[component]
pub fn CallerDetail(lab: Lab, out: Arc<RunOutput>, k: usize) -> impl IntoView {
    let caller = &out.result.per_caller[k];
    let name = caller.caller.clone();
    let initial = out.options.initial_capital;
    let curve = &out.equity[k];
    let points = equity_points(curve, initial, 600.0, 140.0);
    let last = curve.last().map_or(initial, |p| p.1);
    let table = grid_table(&out.grid, caller);
    let indices: Vec<usize> = caller.scored.iter().map(|s| s.index).collect();
    let pick = Arc::new(move |row: usize| {
        lab.selected
            .update(|s| s.policy = indices.get(row).copied())
    });
    let policy = move || {
        lab.selected
            .with(|s| s.policy)
            .map(|p| format!("selected grid point {p}"))
    };
    view! {
        <h2>"Best policy of "{name.clone()}": equity after each close (in sample)"</h2>
        <svg id="equity" viewBox="-2 -2 604 144" width="604" height="144" data-final=last.to_string()>
            <rect x="0" y="0" width="600" height="140" fill="#fbfcfe" stroke="#dde1e8" />
            <polyline points=points fill="none" stroke="#2f6fde" stroke-width="1.5" />
        </svg>
        <p class="hint">{format!("{} closes · start {} · end {}", curve.len(), Cell::Num(Some(initial)).display(), Cell::Num(Some(last)).display())}</p>
        <h2>"Grid of "{name}" (in-sample under holdout)"</h2>
        <p id="selected-policy" class="hint">{policy}</p>
        {data_table("grid-table", Memo::new(move |_| table.clone()).into(), RwSignal::new(TableView::new(50)), Some(pick))}
    }
}
