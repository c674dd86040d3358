//! Loading a dataset, by either backend: a published folder by URL, or the user's files. The
//! pool reads the bytes on the page and decodes them on the workers; the one worker is sent
//! the sources and reads them itself. Either way the files are counted against the dataset
//! size limit (`quantbot_lab_model::run::DataBudget`) as they are read, and a link's folder on
//! another origin is opened only after the user confirms (`quantbot_lab_model::origin`).

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use quantbot_format::dataset::LoadOptions;
use quantbot_format::options::parse_interval;
use quantbot_format::parts;
use quantbot_lab_model::messages::{folder_sources, Source, ToWorker};
use quantbot_lab_model::origin::{opening, Opening};
use quantbot_lab_model::run::{Backend, DataBudget};

use crate::io::{fetch_bytes, file_bytes, now_ms, own_origin, publish, resolve, wasm_memory_bytes};
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
    lab.data_ask.set(None);
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

/// The folder of the URL box, as typed with a `/` at its end.
fn folder_text(lab: Lab) -> String {
    let mut base = lab.data_url.get_untracked().trim().to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    base
}

fn page_href() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// The dataset folder of the URL box, resolved against the page (a worker needs absolute URLs).
fn folder_url(lab: Lab) -> String {
    let base = folder_text(lab);
    resolve(&base, &page_href()).map_or(base, |r| r.href)
}

/// What the page may do with the URL box's folder by itself.
fn box_opening(lab: Lab) -> Opening {
    let text = folder_text(lab);
    opening(&text, resolve(&text, &page_href()).as_ref(), &own_origin())
}

/// Opens the folder of the link the page was opened with (or the bundled demo): at once when
/// it is on the page's origin; one on another origin is shown with a question and opened only
/// when the user clicks ([`open_confirmed`]), so a link cannot make the page contact another
/// site, or run on its data, by itself.
pub fn open_from_link(lab: Lab) {
    match box_opening(lab) {
        Opening::Now => load_url(lab),
        ask @ Opening::Ask { .. } => lab.data_ask.set(Some(ask)),
        Opening::Refused(why) => lab.load_error.set(Some(why)),
    }
}

/// The user's click on Open, or on the question's button: the click is the consent, so any
/// http(s) folder opens.
pub fn open_confirmed(lab: Lab) {
    match box_opening(lab) {
        Opening::Refused(why) => {
            lab.data_ask.set(None);
            lab.load_error.set(Some(why));
        }
        Opening::Now | Opening::Ask { .. } => load_url(lab),
    }
}

/// The files of the dataset folder at `base`: [`folder_sources`], with the candles' parts in
/// place of `candles.parquet` when the folder's manifest lists parts (the manifest is read
/// first for that; a folder without one fails later, when its files are read).
async fn dataset_sources(base: &str, budget: &mut DataBudget) -> Result<Vec<Source>, String> {
    let mut sources = folder_sources(base);
    let name = format!("{base}manifest.json");
    let Some(bytes) = fetch_bytes(&name, budget).await? else {
        return Ok(sources);
    };
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{name}: not valid JSON: {e}"))?;
    let files = parts::candle_files(&name, &json).map_err(|e| e.to_string())?;
    if let parts::CandleFiles::Parts(list) = files {
        sources.retain(|s| parts::base_name(&s.name) != parts::WHOLE);
        sources.extend(list.iter().map(|p| Source {
            name: format!("{base}{}", p.name),
            url: Some(format!("{base}{}", p.name)),
            optional: false,
        }));
    }
    Ok(sources)
}

/// Opens the dataset folder of the URL box.
fn load_url(lab: Lab) {
    let label = folder_text(lab);
    let base = folder_url(lab);
    begin_load(lab, format!("fetching {label}…"));
    spawn_local(async move {
        let mut budget = DataBudget::default();
        let sources = match dataset_sources(&base, &mut budget).await {
            Ok(s) => s,
            Err(e) => return fail_load(lab, e),
        };
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
        let mut files = RawFiles::default();
        for s in sources {
            let url = s.url.clone().unwrap_or_default();
            match fetch_bytes(&url, &mut budget).await {
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
    // A result bundle (the CLI's --out-dir, or its files): shown as computed, no dataset.
    if names.iter().any(|n| n == "results.json") {
        begin_load(lab, format!("reading {} files…", files.len()));
        spawn_local(async move {
            let mut map = std::collections::BTreeMap::new();
            let mut budget = DataBudget::default();
            for f in &files {
                let name = f.name();
                if !matches!(
                    name.as_str(),
                    "results.json" | "lab.json" | "trades.parquet" | "grid.parquet"
                ) {
                    continue;
                }
                match file_bytes(f, &mut budget).await {
                    Ok(b) => {
                        map.insert(name, b);
                    }
                    Err(e) => return fail_load(lab, e),
                }
            }
            lab.loading.set(false);
            lab.load_status.set(format!(
                "opened a result bundle from your files ({})",
                map.len()
            ));
            lab.bundle_files.set(Some(Arc::new(map)));
        });
        return;
    }
    begin_load(lab, format!("reading {} files…", files.len()));
    if !names.iter().any(|n| n.ends_with("calls.parquet"))
        || !names.iter().any(|n| {
            let base = parts::base_name(n);
            base == parts::WHOLE || parts::part_number(base).is_some()
        })
    {
        return fail_load(
            lab,
            format!(
                "give calls.parquet and candles.parquet or its parts (or every file of an exported folder); got {}",
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
        let mut budget = DataBudget::default();
        for f in &files {
            match file_bytes(f, &mut budget).await {
                Ok(b) => {
                    raw.add(&f.name(), b);
                }
                Err(e) => return fail_load(lab, e),
            }
        }
        decode_on_pool(lab, label, raw);
    });
}
