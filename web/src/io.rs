//! Bytes into the page: `fetch` of a dataset URL and the user's files (file picker or drag and
//! drop), each counted against the dataset size limit before and while it is read. Errors name
//! the URL or file.

use js_sys::Uint8Array;
use quantbot_lab_model::origin::Resolved;
use quantbot_lab_model::run::DataBudget;
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

/// The origin of the page or worker this runs in (`self.origin`).
pub fn own_origin() -> String {
    js_sys::Reflect::get(&js_sys::global(), &"origin".into())
        .ok()
        .and_then(|o| o.as_string())
        .unwrap_or_else(|| "null".into())
}

/// `url` as the platform's URL parser (the one `fetch` uses) reads it against `base`; `None`
/// when it is not a URL.
pub fn resolve(url: &str, base: &str) -> Option<Resolved> {
    let u = web_sys::Url::new_with_base(url, base).ok()?;
    Some(Resolved {
        href: u.href(),
        protocol: u.protocol(),
        origin: u.origin(),
    })
}

/// Fetches a URL, on the page or in a worker; `Ok(None)` when the server answers 404. A URL
/// of this page's origin is fetched in `same-origin` mode (a redirect elsewhere fails); any
/// other only in CORS mode and without credentials (the page asked the user first, see
/// `quantbot_lab_model::origin`). The body is refused by its `Content-Length` before any byte
/// is read, or as soon as the bytes read pass `budget`'s limit, and is read chunk by chunk
/// into wasm memory, never copied whole first.
pub async fn fetch_bytes(url: &str, budget: &mut DataBudget) -> Result<Option<Vec<u8>>, String> {
    let init = web_sys::RequestInit::new();
    let here = js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| js_sys::Reflect::get(&l, &"href".into()))
        .ok()
        .and_then(|h| h.as_string())
        .unwrap_or_default();
    let same = resolve(url, &here).is_some_and(|r| r.origin == own_origin());
    if same {
        init.set_mode(web_sys::RequestMode::SameOrigin);
    } else {
        init.set_mode(web_sys::RequestMode::Cors);
        init.set_credentials(web_sys::RequestCredentials::Omit);
    }
    let global = js_sys::global();
    let request = if let Some(w) = global.dyn_ref::<web_sys::Window>() {
        w.fetch_with_str_and_init(url, &init)
    } else if let Some(w) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        w.fetch_with_str_and_init(url, &init)
    } else {
        return Err(format!("{url}: nothing here can fetch"));
    };
    let resp = JsFuture::from(request)
        .await
        .map_err(|e| format!("{url}: {}", js_text(e)))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("{url}: no response"))?;
    let drop_body = |resp: &web_sys::Response| {
        if let Some(b) = resp.body() {
            let _ = b.cancel();
        }
    };
    if resp.status() == 404 {
        drop_body(&resp);
        return Ok(None);
    }
    if !resp.ok() {
        drop_body(&resp);
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let length = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = length {
        if let Err(e) = budget.admit(url, n) {
            drop_body(&resp);
            return Err(e);
        }
    }
    let Some(body) = resp.body() else {
        return Ok(Some(Vec::new()));
    };
    let reader = web_sys::ReadableStreamDefaultReader::new(&body)
        .map_err(|e| format!("{url}: {}", js_text(e)))?;
    // Admitted above, so at most the limit (a compressed body may still decode to more).
    let mut out = Vec::with_capacity(length.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("{url}: {}", js_text(e)))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or_else(|| format!("{url}: the body is not bytes"))?;
        let n = value.length() as usize;
        if let Err(e) = budget.take(url, out.len() as u64, n as u64) {
            let _ = reader.cancel();
            return Err(e);
        }
        let start = out.len();
        out.resize(start + n, 0);
        value.copy_to(&mut out[start..]);
    }
    Ok(Some(out))
}

/// Reads a file the user picked or dropped, if its size leaves the dataset within `budget`.
pub async fn file_bytes(file: &web_sys::File, budget: &mut DataBudget) -> Result<Vec<u8>, String> {
    let name = file.name();
    budget.admit(&name, file.size() as u64)?;
    let buf = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{name}: {}", js_text(e)))?;
    let bytes = Uint8Array::new(&buf);
    budget.take(&name, 0, bytes.length() as u64)?;
    Ok(bytes.to_vec())
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

/// Saves `text` as a file named `name` (a click on a temporary link to a Blob of it).
pub fn download(name: &str, mime: &str, text: &str) {
    download_part(name, mime, &text.into());
}

/// Saves `bytes` as a file named `name`.
pub fn download_bytes(name: &str, bytes: &[u8]) {
    download_part(
        name,
        "application/octet-stream",
        &js_sys::Uint8Array::from(bytes).into(),
    );
}

fn download_part(name: &str, mime: &str, part: &wasm_bindgen::JsValue) {
    let parts = js_sys::Array::of1(part);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Some(url) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)
        .ok()
        .and_then(|b| web_sys::Url::create_object_url_with_blob(&b).ok())
    else {
        return;
    };
    let doc = web_sys::window().and_then(|w| w.document());
    if let Some(a) = doc
        .and_then(|d| d.create_element("a").ok())
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Bytes `range` of a file of this page's origin, by an HTTP range request (a published
/// dataset's candle file, of which the lab needs one token's pages). A server that answers
/// with the whole file instead (200) is refused: the lab never downloads a candle file whole
/// to show one trade.
pub async fn fetch_range(url: &str, range: std::ops::Range<u64>) -> Result<Vec<u8>, String> {
    if range.is_empty() {
        return Ok(Vec::new());
    }
    let init = web_sys::RequestInit::new();
    init.set_mode(web_sys::RequestMode::SameOrigin);
    let headers = web_sys::Headers::new().map_err(js_text)?;
    headers
        .set("Range", &format!("bytes={}-{}", range.start, range.end - 1))
        .map_err(js_text)?;
    init.set_headers(&headers);
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| format!("{url}: {}", js_text(e)))?
        .dyn_into()
        .map_err(js_text)?;
    if resp.status() != 206 {
        return Err(format!(
            "{url}: the server answered {} to a range request (the lab reads one trade's candles by byte ranges; serve the site from a host that supports them)",
            resp.status()
        ));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(js_text)?)
        .await
        .map_err(js_text)?;
    let bytes = Uint8Array::new(&buf).to_vec();
    if bytes.len() as u64 != range.end - range.start {
        return Err(format!(
            "{url}: asked for {} bytes at {}, got {}",
            range.end - range.start,
            range.start,
            bytes.len()
        ));
    }
    Ok(bytes)
}
