// Makes the lab cross-origin isolated on hosts that cannot send the COOP/COEP headers
// (GitHub Pages): registers the vendored coi-serviceworker (`coi-serviceworker.js`, npm, MIT;
// see vendor/coi-serviceworker/README.md), which adds those headers to every response of this
// folder, and reloads the page once to come under it. Nothing happens where the headers
// arrive already (`_headers`, `cargo xtask lab`), where service workers are unavailable (a
// plain-http host, a browser that has them off), or once the page is under the worker.
// A tab reloads for it at most once (sessionStorage): a page the worker cannot make isolated,
// or a hard reload that bypasses it, would otherwise reload forever, the known failure of such
// workers. Then the lab runs on one worker, and says so.
(() => {
  if (window.crossOriginIsolated !== false) return;
  const sw = navigator.serviceWorker;
  if (!window.isSecureContext || !sw || typeof sw.register !== 'function' || sw.controller) return;
  const key = 'quantbot-coi-reloaded';
  const reloadOnce = () => {
    if (sessionStorage.getItem(key)) return;
    sessionStorage.setItem(key, '1');
    window.location.reload();
  };
  sw.addEventListener('controllerchange', reloadOnce);
  Promise.resolve(sw.register(new URL('coi-serviceworker.js', document.currentScript.src).href))
    .then((reg) => {
      // Registered on an earlier visit, but this load did not go through it (a hard reload).
      if (reg && reg.active && !sw.controller) reloadOnce();
    })
    .catch(() => {});
})();
