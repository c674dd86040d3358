//! The Baseline tab (SPEC §7), computed in the page with the same engine as `quantbot backtest
//! baseline`: the simple TP/SL trade's settings (editable, validated like the CLI's flags), the
//! per-caller summary (the same document `--format json` prints), the per-alert table with every
//! §7 column, and two distributions: ATH multiple on a log axis and time to 2×.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_core::baseline::BaselineRow;
use quantbot_lab_model::baseline::{alerts_table, distributions, summary_table, BaselineForm};
use quantbot_lab_model::chart::Histogram;
use quantbot_lab_model::table::{Cell, TableView};
use serde_json::Value;

use crate::components::data_table::data_table;
use crate::io::publish;
use crate::job::on_pool_checked;
use crate::lab::Lab;

/// A histogram as SVG bars with its axis labels (the bins' edges) and counts on hover.
fn histogram_svg(
    id: &'static str,
    title: &'static str,
    h: &Histogram,
    unit: &str,
) -> impl IntoView {
    let (w, hgt, left, bottom) = (420.0, 160.0, 36.0, 30.0);
    let max = h.bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let n = h.bins.len().max(1) as f64;
    let bw = (w - left - 28.0) / n;
    let bars = h
        .bins
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let bh = (hgt - bottom - 10.0) * b.count as f64 / max;
            let x = left + k as f64 * bw;
            let y = hgt - bottom - bh;
            let tip = format!(
                "{} – {} {unit}: {} calls",
                Cell::Num(Some(b.lo)).display(),
                Cell::Num(Some(b.hi)).display(),
                b.count
            );
            view! { <rect x=x y=y width=(bw - 1.0).max(1.0) height=bh fill="#0072b2" data-count=b.count.to_string()><title>{tip}</title></rect> }
        })
        .collect_view();
    let ticks = [0usize, h.bins.len() / 2, h.bins.len()]
        .into_iter()
        .filter(|_| !h.bins.is_empty())
        .map(|k| {
            let v = if k == h.bins.len() {
                h.bins[k - 1].hi
            } else {
                h.bins[k].lo
            };
            view! { <text x=left + k as f64 * bw y=hgt - bottom + 14.0 text-anchor="middle" font-size="10">{Cell::Num(Some(v)).display()}</text> }
        })
        .collect_view();
    let axis = format!(
        "{title}{}{}",
        if h.log { " (log axis)" } else { "" },
        if h.left_out > 0 {
            format!(", {} calls left out", h.left_out)
        } else {
            String::new()
        }
    );
    view! {
        <svg id=id width=w height=hgt>
            <line x1=left x2=w - 8.0 y1=hgt - bottom y2=hgt - bottom stroke="#889" />
            <text x=left - 4.0 y="14" text-anchor="end" font-size="10">{max.to_string()}</text>
            <text x=left - 4.0 y=hgt - bottom text-anchor="end" font-size="10">"0"</text>
            {bars}
            {ticks}
            <text x=left + (w - left) / 2.0 y=hgt - 2.0 text-anchor="middle" font-size="11" font-weight="600">{axis}</text>
        </svg>
    }
}

type Computed = Arc<(Vec<BaselineRow>, Value)>;

