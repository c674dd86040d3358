// The lab's one worker when the page is not cross-origin isolated (see web/src/solo.rs): its
// own instance of the engine, fed by messages. It fetches URLs and reads files itself, so the
// page never holds the data.
let engine;

async function bytesOf(item) {
  if (item.url) {
    const r = await fetch(item.url);
    if (r.status === 404 && item.optional) return null;
    if (!r.ok) throw new Error(`${item.url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }
  return new Uint8Array(await item.file.arrayBuffer());
}

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    if (msg.init) {
      engine = await import(msg.init.module);
      await engine.default({ module_or_path: msg.init.wasm });
      self.postMessage({ ready: true });
    } else if (msg.load) {
      const names = [], bufs = [];
      for (const item of msg.load.items) {
        const b = await bytesOf(item);
        if (b) { names.push(item.name); bufs.push(b); }
      }
      self.postMessage({ loaded: engine.solo_load(msg.load.label, names, bufs, msg.load.interval) });
    } else if (msg.run) {
      self.postMessage({ done: engine.solo_run(msg.run.query) });
    }
  } catch (err) {
    self.postMessage({ error: String((err && err.message) || err) });
  }
};
