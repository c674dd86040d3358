//! The selected policy of a caller (the best, or the heatmap's or grid table's click): its
//! equity curve with time and value axes and the drawdown shaded, its trades (every SPEC §3.5
//! field plus size and PnL; a click opens the trade's candle chart), and the decision log of
//! its wallet (every call, taken or skipped with the reason and the free cash then). Computed
//! on the worker pool from the run's own options, so the numbers are the search's.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_core::wallet::SkipReason;
use quantbot_lab_model::chart::equity_chart;
use quantbot_lab_model::detail::{decisions_table, trades_table, PolicyDetail, TradeChart};
use quantbot_lab_model::table::{Cell, TableView};
use wasm_bindgen::prelude::*;

use crate::components::data_table::data_table;
use crate::job::{on_pool_checked, RunOutput};
use crate::lab::Lab;

#[wasm_bindgen(module = "/src/candle_chart.js")]
extern "C" {
    #[wasm_bindgen(js_name = drawTradeChart)]
    pub(crate) fn draw_trade_chart(el: &web_sys::HtmlElement, json: &str) -> js_sys::Promise;
}

fn equity_svg(d: &PolicyDetail) -> impl IntoView {
    let start = d
        .decisions
        .first()
        .map_or(0, |x| x.alert_ts_ms)
        .min(d.trades.first().map_or(i64::MAX, |t| t.entry_ts_ms));
    let final_capital = d.final_capital.to_string();
    let Some(c) = equity_chart(&d.equity, d.initial_capital, start, 720.0, 220.0) else {
        return view! { <p id="policy-equity" data-final=final_capital class="hint">"No trade closed: the equity stays at the initial capital."</p> }.into_any();
    };
    let (px, py, pw, ph) = c.plot;
    let dd = c.max_drawdown.map(|(f, x, y)| {
        view! {
            <text x=x + 4.0 y=y + 12.0 font-size="10" fill="#9b2a1f">{format!("max drawdown {:.1}%", f * 100.0)}</text>
        }
    });
    view! {
        <svg id="policy-equity" width=c.width height=c.height data-final=final_capital>
            <rect x=px y=py width=pw height=ph fill="#fbfcfe" stroke="#dde1e8" />
            {c.y_ticks.iter().map(|t| view! {
                <line x1=px x2=px + pw y1=t.at y2=t.at stroke="#eceff3" />
                <text x=px - 4.0 y=t.at + 3.0 text-anchor="end" font-size="10">{t.label.clone()}</text>
            }).collect_view()}
            {c.x_ticks.iter().map(|t| view! {
                <line x1=t.at x2=t.at y1=py + ph y2=py + ph + 4.0 stroke="#889" />
                <text x=t.at y=py + ph + 16.0 text-anchor="middle" font-size="10">{t.label.clone()}</text>
            }).collect_view()}
            <polygon class="drawdown" points=c.drawdown fill="#d55e00" fill-opacity="0.25" />
            <polyline points=c.line fill="none" stroke="#0072b2" stroke-width="1.5" />
            {dd}
        </svg>
    }
    .into_any()
}