#[component]
pub fn BaselineTab(lab: Lab) -> impl IntoView {
    let form = RwSignal::new(BaselineForm::default());
    let result: RwSignal<Option<Computed>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let caller = RwSignal::new(None::<String>);
    let problem = move || {
        let (h, i) = (lab.dims().0, lab.dims().1);
        form.with(|f| f.config(i, h).err())
    };
    let compute = move |_| {
        let Some(data) = lab.loaded.get_untracked() else {
            error.set(Some("no data is loaded".into()));
            return;
        };
        if !matches!(lab.backend, quantbot_lab_model::run::Backend::Pool { .. }) {
            error.set(Some(
                "the baseline tab needs the worker pool (a cross-origin isolated page); `quantbot backtest baseline` computes the same numbers"
                    .into(),
            ));
            return;
        }
        let f = form.get_untracked();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let r = on_pool_checked(move || crate::views::baseline(&data, &f))
                .await
                .and_then(|x| x);
            busy.set(false);
            match r {
                Ok(v) => {
                    publish(
                        "quantbotBaseline",
                        &serde_json::to_string(&v.1).unwrap_or_default(),
                    );
                    result.set(Some(Arc::new(v)));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let field = move |flag: &'static str,
                      label: &'static str,
                      get: fn(&BaselineForm) -> String,
                      put: fn(&mut BaselineForm, String)| {
        view! {
            <label class="field">
                <span class="name">{label}</span>
                <input type="text" data-baseline=flag prop:value=move || form.with(get)
                    on:input=move |ev| form.update(|f| put(f, event_target_value(&ev))) />
            </label>
        }
    };
    let output = move || {
        let r = result.get()?;
        let data = lab.loaded.get_untracked()?;
        let calls = &data.ds.calls;
        let summary = summary_table(&r.1);
        let alerts = alerts_table(calls, &r.0);
        let names: Vec<String> = r.1["per_caller"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["caller"].as_str().map(String::from))
            .collect();
        let pick = {
            let names = names.clone();
            Arc::new(move |row: usize| caller.set(names.get(row).cloned()))
        };
        let r2 = r.clone();
        let data2 = data.clone();
        let dists = move || {
            let who = caller.get();
            let (ath, t2) = distributions(&data2.ds.calls, &r2.0, who.as_deref());
            view! {
                <h3>{format!("Distributions: {}", who.unwrap_or_else(|| "every caller".into()))}</h3>
                <div class="row">
                    {histogram_svg("hist-ath", "ATH multiple", &ath, "×")}
                    {histogram_svg("hist-t2x", "time to 2× (hours)", &t2, "h")}
                </div>
            }
        };
        Some(view! {
            <h3>"Per caller"</h3>
            <p class="hint">"The same numbers as "<code>"quantbot backtest baseline --format json"</code>" on this dataset. Click a caller for its distributions."</p>
            {data_table("baseline-summary", Memo::new(move |_| summary.clone()).into(), RwSignal::new(TableView::new(50)), Some(pick))}
            {dists}
            <h3>"Every alert"</h3>
            {data_table("baseline-alerts", Memo::new(move |_| alerts.clone()).into(), RwSignal::new(TableView::new(25)), None)}
        })
    };
    view! {
        <section id="baseline">
            <h2>"Baseline: how far each call ran (SPEC §7)"</h2>
            <p class="hint">"Per call from its entry candle over the dataset's horizon: the all-time-high multiple, times to 2×/3×/4×, drawdowns, and one simple take-profit / stop-loss trade with these settings."</p>
            <div class="fields">
                {field("--tp-mult", "take profit (× entry)", |f| f.tp_mult.clone(), |f, v| f.tp_mult = v)}
                {field("--sl-mult", "stop loss (× entry)", |f| f.sl_mult.clone(), |f, v| f.sl_mult = v)}
                {field("--fee-bps", "fee per side (bps)", |f| f.fee_bps.clone(), |f, v| f.fee_bps = v)}
                {field("--slippage-bps", "slippage (bps)", |f| f.slippage_bps.clone(), |f, v| f.slippage_bps = v)}
                <label class="field">
                    <span class="name">"intrabar order"</span>
                    <select data-baseline="--intrabar-order" on:change=move |ev| form.update(|f| f.intrabar_order = event_target_value(&ev))>
                        <option value="sl_first">"sl_first"</option>
                        <option value="tp_first">"tp_first"</option>
                    </select>
                </label>
            </div>
            <p class="error" id="baseline-problem">{problem}</p>
            <div class="row">
                <button id="baseline-run" disabled=move || busy.get() || problem().is_some() || lab.loaded.with(Option::is_none) on:click=compute>
                    {move || if busy.get() { "computing…" } else { "Compute the baseline" }}
                </button>
            </div>
            <p class="error" id="baseline-error">{move || error.get()}</p>
            {output}
        </section>
    }
}
