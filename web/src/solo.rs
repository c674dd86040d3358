//! The lab's one-worker mode, for pages served without cross-origin isolation: the engine's
//! shared memory cannot reach a pool of Web Workers there, so one dedicated worker
//! (`www/solo-worker.js`) runs its own instance of the module, decodes the data and runs the
//! grid, and the page gets the calls and the results through messages, bit for bit
//! (`quantbot_format::transfer`).

use std::cell::RefCell;
use std::rc::Rc;

use quantbot_format::dataset::LoadOptions;
use quantbot_format::lab::Form;
use quantbot_format::transfer::{calls_to_json, result_to_json};
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::job::{decode, run, Loaded, Progress, RawFiles};

thread_local! {
    static DATA: RefCell<Option<Rc<Loaded>>> = const { RefCell::new(None) };
}

/// In the worker: decodes the files (`names[k]` with bytes `bufs[k]`) and keeps them; returns
/// the calls and manifest as JSON for the page.
#[wasm_bindgen]
pub fn solo_load(
    label: String,
    names: js_sys::Array,
    bufs: js_sys::Array,
    interval_s: i32,
) -> Result<String, String> {
    DATA.with(|d| d.borrow_mut().take());
    let mut files = RawFiles::default();
    for (n, b) in names.iter().zip(bufs.iter()) {
        let name = n.as_string().unwrap_or_default();
        files.add(&name, js_sys::Uint8Array::new(&b).to_vec());
    }
    let fallback = LoadOptions {
        interval_s: i64::from(interval_s),
        horizon_hours: 48.0,
        min_coverage: 0.8,
    };
    let loaded = decode(label, files, fallback)?;
    let mut v = calls_to_json(&loaded.ds);
    v["label"] = json!(loaded.label);
    v["manifest"] = json!(loaded.manifest.as_ref().map(|m| m.json.clone()));
    v["manifest_bytes_sha256"] = json!(loaded.manifest.as_ref().map(|m| m.sha256.clone()));
    DATA.with(|d| *d.borrow_mut() = Some(Rc::new(loaded)));
    Ok(v.to_string())
}

/// In the worker: runs the grid of a share-link query on the loaded data (rayon runs on this
/// worker's own thread here); returns the §10.1 JSON and the result for the page's tables.
#[wasm_bindgen]
pub fn solo_run(query: String) -> Result<String, String> {
    // Taken out of the cell first: the cell is never borrowed across a run.
    let data = DATA
        .with(|d| d.borrow().clone())
        .ok_or("no data is loaded")?;
    let options = Form::from_query(&query)
        .options(data.ds.horizon_hours, data.ds.interval_s)
        .map_err(|errs| {
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let out = run(&data, options, &Progress::default())?.ok_or("cancelled")?;
    let equity: Vec<Vec<(i64, u64)>> = out
        .equity
        .iter()
        .map(|c| c.iter().map(|&(t, e)| (t, e.to_bits())).collect())
        .collect();
    Ok(
        json!({"json": out.json, "result": result_to_json(&out.result), "equity": equity})
            .to_string(),
    )
}

/// Starts the one worker (a module worker running `solo-worker.js`) and hands it the URLs of
/// this page's engine (from the page's preload links); every message it posts goes to
/// `on_message`.
pub fn start(on_message: impl Fn(JsValue) + 'static) -> Result<web_sys::Worker, String> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let href = |sel: &str| -> Result<String, String> {
        let el = doc
            .query_selector(sel)
            .ok()
            .flatten()
            .ok_or_else(|| format!("the page has no {sel}"))?;
        Ok(el.unchecked_into::<web_sys::HtmlLinkElement>().href())
    };
    let module = href("link[rel=modulepreload][href*=quantbot-web]")?;
    let wasm = href("link[rel=preload][as=fetch]")?;
    let opts = web_sys::WorkerOptions::new();
    opts.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options("solo-worker.js", &opts)
        .map_err(|e| format!("the worker did not start: {e:?}"))?;
    let handler = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        on_message(e.data())
    });
    worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    let init = js_sys::Object::new();
    let inner = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&inner, &"module".into(), &module.into());
    let _ = js_sys::Reflect::set(&inner, &"wasm".into(), &wasm.into());
    let _ = js_sys::Reflect::set(&init, &"init".into(), &inner);
    worker
        .post_message(&init)
        .map_err(|e| format!("the worker did not start: {e:?}"))?;
    Ok(worker)
}

/// On the page: the loaded data of a `solo_load` answer (calls and counts, no candles).
pub fn loaded_from(text: &str) -> Result<Loaded, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let (ds, candles) =
        quantbot_format::transfer::calls_from_json(&v).map_err(|e| e.to_string())?;
    let manifest = match (&v["manifest"], v["manifest_bytes_sha256"].as_str()) {
        (serde_json::Value::Null, _) | (_, None) => None,
        (json, Some(sha)) => Some(quantbot_format::dataset::ManifestInfo {
            interval_s: ds.interval_s,
            horizon_hours: ds.horizon_hours,
            min_coverage: ds.min_coverage,
            sha256: sha.to_string(),
            json: json.clone(),
        }),
    };
    Ok(Loaded {
        label: v["label"].as_str().unwrap_or_default().to_string(),
        manifest,
        ds,
        candles,
        candle_bytes: v["candle_bytes"].as_u64().unwrap_or(0) as usize,
    })
}

/// On the page: the run of a `solo_run` answer.
pub fn output_from(
    text: &str,
    options: quantbot_format::options::V1Options,
    horizon_hours: f64,
) -> Result<crate::job::RunOutput, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let result =
        quantbot_format::transfer::result_from_json(&v["result"]).map_err(|e| e.to_string())?;
    let grid = options.grid(horizon_hours).map_err(|e| e.to_string())?;
    let equity: Vec<Vec<(i64, u64)>> =
        serde_json::from_value(v["equity"].clone()).map_err(|e| e.to_string())?;
    Ok(crate::job::RunOutput {
        grid,
        options,
        result,
        json: v["json"].as_str().unwrap_or_default().to_string(),
        equity: equity
            .into_iter()
            .map(|c| c.into_iter().map(|(t, e)| (t, f64::from_bits(e))).collect())
            .collect(),
    })
}
