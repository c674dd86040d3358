//! The Quantbot Lab in the browser: a Leptos app that loads a published dataset (or the
//! user's own files), runs the engine's grid search on a pool of Web Workers
//! (wasm-bindgen-rayon) and shows the results. Nothing is uploaded anywhere.

mod app;
mod backend;
mod components;
pub mod io;
pub mod job;
mod lab;
mod load;
pub mod solo;
pub mod views;

use wasm_bindgen::prelude::*;
pub use wasm_bindgen_rayon::init_thread_pool;

/// Mounts the app on the page (not inside the pool's workers, which load the same module).
#[wasm_bindgen(start)]
pub fn start() {
    if js_sys::global().dyn_into::<web_sys::Window>().is_err() {
        return;
    }
    job::install_panic_hook();
    leptos::mount::mount_to_body(app::App);
}
