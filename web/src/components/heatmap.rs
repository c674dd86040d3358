//! The heatmap of the selected caller's grid (issue 18): a metric (the objective by default)
//! over two grid dimensions, the others held at the best point's values or chosen here; a
//! colour-blind-safe scale with its legend, infeasible cells hatched, the best cell starred,
//! every metric of a cell on hover, and a click that selects the cell's policy everywhere
//! below. Beside it the plateau score of the selected cell, and the intrabar comparison: the
//! caller's grid re-run under the other intrabar order, with how far each cell moves.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_core::grid::DimValues;
use quantbot_core::metrics::Scored;
use quantbot_format::results::{metric_values, METRIC_NAMES};
use quantbot_lab_model::heatmap::{dim_labels, heatmap, plateau, HeatMetric, LEVELS};
use quantbot_lab_model::table::Cell;

use crate::job::{on_pool_checked, RunOutput};
use crate::lab::Lab;

/// Viridis in nine steps (colour-blind-safe, and light to dark reads without colour).
const PALETTE: [&str; LEVELS as usize] = [
    "#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
    "#fde725",
];

/// A cell's number in at most six characters: thousands without decimals, else four
/// significant digits.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{v:.0}")
    } else if a >= 1.0 || a == 0.0 {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        Cell::Num(Some(v)).display()
    }
}

fn text_colour(level: u8) -> &'static str {
    if level >= 5 {
        "#111"
    } else {
        "#fff"
    }
}

fn dim_len(d: &DimValues) -> usize {
    match d {
        DimValues::Numbers(v) => v.len(),
        DimValues::Ladders(v) => v.len(),
        DimValues::Rules(v) => v.len(),
    }
}

/// Every metric of a grid point, one per line (the cell's hover text).
fn hover(out: &RunOutput, s: &Scored, other: Option<&Scored>) -> String {
    let mut lines = vec![
        format!("#{} {}", s.index, out.grid.label(s.index)),
        format!("feasible: {}", if s.feasible { "yes" } else { "no" }),
    ];
    for (name, v) in METRIC_NAMES.iter().zip(metric_values(&s.metrics)) {
        lines.push(format!("{name}: {}", Cell::Num(v).display()));
    }
    if let Some(o) = other {
        lines.push(format!(
            "under the other intrabar order: {} = {}",
            out.options.objective.as_str(),
            Cell::Num(out.options.objective.value(&o.metrics)).display()
        ));
    }
    lines.join("\n")
}

