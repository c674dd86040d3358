//! Loading a dataset, by either backend: a published folder by URL, or the user's files. The
//! pool reads the bytes on the page and decodes them on the workers; the one worker is sent
//! the sources and reads them itself.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_format::dataset::LoadOptions;
use quantbot_format::options::parse_interval;
use quantbot_lab_model::messages::{folder_sources, Source, ToWorker};
use quantbot_lab_model::run::Backend;

use crate::io::{fetch_bytes, file_bytes, now_ms, publish, wasm_memory_bytes};
use crate::job::{self, on_pool_checked, Loaded, RawFiles};
use crate::lab::Lab;
use crate::solo;

/// Shows a loaded dataset (from either backend).
pub(crate) fn loaded(lab: Lab, data: Loaded, status: String) {
    lab.load_status.set(status);
    publish("quantbotLoaded", &data.label);
    lab.output.set(None);
    lab.loaded.set(Some(Arc::new(data)));
}

fn begin_load(lab: Lab, status: String) {
    lab.loading.set(true);
    lab.load_error.set(None);
    lab.load_status.set(status);
}

fn fail_load(lab: Lab, e: String) {
    lab.loading.set(false);
    lab.load_error.set(Some(e));
}

/// The interval for files without a manifest.
pub(crate) fn fallback(lab: Lab) -> LoadOptions {
    LoadOptions {
        interval_s: parse_interval(&lab.files_interval.get_untracked()).unwrap_or(60),
        horizon_hours: 48.0,
        min_coverage: 0.8,
    }
}

/// Decodes raw files on the pool.
fn decode_on_pool(lab: Lab, label: String, files: RawFiles) {
    lab.load_status
        .set("decoding Parquet on the workers…".into());
    let fb = fallback(lab);
    spawn_local(async move {
        let t0 = now_ms();
        let r = on_pool_checked(move || job::decode(label, files, fb))
            .await
            .and_then(|r| r);
        lab.loading.set(false);
        match r {
            Ok(data) => {
                let secs = (now_ms() - t0) / 1000.0;
                let status = format!(
                    "decoded {} candles in {secs:.1} s; wasm memory {:.0} MB",
                    data.candles,
                    wasm_memory_bytes() / 1e6
                );
                loaded(lab, data, status);
            }
            Err(e) => lab.load_error.set(Some(e)),
        }
    });
}

/// The dataset folder of the URL box, resolved against the page (a worker needs absolute URLs).
fn folder_url(lab: Lab) -> String {
    let mut base = lab.data_url.get_untracked().trim().to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    let page = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    web_sys::Url::new_with_base(&base, &page)
        .map(|u| u.href())
        .unwrap_or(base)
}

/// Opens the dataset folder of the URL box.
pub fn load_url(lab: Lab) {
    let label = {
        let mut b = lab.data_url.get_untracked().trim().to_string();
        if !b.ends_with('/') {
            b.push('/');
        }
        b
    };
    let sources = folder_sources(&folder_url(lab));
    begin_load(lab, format!("fetching {label}…"));
    if lab.backend == Backend::Solo {
        let msg = ToWorker::Load {
            label,
            sources,
            interval_s: fallback(lab).interval_s,
        };
        if let Err(e) = solo::post(&msg, None) {
            fail_load(lab, e);
        }
        return;
    }
    spawn_local(async move {
        let mut files = RawFiles::default();
        for s in sources {
            let url = s.url.clone().unwrap_or_default();
            match fetch_bytes(&url).await {
                Ok(Some(b)) => {
                    files.add(&s.name, b);
                }
                Ok(None) if s.optional => {}
                Ok(None) => {
                    return fail_load(
                        lab,
                        format!("{}: not found (is {label} a dataset folder?)", s.name),
                    )
                }
                Err(e) => return fail_load(lab, e),
            }
        }
        decode_on_pool(lab, label, files);
    });
}

/// Opens the user's files (picked or dropped).
pub fn load_files(lab: Lab, list: web_sys::FileList) {
    let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
    let names: Vec<String> = files.iter().map(|f| f.name()).collect();
    let label = format!("files:{}", names.join(","));
    begin_load(lab, format!("reading {} files…", files.len()));
    if !names.iter().any(|n| n.ends_with("calls.parquet"))
        || !names.iter().any(|n| n.ends_with("candles.parquet"))
    {
        return fail_load(
            lab,
            format!(
                "give calls.parquet and candles.parquet (or every file of an exported folder); got {}",
                names.join(", ")
            ),
        );
    }
    if lab.backend == Backend::Solo {
        let sources = names
            .iter()
            .map(|n| Source {
                name: n.clone(),
                url: None,
                optional: false,
            })
            .collect();
        let array = js_sys::Array::new();
        for f in &files {
            array.push(f);
        }
        let msg = ToWorker::Load {
            label,
            sources,
            interval_s: fallback(lab).interval_s,
        };
        if let Err(e) = solo::post(&msg, Some(array)) {
            fail_load(lab, e);
        }
        return;
    }
    spawn_local(async move {
        let mut raw = RawFiles::default();
        for f in &files {
            match file_bytes(f).await {
                Ok(b) => {
                    raw.add(&f.name(), b);
                }
                Err(e) => return fail_load(lab, e),
            }
        }
        decode_on_pool(lab, label, raw);
    });
}
