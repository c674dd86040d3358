// The lab's one worker when the page is not cross-origin isolated (web/src/solo.rs): its own
// instance of the engine. Messages are the JSON text of quantbot_lab_model::messages; this glue
// reads only `init` and writes only `ready` and `error`, and hands every other message to the
// engine, which reads URLs and files itself.
let engine = null;
let queue = Promise.resolve();

const error = (err) => JSON.stringify({ kind: 'error', message: String((err && err.message) || err) });

async function handle({ msg, files }) {
  try {
    const m = JSON.parse(msg);
    if (m.kind === 'init') {
      const module = await import(m.module);
      await module.default({ module_or_path: m.wasm });
      engine = module;
      return JSON.stringify({ kind: 'ready' });
    }
    if (!engine) return error('the engine is not loaded');
    return await engine.solo_handle(msg, files || []);
  } catch (err) {
    return error(err);
  }
}

// One message at a time, in the order sent: a load that arrives while the engine is still
// loading waits for it.
self.onmessage = (e) => {
  queue = queue.then(() => handle(e.data)).then((reply) => self.postMessage(reply));
};