#[component]
pub fn Heatmap(lab: Lab, out: Arc<RunOutput>, k: usize) -> impl IntoView {
    let caller = &out.result.per_caller[k];
    let name = caller.caller.clone();
    let best = caller.best;
    let dims = out.grid.dimensions();
    let lens: Vec<usize> = dims.iter().map(|(_, d)| dim_len(d)).collect();
    let varying: Vec<usize> = (0..dims.len()).filter(|&d| lens[d] > 1).collect();
    let x0 = varying.first().copied().unwrap_or(0);
    let y0 = varying
        .get(1)
        .copied()
        .unwrap_or(if x0 == 0 { 1 } else { 0 });
    let axes = RwSignal::new((x0, y0));
    let fixed = RwSignal::new(out.grid.coords(best));
    let metric = RwSignal::new(HeatMetric::Objective(out.options.objective));
    // The caller's scores under the other intrabar order, once asked for.
    let other: RwSignal<Option<Arc<Vec<Scored>>>> = RwSignal::new(None);
    let other_busy = RwSignal::new(false);
    let other_error = RwSignal::new(None::<String>);
    let selected = move || lab.selected.with(|s| s.policy).unwrap_or(best);

    let o = out.clone();
    let map = Memo::new(move |_| {
        let c = &o.result.per_caller[k];
        heatmap(
            &o.grid,
            &c.scored,
            c.best,
            metric.get(),
            axes.get(),
            fixed.get(),
        )
    });
    let o = out.clone();
    let cells = move || {
        let h = map.get();
        let cols = h.x_labels.len();
        let rows = h.y_labels.len();
        let size = (640.0 / cols.max(rows) as f64).clamp(14.0, 64.0);
        let show_values = cols * rows <= 144 && size >= 30.0;
        let sel = selected();
        let other = other.get();
        let c = &o.result.per_caller[k];
        let m = metric.get_untracked();
        let body = h
            .cells
            .iter()
            .enumerate()
            .map(|(n, cell)| {
                let (row, col) = (n / cols, n % cols);
                let x = 90.0 + col as f64 * size;
                let y = 10.0 + (rows - 1 - row) as f64 * size;
                let s = &c.scored[cell.index];
                let o_s = other.as_ref().map(|v| &v[cell.index]);
                let fill = cell.level.map_or("#e6e6e6", |l| PALETTE[l as usize]);
                let index = cell.index;
                let value = cell.value.map_or(String::new(), |v| v.to_string());
                let other_value = o_s
                    .and_then(|s| m.value(s))
                    .map_or(String::new(), |v| v.to_string());
                let delta = match (cell.value, o_s.and_then(|s| m.value(s))) {
                    (Some(a), Some(b)) => Some(b - a),
                    _ => None,
                };
                let label = if other.is_some() {
                    delta.map_or("–".into(), |d| format!("Δ{}", short(d)))
                } else {
                    cell.value.map_or("–".into(), short)
                };
                let tc = cell.level.map_or("#111", text_colour);
                let title = hover(&o, s, o_s);
                view! {
                    <g class="cell" class:best=cell.best class:selected=index == sel class:infeasible=!cell.feasible
                        data-index=index.to_string() data-value=value data-other=other_value
                        data-ambiguous=o_s.map_or(String::new(), |s| s.metrics.ambiguous_trades.to_string())
                        on:click=move |_| lab.selected.update(|s| s.policy = Some(index))>
                        <title>{title}</title>
                        <rect x=x y=y width=size - 1.0 height=size - 1.0 fill=fill />
                        {(!cell.feasible).then(|| view! { <rect x=x y=y width=size - 1.0 height=size - 1.0 fill="url(#hatch)" /> })}
                        {show_values.then(|| view! { <text x=x + size / 2.0 y=y + size / 2.0 + 4.0 text-anchor="middle" font-size="10" fill=tc>{label.clone()}</text> })}
                        {cell.best.then(|| view! { <text x=x + 3.0 y=y + 11.0 font-size="11" fill=tc>"★"</text> })}
                        {(index == sel).then(|| view! { <rect x=x + 1.5 y=y + 1.5 width=size - 4.0 height=size - 4.0 fill="none" stroke="#e8412c" stroke-width="3" /> })}
                    </g>
                }
            })
            .collect_view();
        let x_axis = h
            .x_labels
            .iter()
            .enumerate()
            .map(|(col, l)| {
                let x = 90.0 + col as f64 * size + size / 2.0;
                let y = 10.0 + rows as f64 * size + 14.0;
                view! { <text x=x y=y text-anchor="middle" font-size="10">{l.clone()}</text> }
            })
            .collect_view();
        let y_axis = h
            .y_labels
            .iter()
            .enumerate()
            .map(|(row, l)| {
                let y = 10.0 + (rows - 1 - row) as f64 * size + size / 2.0 + 4.0;
                view! { <text x="84" y=y text-anchor="end" font-size="10">{l.clone()}</text> }
            })
            .collect_view();
        let w = 100.0 + cols as f64 * size;
        let hgt = 40.0 + rows as f64 * size;
        view! {
            <svg id="heatmap-svg" width=w height=hgt data-cols=cols.to_string() data-rows=rows.to_string()>
                <defs>
                    <pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
                        <line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2.5" />
                    </pattern>
                </defs>
                {body}
                {x_axis}
                {y_axis}
                <text x=90.0 + cols as f64 * size / 2.0 y=hgt - 2.0 text-anchor="middle" font-size="11" font-weight="600">{h.x_name}</text>
                <text x="12" y=10.0 + rows as f64 * size / 2.0 font-size="11" font-weight="600">{h.y_name}</text>
            </svg>
        }
    };
    let legend = move || {
        let h = map.get();
        let (lo, hi) = h.range?;
        let step = (hi - lo) / f64::from(LEVELS);
        let items = (0..LEVELS)
            .map(|l| {
                let a = lo + step * f64::from(l);
                let text = format!("{} – {}", Cell::Num(Some(a)).display(), Cell::Num(Some(a + step)).display());
                view! { <span class="swatch-item"><svg width="14" height="14"><rect width="14" height="14" fill=PALETTE[l as usize] /></svg>{text}</span> }
            })
            .collect_view();
        Some(view! {
            <div id="heatmap-legend" class="legend">
                <strong>{h.metric}</strong>
                {items}
                <span class="swatch-item"><svg width="14" height="14"><rect width="14" height="14" fill="#888" /><rect width="14" height="14" fill="url(#hatch)" /></svg>"infeasible (hatched)"</span>
                <span class="swatch-item">"★ best"</span>
                <span class="swatch-item">"red outline: selected"</span>
            </div>
        })
    };
    // Selectors: the metric, the two axes, and the held value of every other dimension.
    let metric_options = {
        let obj = out.options.objective;
        let mut v = vec![(format!("objective ({})", obj.as_str()), "obj".to_string())];
        v.extend(
            METRIC_NAMES
                .iter()
                .enumerate()
                .map(|(i, n)| (n.to_string(), i.to_string())),
        );
        v
    };
    let objective = out.options.objective;
    let on_metric = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        metric.set(match v.parse::<usize>() {
            Ok(i) => HeatMetric::Named(i),
            Err(_) => HeatMetric::Objective(objective),
        });
    };
    let dim_names: Vec<&'static str> = dims.iter().map(|(n, _)| *n).collect();
    let axis_select = move |id: &'static str, which: usize| {
        let names = dim_names.clone();
        view! {
            <select id=id on:change=move |ev| {
                if let Ok(d) = event_target_value(&ev).parse::<usize>() {
                    axes.update(|a| {
                        let other = if which == 0 { a.1 } else { a.0 };
                        if d != other {
                            if which == 0 { a.0 = d } else { a.1 = d }
                        }
                    });
                }
            }>
                {names.iter().enumerate().map(|(d, n)| {
                    let is = move || { let a = axes.get(); (if which == 0 { a.0 } else { a.1 }) == d };
                    view! { <option value=d.to_string() selected=is>{*n}</option> }
                }).collect_view()}
            </select>
        }
    };
    let held = {
        let dims = out.grid.dimensions();
        move || {
            let (x, y) = axes.get();
            dims.iter()
                .enumerate()
                .filter(|(d, (_, vals))| *d != x && *d != y && dim_len(vals) > 1)
                .map(|(d, (n, vals))| {
                    let labels = dim_labels(vals);
                    view! {
                        <label class="held">{*n}" "
                            <select data-dim=d.to_string() on:change=move |ev| {
                                if let Ok(p) = event_target_value(&ev).parse::<usize>() {
                                    fixed.update(|f| f[d] = p);
                                }
                            }>
                                {labels.into_iter().enumerate().map(|(p, l)| view! {
                                    <option value=p.to_string() selected=move || fixed.get()[d] == p>{l}</option>
                                }).collect_view()}
                            </select>
                        </label>
                    }
                })
                .collect_view()
        }
    };
    let o = out.clone();
    let plateau_text = move || {
        let c = &o.result.per_caller[k];
        let p = plateau(
            &o.grid,
            &c.scored,
            selected(),
            HeatMetric::Objective(o.options.objective),
        );
        let d = |v: Option<f64>| Cell::Num(v).display();
        let drop = p.drop();
        let verdict = match (drop, p.value) {
            (Some(dr), Some(v)) if v.abs() > 0.0 && dr.abs() > 0.25 * v.abs() => {
                "a lone spike: its neighbours do much worse"
            }
            (Some(_), _) => "on a plateau: its neighbours do about as well",
            _ => "no neighbour to compare with",
        };
        view! {
            <p id="plateau" data-value=p.value.map_or(String::new(), |v| v.to_string())
                data-mean=p.neighbour_mean.map_or(String::new(), |v| v.to_string())
                data-neighbours=p.neighbours.to_string()>
                "Plateau score of the selected cell: "{d(p.value)}" against its "{p.neighbours}" neighbours' mean "
                {d(p.neighbour_mean)}" (difference "{d(drop)}"): "{verdict}"."
            </p>
        }
    };
    let intrabar_now = out.options.intrabar;
    let o = out.clone();
    let caller_name = name.clone();
    let toggle = move |_| {
        if other.get_untracked().is_some() {
            other.set(None);
            return;
        }
        let Some(data) = lab.loaded.get_untracked() else {
            other_error.set(Some(
                "the intrabar comparison reruns the caller: open the dataset above first".into(),
            ));
            return;
        };
        if !matches!(lab.backend, quantbot_lab_model::run::Backend::Pool { .. }) {
            other_error.set(Some(
                "the intrabar comparison needs the worker pool (a cross-origin isolated page)"
                    .into(),
            ));
            return;
        }
        other_busy.set(true);
        other_error.set(None);
        let options = o.options.clone();
        let c = caller_name.clone();
        spawn_local(async move {
            let r = on_pool_checked(move || crate::views::rescored(&data, &options, &c)).await;
            other_busy.set(false);
            match r.and_then(|x| x) {
                Ok(v) => other.set(Some(Arc::new(v))),
                Err(e) => other_error.set(Some(e)),
            }
        });
    };
    let other_name = crate::views::other_intrabar(intrabar_now);
    let o = out.clone();
    let moves = move || {
        let other = other.get()?;
        let c = &o.result.per_caller[k];
        let m = metric.get();
        let (mut moved, mut widest) = (0usize, 0.0f64);
        for (a, b) in c.scored.iter().zip(other.iter()) {
            if let (Some(x), Some(y)) = (m.value(a), m.value(b)) {
                if x != y {
                    moved += 1;
                    widest = widest.max((y - x).abs());
                }
            }
        }
        let sel = selected();
        let amb = c.scored[sel].metrics.ambiguous_trades;
        Some(view! {
            <p id="intrabar-summary">
                {format!(
                    "Under {}: {moved} of {} grid points change {} (by up to {}); the selected policy has {amb} ambiguous trade{} (a candle touching both its stop and a take-profit). Cells show the change.",
                    intrabar_name(other_name), c.scored.len(), m.name(), Cell::Num(Some(widest)).display(), if amb == 1 { "" } else { "s" }
                )}
            </p>
        })
    };
    view! {
        <section id="heatmap">
            <h2>"Heatmap of "{name}</h2>
            <div class="row">
                <label>"metric "<select id="heatmap-metric" on:change=on_metric>
                    {metric_options.into_iter().map(|(label, v)| view! { <option value=v>{label}</option> }).collect_view()}
                </select></label>
                <label>"across "{axis_select("heatmap-x", 0)}</label>
                <label>"down "{axis_select("heatmap-y", 1)}</label>
                {held}
                <button id="intrabar-toggle" disabled=move || other_busy.get() on:click=toggle>
                    {move || if other.get().is_some() { "Back to ".to_string() + intrabar_name(intrabar_now) } else { format!("Compare with {}", intrabar_name(other_name)) }}
                </button>
            </div>
            <p class="hint">"Other dimensions are held at the best point's values (change them above). Hover a cell for all its metrics; click it to select that policy."</p>
            {legend}
            <div class="heatmap-wrap">{cells}</div>
            {plateau_text}
            {moves}
            <p class="error" id="intrabar-error">{move || other_error.get()}</p>
        </section>
    }
}

fn intrabar_name(i: quantbot_core::policy::Intrabar) -> &'static str {
    match i {
        quantbot_core::policy::Intrabar::SlFirst => "sl-first",
        quantbot_core::policy::Intrabar::TpFirst => "tp-first",
    }
}