#[component]
pub fn PolicyView(lab: Lab, out: Arc<RunOutput>, k: usize) -> impl IntoView {
    let caller = out.result.per_caller[k].caller.clone();
    let best = out.result.per_caller[k].best;
    let policy = Memo::new(move |_| lab.selected.with(|s| s.policy).unwrap_or(best));
    let detail: RwSignal<Option<Result<Arc<PolicyDetail>, String>>> = RwSignal::new(None);
    let chart_error = RwSignal::new(None::<String>);
    let chart_call = RwSignal::new(None::<(usize, usize)>);
    let trades_view = RwSignal::new(TableView::new(25));
    let decisions_view = RwSignal::new(TableView::new(25));
    let pool = matches!(lab.backend, quantbot_lab_model::run::Backend::Pool { .. });
    // A link's trade opens once its policy's trades are in (then the link's part is done).
    let restore = StoredValue::new(lab.selected.with_untracked(|s| s.trade));
    let o = out.clone();
    let c2 = caller.clone();
    Effect::new(move |_| {
        let index = policy.get();
        detail.set(None);
        chart_call.set(None);
        if restore.get_value().is_none() {
            lab.selected.update(|s| s.trade = None);
        }
        // Another policy's trades start on their first page.
        trades_view.update(|v| v.page = 0);
        decisions_view.update(|v| v.page = 0);
        if !pool {
            detail.set(Some(Err("the selected policy's trades and decision log need the worker pool (a cross-origin isolated page); the tables above hold its metrics".into())));
            return;
        }
        // Tracked: a bundle's results show before (or without) its dataset; once it is opened,
        // the policy's wallet is computed.
        let Some(data) = lab.loaded.get() else {
            detail.set(Some(Err("The dataset is not loaded: open it above and Run (a bundle's options are already in the form) to see this policy's trades, candle charts and decision log; a published bundle lists its best policies' trades above.".into())));
            return;
        };
        let options = o.options.clone();
        let c = c2.clone();
        spawn_local(async move {
            let r = on_pool_checked(move || crate::views::detail(&data, &options, &c, index))
                .await
                .and_then(|x| x);
            // A later click may have replaced the policy meanwhile.
            if policy.get_untracked() == index {
                let restored = restore.get_value();
                restore.set_value(None);
                detail.set(Some(r.map(Arc::new)));
                if let Some(call) = restored {
                    chart_call.set(Some((call, index)));
                }
            }
        });
    });
    let o = out.clone();
    let c3 = caller.clone();
    // A click on a trade draws its chart.
    Effect::new(move |_| {
        let Some((call, index)) = chart_call.get() else {
            return;
        };
        let Some(data) = lab.loaded.get_untracked() else {
            return;
        };
        let options = o.options.clone();
        let c = c3.clone();
        chart_error.set(None);
        spawn_local(async move {
            let r: Result<TradeChart, String> =
                on_pool_checked(move || crate::views::chart(&data, &options, &c, call, index))
                    .await
                    .and_then(|x| x);
            let el = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("trade-chart"))
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            match (r, el) {
                (Ok(c), Some(el)) => {
                    let json = serde_json::to_string(&c).unwrap_or_default();
                    if let Err(e) =
                        wasm_bindgen_futures::JsFuture::from(draw_trade_chart(&el, &json)).await
                    {
                        chart_error.set(Some(format!("the chart did not draw: {e:?}")));
                    }
                }
                (Err(e), _) => chart_error.set(Some(e)),
                (_, None) => {}
            }
        });
    });
    let g = out.grid.clone();
    let heading = move || {
        let p = policy.get();
        format!(
            "{} policy #{p}: {}",
            if p == best { "Best" } else { "Selected" },
            g.label(p)
        )
    };
    let body = move || {
        let d = match detail.get() {
            None => return view! { <p class="hint">"computing…"</p> }.into_any(),
            Some(Err(e)) => return view! { <p class="error" id="policy-error">{e}</p> }.into_any(),
            Some(Ok(d)) => d,
        };
        let (taken, skipped) = d.counts();
        let counts = SkipReason::ALL
            .iter()
            .zip(skipped)
            .map(|(r, n)| format!("{}: {n}", r.as_str()))
            .collect::<Vec<_>>()
            .join(" · ");
        let trades = trades_table(&d);
        let decisions = decisions_table(&d);
        let d2 = d.clone();
        let open_trade = Arc::new(move |row: usize| {
            if let Some(t) = d2.trades.get(row) {
                chart_call.set(Some((t.call, d2.index)));
                lab.selected.update(|s| s.trade = Some(t.call));
            }
        });
        let d3 = d.clone();
        let scope = if d.in_sample {
            format!("the {} in-sample calls (the holdout's later calls are left out, as the search scored them)", d.calls)
        } else {
            format!("all {} calls", d.calls)
        };
        view! {
            <p class="hint">{format!(
                "The wallet of this policy alone over {scope}: starts with {}, ends with {}.",
                Cell::Num(Some(d.initial_capital)).display(),
                Cell::Num(Some(d.final_capital)).display()
            )}</p>
            {equity_svg(&d)}
            <h3>"Trades ("{d.trades.len()}")"</h3>
            <p class="hint">"Click a trade for its candle chart."</p>
            {data_table("trades-table", Memo::new(move |_| trades.clone()).into(), trades_view, Some(open_trade))}
            <div id="trade-chart-box">
                <p id="trade-chart-title" class="hint">{move || chart_call.get().map_or("No trade selected.".to_string(), |(c, _)| format!("Candles of call {} (scroll to zoom, drag to pan).", d3.decisions.iter().find(|x| x.call == c).map_or("", |x| x.call_id.as_str())))}</p>
                <div id="trade-chart" class="trade-chart"></div>
                <p class="error" id="trade-chart-error">{move || chart_error.get()}</p>
            </div>
            <h3>"Decision log"</h3>
            <p id="decision-counts" data-taken=taken.to_string()
                data-no_entry=skipped[0].to_string() data-max_positions=skipped[1].to_string()
                data-same_token_open=skipped[2].to_string() data-below_min_size=skipped[3].to_string()>
                {format!("{} calls: {taken} taken; skipped {counts}", d.calls)}
            </p>
            {data_table("decisions-table", Memo::new(move |_| decisions.clone()).into(), decisions_view, None)}
        }
        .into_any()
    };
    view! {
        <section id="policy">
            <h2 id="policy-heading">{heading}</h2>
            {body}
        </section>
    }
}
