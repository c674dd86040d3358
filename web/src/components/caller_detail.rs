//! One caller's details: the heatmap of its grid, the selected policy (the best by default)
//! with its equity, trades, candle charts and decision log, the walk-forward, and every grid
//! point with every metric; a click on a grid point or a heatmap cell selects that policy
//! (kept in the share link).

use std::sync::Arc;

use leptos::prelude::*;
use quantbot_lab_model::leaderboard::{chained_equity, folds_table};
use quantbot_lab_model::rows::{equity_points, grid_file_table, grid_table};
use quantbot_lab_model::table::{Cell, TableView};

use crate::components::data_table::data_table;
use crate::components::heatmap::Heatmap;
use crate::components::policy_view::PolicyView;
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
    let curve_len = curve.len();
    // Built once, inside the memo (not cloned into it): 10,000 rows are worth building once.
    let o = out.clone();
    let table = Memo::new(move |_| grid_table(&o.grid, &o.result.per_caller[k]));
    let file_name = format!(
        "grid-{}.csv",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    // Built on the click: 10,000 points × 30 columns are not worth holding for a rare export.
    let o = out.clone();
    let save_grid = move |_| {
        let t = grid_file_table(&o.grid, &o.result.per_caller[k]);
        crate::io::download(&file_name, "text/csv", &t.to_csv());
    };
    // The grid table renders a frame after the heatmap, so neither holds the page for long.
    let grid_ready = RwSignal::new(false);
    leptos::task::spawn_local(async move {
        crate::io::sleep_ms(16).await;
        grid_ready.set(true);
    });
    // Without the worker pool the selected policy's view cannot compute; the best policy's
    // equity (from the run) shows instead.
    let solo = !matches!(lab.backend, quantbot_lab_model::run::Backend::Pool { .. });
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
    // The walk-forward (SPEC §13.3): its folds, and their out-of-sample equity chained.
    let walk_forward = caller
        .robustness
        .as_ref()
        .and_then(|r| r.walk_forward.as_ref())
        .map(|wf| {
            let chained = chained_equity(wf);
            let points = equity_points(&chained, initial, 600.0, 100.0);
            let folds = folds_table(&out.grid, wf);
            view! {
                <h2>"Walk-forward of "{name.clone()}</h2>
                {data_table("folds-table", Memo::new(move |_| folds.clone()).into(), RwSignal::new(TableView::new(20)), None)}
                <svg id="wf-equity" viewBox="-2 -2 604 104" width="604" height="104">
                    <rect x="0" y="0" width="600" height="100" fill="#fbfcfe" stroke="#dde1e8" />
                    <polyline points=points fill="none" stroke="#1d8a4e" stroke-width="1.5" />
                </svg>
                <p class="hint">"Out of sample, the folds chained: each fold's choice trades only the block after its training calls."</p>
            }
        });
    view! {
        <Heatmap lab out=out.clone() k />
        <PolicyView lab out=out.clone() k />
        {walk_forward}
        {solo.then(|| view! {
            <h2>"Best policy of "{name.clone()}": equity after each close (in sample)"</h2>
            <svg id="equity" viewBox="-2 -2 604 144" width="604" height="144" data-final=last.to_string()>
                <rect x="0" y="0" width="600" height="140" fill="#fbfcfe" stroke="#dde1e8" />
                <polyline points=points.clone() fill="none" stroke="#2f6fde" stroke-width="1.5" />
            </svg>
            <p class="hint">{format!("{} closes · start {} · end {}", curve_len, Cell::Num(Some(initial)).display(), Cell::Num(Some(last)).display())}</p>
        })}
        <h2>"Grid of "{name.clone()}" (in-sample under holdout) "
            <button id="grid-file-csv" title="Every grid point with the columns of the CLI's grid.parquet" on:click=save_grid>"grid.csv"</button></h2>
        <p id="selected-policy" class="hint">{policy}</p>
        {move || grid_ready.get().then(|| data_table("grid-table", table.into(), RwSignal::new(TableView::new(50)), Some(pick.clone())))}
    }
}
