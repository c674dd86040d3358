//! The lab's page: reads the link it was opened with, chooses the backend, starts the workers
//! and the default load (a link's dataset on another origin only once the user confirms), and
//! lays out the components. A link with `run=1` runs through the same guard as the Run button.

use leptos::prelude::*;
use quantbot_lab_model::run::Backend;
use quantbot_lab_model::share::{ShareLink, Tab};

use crate::backend;
use crate::components::baseline_tab::BaselineTab;
use crate::components::bundle_view::{Bundle, BundleSource};
use crate::components::data_panel::DataPanel;
use crate::components::header::Header;
use crate::components::options_form::OptionsForm;
use crate::components::results::Results;
use crate::components::run_bar::RunBar;
use crate::lab::Lab;
use crate::load;

fn search() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

fn query_param(name: &str) -> Option<String> {
    web_sys::UrlSearchParams::new_with_str(&search())
        .ok()?
        .get(name)
}

fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

#[component]
pub fn App() -> impl IntoView {
    let hardware = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency());
    let backend = Backend::choose(
        cross_origin_isolated(),
        query_param("threads").as_deref(),
        hardware as usize,
    );
    let lab = Lab::new(backend, ShareLink::parse(&search()));
    backend::start(lab);
    // The bundled demo dataset (or the link's) opens by default; a link's folder on another
    // origin waits for the user's click.
    // A link to a published bundle shows it as computed: its dataset opens only on a click.
    let bundle = lab.link.with_value(|l| l.bundle.clone());
    if query_param("autoload").as_deref() != Some("0") && bundle.is_none() {
        load::open_from_link(lab);
    }
    // A link's `run=1`, once workers and data are ready: through the Run button's guard, and
    // when it refuses, its message shows under the button as a click's would.
    let autorun = StoredValue::new(lab.link.with_value(|l| l.run) && bundle.is_none());
    Effect::new(move |_| {
        if autorun.get_value()
            && lab.workers.get().is_some()
            && lab.loaded.with(Option::is_some)
            && !lab.running.get()
            && !lab.loading.get()
        {
            autorun.set_value(false);
            backend::run_or_say(lab);
        }
    });
    // Two tabs over the loaded data: the grid search and its results, and the §7 baseline.
    // Both stay mounted, so switching keeps what each shows.
    let baseline_tab = Memo::new(move |_| lab.tab.get() == Tab::Baseline);
    view! {
        <Header lab />
        <main>
            {bundle.map(|folder| view! { <Bundle lab source=BundleSource::Folder(folder) /> })}
            {move || lab.bundle_files.get().map(|f| view! { <Bundle lab source=BundleSource::Files(f) /> })}
            <DataPanel lab />
            <nav class="tabs" role="tablist">
                <button id="tab-search" role="tab" class:active=move || !baseline_tab.get() on:click=move |_| lab.tab.set(Tab::Search)>"Grid search"</button>
                <button id="tab-baseline" role="tab" class:active=move || baseline_tab.get() on:click=move |_| lab.tab.set(Tab::Baseline)>"Baseline"</button>
            </nav>
            <div id="search-tab" class:hidden=move || baseline_tab.get()>
                <section id="options">
                    <OptionsForm lab />
                    <RunBar lab />
                </section>
                {move || lab.output.get().map(|out| view! { <Results lab out /> })}
            </div>
            <div id="baseline-tab" class:hidden=move || !baseline_tab.get()>
                <BaselineTab lab />
            </div>
        </main>
    }
}
