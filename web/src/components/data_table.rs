//! A sortable, paged table of a `quantbot_lab_model::table::Table`: a click on a header sorts,
//! a click on a row calls back with its index; muted rows are shown in grey italics; a CSV
//! button saves the whole table (every row, exact values). Each cell carries its exact value
//! in `data-v` (what the end-to-end tests read).

use std::sync::Arc;

use leptos::prelude::*;
use quantbot_lab_model::table::{Cell, Table, TableView};

/// What a click on a row does, with the row's index in the table.
pub type RowClick = Option<Arc<dyn Fn(usize) + Send + Sync>>;

pub fn data_table(
    id: &'static str,
    table: Signal<Table>,
    view_state: RwSignal<TableView>,
    on_row: RowClick,
) -> impl IntoView {
    let order = Memo::new(move |_| {
        let v = view_state.get();
        table.with(|t| v.order(&t.rows))
    });
    let total = move || table.with(|t| t.rows.len());
    let head = move || {
        table.with(|t| {
            t.columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let arrow = move || match view_state.get().sort {
                        Some((k, true)) if k == i => " ▼",
                        Some((k, false)) if k == i => " ▲",
                        _ => "",
                    };
                    let c = c.clone();
                    view! { <th on:click=move |_| view_state.update(|v| v.click(i))>{c}{arrow}</th> }
                })
                .collect_view()
        })
    };
    let body = move || {
        let v = view_state.get();
        order.with(|o| {
            table.with(|t| {
                v.page_of(o)
                    .iter()
                    .map(|&k| {
                        let cb = on_row.clone();
                        let cells = t.rows[k]
                            .iter()
                            .map(|c| match c {
                                // A badge's word is one of a few known values; as a class it
                                // only selects a colour, and the text is shown as text.
                                Cell::Badge(word) => view! { <td><span class=format!("badge {word}")>{word.clone()}</span></td> }.into_any(),
                                _ => view! { <td data-v=c.exact()>{c.display()}</td> }.into_any(),
                            })
                            .collect_view();
                        let muted = t.muted.get(k).copied().unwrap_or(false);
                        view! {
                            <tr class:infeasible=muted on:click=move |_| if let Some(f) = &cb { f(k) }>{cells}</tr>
                        }
                    })
                    .collect_view()
            })
        })
    };
    let step = move |d: isize| {
        view_state.update(|v| {
            let p = v.page.saturating_add_signed(d);
            v.go(p, total())
        })
    };
    view! {
        <div class="table-wrap">
            <table id=id class="data">
                <thead><tr>{head}</tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
        <div class="pager" id=format!("{id}-pager")>
            <button on:click=move |_| step(-1)>"‹ prev"</button>
            <span class="page">{move || format!("page {} of {} · {} rows", view_state.get().page + 1, view_state.get().pages(total()), total())}</span>
            <button class="next" on:click=move |_| step(1)>"next ›"</button>
            <button class="csv" id=format!("{id}-csv") title="Save every row as CSV"
                on:click=move |_| table.with(|t| crate::io::download(&format!("{id}.csv"), "text/csv", &t.to_csv()))>"CSV"</button>
        </div>
    }
}
