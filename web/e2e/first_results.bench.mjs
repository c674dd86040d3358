// Benchmark (issue 19, acceptance 6): the time to first results in the lab for a published
// result bundle against the full dataset, in Debian's headless Chromium, with the site that
// `quantbot publish` wrote served locally with its own `_headers` (cross-origin isolated, no
// service worker). Each measurement is a fresh browser context with the cache disabled, once
// throttled by Chromium's network emulation (20 Mbit/s down and up, 20 ms latency) and once at
// local speed:
//   bundle:       `lab/?bundle=../runs/NAME/` for every run in the site's runs/, from
//                 `page.goto` to the first row of the bundle's per-caller table;
//   full dataset: `lab/?data=data/demo/&holdout-fraction=0&run=1` (the lab's demo in parts,
//                 the default grid run once it is loaded), from `page.goto` to
//                 `window.quantbotLoaded` (loaded) and to `window.quantbotResults` (results).
// Bytes are what the browser received, headers included (CDP's `encodedDataLength`, see
// `instrument`). It prints figures and asserts none.
//
// Usage: node web/e2e/first_results.bench.mjs SITE [ROUNDS]
//   SITE: a published site, e.g. target/e2e-site after `cargo xtask test-lab`; ROUNDS: how many
//   times to take every measurement (default 1).
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [site, roundsArg = '1', which = 'both'] = process.argv.slice(2);
const rounds = Number(roundsArg);
if (!site || !fs.existsSync(path.join(site, 'lab/index.html')) || !fs.existsSync(path.join(site, '_headers'))
    || !(Number.isInteger(rounds) && rounds > 0) || !['both', 'local'].includes(which)) {
  console.error('usage: node first_results.bench.mjs SITE [ROUNDS] [both|local] (SITE: a folder `quantbot publish` wrote, with lab/ and _headers; local: without the 20 Mbit/s runs)');
  process.exit(2);
}
const bundles = fs.existsSync(path.join(site, 'runs')) ? fs.readdirSync(path.join(site, 'runs')).sort() : [];
if (!bundles.length || !fs.existsSync(path.join(site, 'lab/data/demo/manifest.json'))) {
  console.error(`first_results.bench.mjs: ${site} has no runs/ bundle or no lab/data/demo/ dataset`);
  process.exit(2);
}

const MBIT = 20;
const THROTTLE = { offline: false, latency: 20, downloadThroughput: MBIT * 1e6 / 8, uploadThroughput: MBIT * 1e6 / 8 };
const LONG = 20 * 60 * 1000;

const server = await serve(site, 0, { headersFile: path.join(site, '_headers') });
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

/** Network conditions and byte counting on the page's CDP session (it sees the workers'
 * fetches too, and throttles them). A request's bytes are its `Network.loadingFinished`
 * `encodedDataLength`. Chromium reports most dataset parts, whose bodies the lab reads to
 * their end, as `loadingFailed` (net::ERR_ABORTED) with no total, so such a request counts
 * its headers and the `encodedDataLength` of its `Network.dataReceived` events (a few KB
 * short of the file at most). */
async function instrument(session, throttled, count) {
  const partial = new Map();
  const add = (id, n) => partial.set(id, (partial.get(id) ?? 0) + n);
  session.on('Network.responseReceived', e => add(e.requestId, e.response.encodedDataLength ?? 0));
  session.on('Network.dataReceived', e => add(e.requestId, e.encodedDataLength));
  session.on('Network.loadingFinished', e => { count.bytes += e.encodedDataLength; count.requests++; partial.delete(e.requestId); });
  session.on('Network.loadingFailed', e => { count.bytes += partial.get(e.requestId) ?? 0; count.requests++; partial.delete(e.requestId); });
  await session.send('Network.enable');
  await session.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (throttled) await session.send('Network.emulateNetworkConditions', THROTTLE);
}

/** A fresh context and page, throttled or not, counting the bytes it receives. */
async function open(throttled) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const count = { bytes: 0, requests: 0 };
  const cdp = await context.newCDPSession(page);
  await instrument(cdp, throttled, count);
  page.on('pageerror', e => console.log(`  [pageerror] ${e.message}`));
  return { context, page, count };
}

const s = ms => `${(ms / 1000).toFixed(1)} s`;
const mb = n => `${(n / 1e6).toFixed(1)} MB`;
const label = throttled => (throttled ? `${MBIT} Mbit/s` : 'local');

async function benchBundle(bundle, throttled) {
  const { context, page, count } = await open(throttled);
  const t0 = Date.now();
  await page.goto(`${base}lab/?bundle=../runs/${bundle}/`, { timeout: LONG });
  await page.waitForSelector('#bundle-table tbody tr, #bundle-error', { timeout: LONG });
  const t = Date.now() - t0;
  const error = await (await page.$('#bundle-error'))?.textContent();
  if (error) throw new Error(`bundle: ${error}`);
  console.log(`bundle ${bundle}, ${label(throttled)}: first results ${s(t)}, ${mb(count.bytes)} transferred (${count.requests} requests)`);
  await context.close();
  return { t, bytes: count.bytes };
}

async function benchFull(throttled) {
  const { context, page, count } = await open(throttled);
  const t0 = Date.now();
  await page.goto(`${base}lab/?data=data/demo/&holdout-fraction=0&run=1`, { timeout: LONG });
  await page.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error')?.textContent,
    null, { timeout: LONG, polling: 50 });
  const loaded = Date.now() - t0;
  const loadError = await page.textContent('#load-error');
  if (loadError) throw new Error(`full dataset: ${loadError}`);
  const loadedBytes = count.bytes;
  await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error')?.textContent,
    null, { timeout: LONG, polling: 50 });
  const t = Date.now() - t0;
  const runError = await page.textContent('#run-error');
  if (runError) throw new Error(`full dataset: ${runError}`);
  console.log(`full dataset, ${label(throttled)}: loaded ${s(loaded)}, first results ${s(t)}, ${mb(count.bytes)} transferred `
    + `(${count.requests} requests; ${(loadedBytes * 8 / 1e6 / (loaded / 1000)).toFixed(1)} Mbit/s on average until loaded)`);
  await context.close();
  return { loaded, t, bytes: count.bytes };
}

console.log(`first results on ${site} (bundles ${bundles.map(b => `runs/${b}/`).join(', ')}; dataset lab/data/demo/), ${rounds} round(s)`);
try {
  for (let r = 0; r < rounds; r++) {
    for (const throttled of which === 'local' ? [false] : [true, false]) {
      for (const bundle of bundles) await benchBundle(bundle, throttled);
      await benchFull(throttled);
    }
  }
} finally {
  await browser.close();
  server.close();
}
