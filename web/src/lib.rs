//! The browser lab (a shell until its issue): it links the engine so the web workspace exists
//! and stays buildable; the Leptos app, the worker pool and the Parquet loader arrive later.

/// The engine version the lab is built against.
pub fn engine_version() -> &'static str {
    quantbot_core::VERSION
}
