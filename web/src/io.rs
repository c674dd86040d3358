//! Bytes into the page: `fetch` of a dataset URL and the user's files (file picker or drag and
//! drop). Errors name the URL or file.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

fn js_text(e: wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Fetches a URL, on the page or in a worker; `Ok(None)` when the server answers 404.
pub async fn fetch_bytes(url: &str) -> Result<Option<Vec<u8>>, String> {
    let global = js_sys::global();
    let request = if let Some(w) = global.dyn_ref::<web_sys::Window>() {
        w.fetch_with_str(url)
    } else if let Some(w) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        w.fetch_with_str(url)
    } else {
        return Err(format!("{url}: nothing here can fetch"));
    };
    let resp = JsFuture::from(request)
        .await
        .map_err(|e| format!("{url}: {}", js_text(e)))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("{url}: no response"))?;
    if resp.status() == 404 {
        return Ok(None);
    }
    if !resp.ok() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(js_text)?)
        .await
        .map_err(|e| format!("{url}: {}", js_text(e)))?;
    Ok(Some(Uint8Array::new(&buf).to_vec()))
}

/// Reads a file the user picked or dropped.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buf = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{}: {}", file.name(), js_text(e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// Milliseconds since the page started.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Bytes of the module's (shared) linear memory.
pub fn wasm_memory_bytes() -> f64 {
    let mem = wasm_bindgen::memory();
    js_sys::Reflect::get(&mem, &"buffer".into())
        .and_then(|b| js_sys::Reflect::get(&b, &"byteLength".into()))
        .ok()
        .and_then(|n| n.as_f64())
        .unwrap_or(0.0)
}

/// Sets `window[name] = value` (what the end-to-end test and scripts read).
pub fn publish(name: &str, value: &str) {
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &name.into(), &value.into());
    }
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
