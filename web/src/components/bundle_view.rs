//! A published result bundle (issue 19), opened by `?bundle=FOLDER/`: its `results.json` read
//! from the page's own origin and shown as it was computed (the per-caller table, the options in
//! effect, the engine and dataset it was run on), without the dataset and without a rerun. The
//! dataset named by the link stays unloaded until the user opens it above.

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_lab_model::bundle::{bundle_view, BundleView};
use quantbot_lab_model::run::DataBudget;
use quantbot_lab_model::table::TableView;

use crate::components::data_table::data_table;
use crate::io::{fetch_bytes, own_origin, resolve};
use crate::lab::Lab;

/// Reads `{folder}results.json` (same origin only: a link must not make the page contact
/// another site by itself).
async fn read(folder: String) -> Result<BundleView, String> {
    let here = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let url = format!("{}results.json", folder.trim());
    let r = resolve(&url, &here).ok_or_else(|| format!("bundle {folder}: not a URL"))?;
    if r.origin != own_origin() {
        return Err(format!(
            "bundle {folder}: on another origin ({}); a link opens bundles of this site only",
            r.origin
        ));
    }
    let bytes = fetch_bytes(&r.href, &mut DataBudget::default())
        .await?
        .ok_or_else(|| format!("bundle {folder}: results.json not found"))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("bundle {folder}: results.json is not JSON ({e})"))?;
    bundle_view(&doc)
}

#[component]
pub fn Bundle(lab: Lab, folder: String) -> impl IntoView {
    let view_state: RwSignal<Option<Result<BundleView, String>>> = RwSignal::new(None);
    let f = folder.clone();
    spawn_local(async move {
        let r = read(f).await;
        if let Ok(v) = &r {
            crate::io::publish("quantbotBundle", &v.callers.to_string());
        }
        view_state.set(Some(r));
    });
    let sha = lab.link.with_value(|l| l.sha.clone());
    let body = move || match view_state.get() {
        None => view! { <p class="hint">"reading the bundle…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" id="bundle-error">{e}</p> }.into_any(),
        Some(Ok(v)) => {
            let mut warnings = Vec::new();
            if let Some(ver) = v
                .engine_version
                .as_deref()
                .filter(|x| *x != quantbot_core::VERSION)
            {
                warnings.push(format!(
                    "computed by engine {ver}; this lab runs engine {}: a rerun may differ",
                    quantbot_core::VERSION
                ));
            }
            if let (Some(a), Some(b)) = (v.manifest_sha256.as_deref(), sha.as_deref()) {
                if a != b {
                    warnings.push(format!(
                        "computed on dataset {}, but the link names dataset {}",
                        &a[..a.len().min(12)],
                        &b[..b.len().min(12)]
                    ));
                }
            }
            let options = v
                .options
                .iter()
                .map(|(k, x)| view! { <dt>{k.clone()}</dt><dd>{x.clone()}</dd> })
                .collect_view();
            let table = v.table.clone();
            view! {
                <p id="bundle-warning" class="error">{warnings.join("; ")}</p>
                <p class="hint">{format!("{} callers, objective {}; dataset {}. Shown as computed: nothing was rerun, and the dataset is not loaded (Open it above to explore it with the lab).",
                    v.callers, v.objective, v.manifest_sha256.as_deref().map_or("–", |s| &s[..s.len().min(12)]))}</p>
                {data_table("bundle-table", Memo::new(move |_| table.clone()).into(), RwSignal::new(TableView::new(50)), None)}
                <details><summary>"Options in effect"</summary><dl class="options">{options}</dl></details>
            }
            .into_any()
        }
    };
    view! {
        <section id="bundle">
            <h2>"Published result: "{folder}</h2>
            {body}
        </section>
    }
}
