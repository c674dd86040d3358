//! The lab's one-worker mode, for pages served without cross-origin isolation: the engine's
//! shared memory cannot reach a pool of Web Workers there, so one dedicated worker
//! (`www/solo-worker.js`) runs its own instance of the module, reads and decodes the data and
//! runs the grid. Page and worker speak the typed messages of `quantbot_lab_model::messages`.

use std::cell::RefCell;
use std::rc::Rc;

use quantbot_format::dataset::LoadOptions;
use quantbot_lab_model::messages::{FromWorker, Source, ToWorker};
use quantbot_lab_model::run::DataBudget;
use quantbot_lab_model::share::ShareLink;
use wasm_bindgen::prelude::*;

use crate::io::{fetch_bytes, file_bytes};
use crate::job::{decode, run, Loaded, Progress, RawFiles};

thread_local! {
    /// In the worker: the loaded dataset.
    static DATA: RefCell<Option<Rc<Loaded>>> = const { RefCell::new(None) };
    /// On the page: the one worker.
    static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
    /// On the page: messages held until the worker's engine is loaded (its `ready`), in order.
    static HELD: RefCell<Option<Vec<js_sys::Object>>> = const { RefCell::new(None) };
}

/// In the worker: answers one message of the page (every message but `init`, which the glue
/// handles), always with a [`FromWorker`] as JSON text.
#[wasm_bindgen]
pub async fn solo_handle(msg: String, files: js_sys::Array) -> String {
    let reply = match ToWorker::decode(&msg) {
        Ok(ToWorker::Load {
            label,
            sources,
            interval_s,
        }) => load(label, sources, files, interval_s).await,
        Ok(ToWorker::Run { query }) => run_query(&query),
        Ok(ToWorker::Init { .. }) => Err("the engine is already loaded".into()),
        Err(e) => Err(e),
    };
    reply
        .unwrap_or_else(|message| FromWorker::Error { message })
        .encode()
}

async fn load(
    label: String,
    sources: Vec<Source>,
    files: js_sys::Array,
    interval_s: i64,
) -> Result<FromWorker, String> {
    DATA.with(|d| d.borrow_mut().take());
    let mut raw = RawFiles::default();
    let mut next_file = files.iter();
    let mut budget = DataBudget::default();
    for s in sources {
        let bytes = match &s.url {
            Some(url) => fetch_bytes(url, &mut budget).await?,
            None => {
                let f = next_file
                    .next()
                    .ok_or_else(|| format!("{}: the file did not reach the worker", s.name))?;
                Some(file_bytes(&f.unchecked_into::<web_sys::File>(), &mut budget).await?)
            }
        };
        match bytes {
            Some(b) => {
                raw.add(&s.name, b);
            }
            None if s.optional => {}
            None => {
                return Err(format!(
                    "{}: not found (is {label} a dataset folder?)",
                    s.name
                ))
            }
        }
    }
    let fallback = LoadOptions {
        interval_s,
        horizon_hours: 48.0,
        min_coverage: 0.8,
    };
    let loaded = decode(label, raw, fallback)?;
    let reply = FromWorker::loaded(&loaded.label, &loaded.ds, loaded.manifest.as_ref());
    DATA.with(|d| *d.borrow_mut() = Some(Rc::new(loaded)));
    Ok(reply)
}

/// Runs the grid of a share link's query on the loaded data (rayon runs on this worker's own
/// thread here).
fn run_query(query: &str) -> Result<FromWorker, String> {
    // Taken out of the cell first: the cell is never borrowed across a run.
    let data = DATA
        .with(|d| d.borrow().clone())
        .ok_or("no data is loaded")?;
    let options = ShareLink::parse(query)
        .form
        .options(data.ds.horizon_hours, data.ds.interval_s)
        .map_err(|errs| {
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let out = run(&data, options, &Progress::default())?.ok_or("cancelled")?;
    Ok(FromWorker::done(out.json, &out.result, &out.equity))
}

/// On the page: starts the one worker (a module worker running `solo-worker.js`), hands it the
/// URLs of this page's engine (from the page's preload links), and sends each of its answers
/// to `on_message`.
pub fn start(on_message: impl Fn(FromWorker) + 'static) -> Result<(), String> {
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
        // The first answer is to `init`: `ready`, or the error that the engine did not load
        // (then the held messages get that error from the worker too).
        release_held();
        on_message(FromWorker::decode(
            &e.data().as_string().unwrap_or_default(),
        ))
    });
    worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    WORKER.with(|w| *w.borrow_mut() = Some(worker));
    HELD.with(|h| *h.borrow_mut() = Some(Vec::new()));
    send(&envelope(&ToWorker::Init { module, wasm }, None))
}

fn envelope(msg: &ToWorker, files: Option<js_sys::Array>) -> js_sys::Object {
    let envelope = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&envelope, &"msg".into(), &msg.encode().into());
    if let Some(f) = files {
        let _ = js_sys::Reflect::set(&envelope, &"files".into(), &f);
    }
    envelope
}

fn send(envelope: &js_sys::Object) -> Result<(), String> {
    WORKER.with(|w| match w.borrow().as_ref() {
        Some(w) => w
            .post_message(envelope)
            .map_err(|e| format!("the worker did not take the message: {e:?}")),
        None => Err("the worker is not running".into()),
    })
}

/// The worker answered `init`: the held messages go, in the order they were posted (a no-op
/// afterwards).
fn release_held() {
    for envelope in HELD.with(|h| h.borrow_mut().take()).unwrap_or_default() {
        // The worker is running (it just answered), so it takes them.
        let _ = send(&envelope);
    }
}

/// On the page: sends a message, with the user's files for a load of local files. Until the
/// worker has answered `init` (its engine loaded), the message is held on the page and sent
/// after: a load never reaches the worker before its engine, whatever the glue does with
/// messages that come early.
pub fn post(msg: &ToWorker, files: Option<js_sys::Array>) -> Result<(), String> {
    let envelope = envelope(msg, files);
    let held = HELD.with(|h| match h.borrow_mut().as_mut() {
        Some(held) => {
            held.push(envelope.clone());
            true
        }
        None => false,
    });
    if held {
        return Ok(());
    }
    send(&envelope)
}

/// On the page: stops the worker (it cannot hear a message while it computes).
pub fn stop() {
    WORKER.with(|w| {
        if let Some(w) = w.borrow_mut().take() {
            w.terminate();
        }
    });
    HELD.with(|h| h.borrow_mut().take());
}
