// The lab's guards in Debian's headless Chromium (issue 20, acceptance 4; Playwright drives
// /usr/bin/chromium, no browser is downloaded): share links that carry HTML and script in every
// field run no script, open no dialog, contact no other origin and show their text escaped,
// under the page's Content-Security-Policy; a link to another origin's dataset waits for the
// user's click before any request; a grid or a dataset too large for the page is refused, through
// a link too, with the message the Run button shows; and a tiny dataset opened by a link reaches
// results both on the worker pool and on the one worker (the start-up races: the data must not
// reach the pool before it exists, nor the one worker before its engine).
//
// Usage: node security.test.mjs DIST TINY_DATASET_DIR
// (SECURITY_ONLY=REGEX runs only the checks whose names match, when working on one of them.)
// It puts two folders into DIST for the time it runs: e2e-tiny/ (the tiny dataset) and
// e2e-big/ (the tiny dataset with a sparse 3 GiB candles.parquet), and removes them at the end.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [dist, tiny] = process.argv.slice(2);
for (const [what, p] of [['DIST', dist], ['TINY_DATASET_DIR', tiny]]) {
  if (!p || !fs.existsSync(p)) { console.error(`security.test.mjs: ${what} ${p} does not exist`); process.exit(2); }
}
const FILES = ['manifest.json', 'calls.parquet', 'excluded.parquet', 'candles.parquet'];
const BIG = 3 * 2 ** 30;
const tinyDir = path.join(dist, 'e2e-tiny');
const bigDir = path.join(dist, 'e2e-big');
for (const d of [tinyDir, bigDir]) { fs.rmSync(d, { recursive: true, force: true }); fs.mkdirSync(d); }
for (const f of FILES) fs.copyFileSync(path.join(tiny, f), path.join(tinyDir, f));
for (const f of FILES.slice(0, 3)) fs.copyFileSync(path.join(tiny, f), path.join(bigDir, f));
// Sparse: 3 GiB on the server's Content-Length, nothing on the disk.
fs.closeSync(fs.openSync(path.join(bigDir, 'candles.parquet'), 'w'));
fs.truncateSync(path.join(bigDir, 'candles.parquet'), BIG);

let failures = 0;
let passed = 0;
const only = process.env.SECURITY_ONLY ? new RegExp(process.env.SECURITY_ONLY) : null;
async function check(name, f) {
  if (only && !only.test(name)) return;
  try { await f(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failures++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

const isolated = await serve(dist);
const plain = await serve(dist, 0, { isolation: false });
const BASES = {
  pool: `http://127.0.0.1:${isolated.address().port}/`,
  'one worker': `http://127.0.0.1:${plain.address().port}/`,
};
const FOREIGN = 'https://data.example.org';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

// A page in a context of its own, recording what a test asserts on: every request (and the
// foreign dataset's, which the context answers from the tiny folder with CORS), dialogs, page
// errors, and Content-Security-Policy violations.
async function open(query, mode = 'pool', { slowWorkers = 0, eagerGlue = false } = {}) {
  const base = BASES[mode];
  // Service workers blocked: the one-worker cases must stay one-worker (see publish.test.mjs).
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, serviceWorkers: 'block' });
  const seen = { requests: [], foreign: [], dialogs: [], errors: [], csp: [] };
  await context.route(`${FOREIGN}/**`, route => {
    const url = new URL(route.request().url());
    seen.foreign.push(url.href);
    const file = path.join(tiny, path.basename(url.pathname));
    if (!FILES.includes(path.basename(url.pathname)) || !fs.existsSync(file)) {
      return route.fulfill({ status: 404, headers: { 'Access-Control-Allow-Origin': '*' }, body: 'not found' });
    }
    return route.fulfill({ status: 200, body: fs.readFileSync(file),
      headers: { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/octet-stream' } });
  });
  if (eagerGlue) {
    // The one worker's glue without its queue: each message handled as it arrives, so a load
    // that came before the engine would find none. The page must not send one that early.
    await context.route('**/solo-worker.js', async route => {
      const glue = fs.readFileSync(path.join(dist, 'solo-worker.js'), 'utf8');
      const queued = 'queue = queue.then(() => handle(e.data)).then((reply) => self.postMessage(reply));';
      if (!glue.includes(queued)) throw new Error('solo-worker.js no longer has the queue this test removes');
      await route.fulfill({ status: 200, contentType: 'text/javascript',
        body: glue.replace(queued, 'handle(e.data).then((reply) => self.postMessage(reply));') });
    });
  }
  const page = await context.newPage();
  page.seen = seen;
  page.on('request', r => seen.requests.push(r.url()));
  page.on('worker', w => seen.requests.push(w.url()));
  page.on('dialog', d => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', e => seen.errors.push(e.message));
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) seen.csp.push(m.text()); });
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  if (slowWorkers) {
    // Workers that are slow to start, as on a loaded machine: every worker's messages from the
    // page (the pool's start, the one worker's engine) arrive `slowWorkers` ms late, in order.
    await page.addInitScript((ms) => {
      const post = Worker.prototype.postMessage;
      const gates = new WeakMap();
      Worker.prototype.postMessage = function (...args) {
        if (!gates.has(this)) gates.set(this, new Promise(r => setTimeout(r, ms)));
        gates.get(this).then(() => post.apply(this, args));
      };
    }, slowWorkers);
  }
  await page.goto(base + query);
  await page.waitForSelector('#run', { timeout: 60000 });
  page.closeAll = () => context.close();
  page.base = base;
  return page;
}

/** Waits for the workers to be ready (the pool started, or the one worker's engine loaded). */
async function workersReady(page) {
  await page.waitForFunction(() => /worker threads? ready/.test(document.querySelector('#pool').textContent),
    null, { timeout: 60000 });
}

/** Waits for results or an error of the load or run; returns which. */
async function settled(page, timeout = 60000) {
  try {
    await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent
      || document.querySelector('#load-error').textContent, null, { timeout });
  } catch (e) {
    const shown = await page.evaluate(() => ['#pool', '#load-status', '#run-size']
      .map(s => `${s}: ${document.querySelector(s)?.textContent}`).join('; '));
    throw new Error(`no results and no error after ${timeout} ms (${shown})`);
  }
  return {
    results: await page.evaluate(() => window.quantbotResults),
    runError: (await page.textContent('#run-error')).trim(),
    loadError: (await page.textContent('#load-error')).trim(),
  };
}

/** Nothing ran, popped up, or left the page's origin; no error; the policy is there. */
async function assertClean(page, what) {
  const s = page.seen;
  assert.deepEqual(s.dialogs, [], `${what}: dialogs opened`);
  assert.deepEqual(s.errors, [], `${what}: page errors`);
  assert.equal(await page.evaluate(() => window.__xss), undefined, `${what}: injected script ran`);
  const origin = new URL(page.base).origin;
  const away = s.requests.filter(u => !u.startsWith(origin + '/') && !u.startsWith(`blob:${origin}/`));
  assert.deepEqual(away, [], `${what}: requests to another origin`);
  assert.deepEqual(s.foreign, [], `${what}: requests to ${FOREIGN}`);
  assert.deepEqual(s.csp, [], `${what}: the policy had to block something`);
  assert.deepEqual(await page.evaluate(() => window.__violations), [], `${what}: policy violations`);
  const csp = await page.evaluate(() =>
    document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? '');
  assert.ok(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), `${what}: policy ${csp}`);
  // No element carries an event handler or came from the link's markup.
  const injected = await page.evaluate(() => [...document.querySelectorAll('*')]
    .filter(e => [...e.attributes].some(a => a.name.startsWith('on')) || e.matches('img[src="x"], svg[onload], iframe, object, embed')
      || (e.tagName === 'SCRIPT' && /xss/.test(e.textContent)))
    .map(e => e.outerHTML.slice(0, 120)));
  assert.deepEqual(injected, [], `${what}: elements from the link's markup`);
}

/** Markup and script for one field (its name inside, to tell which field a leak came from). */
const evil = (field) => `"'><img src=x onerror="window.__xss='${field}';alert('${field}')"><script>window.__xss='${field}';alert('${field}')</script><svg onload=alert(1)>&amp;`;
const q = (params) => '?' + Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** The form's option keys (the link's keys are the flags without their dashes). */
let optionKeys = [];
let engineVersion = '';
await check('the form lists the options a link can carry', async () => {
  const page = await open('?autoload=0');
  optionKeys = await page.$$eval('[data-flag]', els => [...new Set(els.map(e => e.dataset.flag.replace(/^--/, '')))]);
  assert.ok(optionKeys.length >= 20, `only ${optionKeys.length} options: ${optionKeys}`);
  engineVersion = new URLSearchParams((await page.inputValue('#share-text')).split('?')[1]).get('v');
  assert.match(engineVersion, /^[0-9.]+/);
  await page.closeAll();
});

await check('a link with HTML and script in every field runs nothing, calls nobody and shows the text escaped', async () => {
  assert.ok(optionKeys.length >= 20, 'the option keys were not read');
  // First every field but the data: the dataset loads, the engine version and the hash give a
  // warning, and the form's problems stop the link's run with the Run button's message.
  for (const [variant, extra] of [
    ['version', { v: evil('v'), sha: evil('sha') }],
    ['hash', { v: engineVersion, sha: evil('sha') }],
  ]) {
    const params = { data: 'e2e-tiny/', ...extra };
    for (const k of optionKeys) params[k] = evil(k);
    Object.assign(params, { caller: evil('caller'), policy: evil('policy'), run: '1' });
    const page = await open(q(params));
    const r = await settled(page);
    assert.equal(r.results, undefined, `${variant}: a run started`);
    assert.equal(r.loadError, '', `${variant}: the tiny dataset did not load`);
    assert.equal(r.runError, 'fix the fields marked above to run', `${variant}: ${r.runError}`);
    assert.equal(await page.isDisabled('#run'), true);
    // The text fields hold the link's text as values; the problems and the warning show it as text.
    for (const k of optionKeys) {
      const v = await page.$eval(`input[type=text][data-flag="--${k}"]`, e => e.value).catch(() => null);
      if (v !== null) assert.equal(v, evil(k), `--${k}'s box`);
    }
    const warning = await page.$eval('#sha-warning', e => ({ text: e.textContent, html: e.innerHTML }));
    const shown = variant === 'version' ? evil('v') : evil('sha').slice(0, 12);
    assert.ok(warning.text.includes(shown), `${variant}: the warning shows ${shown}: ${warning.text}`);
    assert.ok(warning.html.includes(shown.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')),
      `${variant}: the warning escaped: ${warning.html}`);
    const problems = await page.$$eval('span.problem', els => els.map(e => ({ text: e.textContent, html: e.innerHTML })));
    const quoting = problems.filter(p => p.text.includes('<script>'));
    assert.ok(quoting.length > 0, `${variant}: some problem quotes the link's text`);
    for (const p of quoting) assert.ok(p.html.includes('&lt;script&gt;'), `${variant}: problem not escaped: ${p.html}`);
    const body = await page.evaluate(() => document.body.innerHTML);
    assert.ok(!body.includes('<script>window.__xss') && !body.includes('<img src=x') && !body.includes('<svg onload'),
      `${variant}: raw markup in the page`);
    await page.waitForTimeout(500);
    await assertClean(page, variant);
    await page.closeAll();
  }
  // Then the data itself: a relative folder named by markup is looked for on the page's own
  // origin, and the error names it as text.
  const page = await open(q({ data: evil('data'), run: '1' }));
  const r = await settled(page);
  assert.equal(r.results, undefined);
  const err = await page.$eval('#load-error', e => ({ text: e.textContent, html: e.innerHTML }));
  assert.ok(err.text.includes('<script>window.__xss'), `the error names the folder: ${err.text}`);
  assert.ok(err.html.includes('&lt;script&gt;window.__xss'), `the error escaped: ${err.html}`);
  assert.equal(await page.inputValue('#data-url'), evil('data'));
  await assertClean(page, 'data');
  // The watch itself can fail: the same markup put into the page as HTML is caught.
  await page.evaluate((html) => document.body.insertAdjacentHTML('beforeend', html), evil('control'));
  await page.waitForTimeout(300);
  await assert.rejects(assertClean(page, 'control'), /policy|markup|script ran|dialogs/);
  await page.closeAll();
  // A bundle named by markup: shown as text, looked for on the page's own origin, nothing run;
  // a bundle on another origin is not requested at all.
  const b = await open(q({ bundle: evil('bundle'), data: 'e2e-tiny/', trade: evil('trade'), tab: evil('tab') }));
  await b.waitForSelector('#bundle-error', { timeout: 30000 });
  const be = await b.$eval('#bundle', e => ({ text: e.textContent, html: e.innerHTML }));
  assert.ok(be.text.includes('<script>window.__xss'), `the bundle is named as text: ${be.text}`);
  assert.ok(!be.html.includes('<script>window.__xss'), `the bundle's name escaped: ${be.html}`);
  assert.equal(await b.evaluate(() => window.quantbotLoaded), undefined, 'a bundle link loads no dataset by itself');
  await b.waitForTimeout(300);
  await assertClean(b, 'bundle');
  await b.closeAll();
  const far = await open(q({ bundle: `${FOREIGN}/runs/x/` }));
  await far.waitForSelector('#bundle-error', { timeout: 30000 });
  assert.match(await far.textContent('#bundle-error'), /on another origin/);
  assert.deepEqual(far.seen.foreign, [], 'another origin was contacted');
  await far.closeAll();
});

for (const mode of ['pool', 'one worker']) {
  await check(`${mode}: a link to another origin's dataset waits for the user's click, then loads and runs`, async () => {
    const url = `${FOREIGN}/team/"><script>window.__xss=1</script>/`;
    const page = await open(q({ data: url, run: '1' }), mode);
    await workersReady(page);
    await page.waitForSelector('#data-confirm', { timeout: 10000 });
    await page.waitForTimeout(1500);
    const box = await page.$eval('#data-confirm', e => ({ text: e.textContent, html: e.innerHTML }));
    assert.ok(box.text.includes(`another site, ${FOREIGN} (${FOREIGN}/team/`), box.text);
    assert.ok(box.text.includes('run the link'), box.text);
    assert.ok(!box.html.includes('<script>'), box.html);
    assert.equal(await page.textContent('#load-status'), '', 'nothing is loading');
    assert.equal(await page.evaluate(() => window.quantbotLoaded), undefined);
    await assertClean(page, 'before the click');
    // The click is the user's consent: the folder is requested, loaded, and the link's grid run.
    await page.closeAll();
    const safe = `${FOREIGN}/tiny/`;
    const again = await open(q({ data: safe, run: '1' }), mode);
    await workersReady(again);
    await again.waitForSelector('#data-confirm');
    await again.waitForTimeout(1000);
    assert.deepEqual(again.seen.foreign, [], 'requested before the click');
    await again.click('#data-confirm-open');
    const r = await settled(again);
    assert.equal(r.loadError, '');
    assert.equal(r.runError, '');
    assert.ok(JSON.parse(r.results).per_caller.length > 0);
    assert.ok(again.seen.foreign.some(u => u.endsWith('/tiny/candles.parquet')), again.seen.foreign.join(' '));
    assert.equal(await again.$('#data-confirm'), null, 'the question is gone');
    await again.closeAll();
  });
}

// The tiny dataset through a link, on both backends: the start-up races (issue 20). The data
// must wait for the workers: on the pool, a small dataset could reach `rayon::spawn` before the
// pool exists (and hang on "decoding…"); the one worker must not be sent a load before its
// engine is loaded. So each backend also opens it with workers that take 2 s longer to start
// than the data takes to arrive, and the one worker once more with a glue that does not queue.
const tinyResults = {};
for (const mode of ['pool', 'one worker']) {
  const runs = [{}, { slowWorkers: 2000 }, {}, { slowWorkers: 2000 }];
  if (mode === 'one worker') runs.push({ slowWorkers: 2000, eagerGlue: true });
  await check(`${mode}: a tiny dataset opened by a link reaches results, also when the workers start late`, async () => {
    for (const how of runs) {
      const t0 = Date.now();
      const page = await open('?data=e2e-tiny/&run=1', mode, how);
      const said = `workers ${how.slowWorkers ?? 0} ms late${how.eagerGlue ? ', a glue without its queue' : ''}`;
      const r = await settled(page, 30000);
      assert.equal(r.loadError, '', `load (${said})`);
      assert.equal(r.runError, '', `run (${said})`);
      const res = JSON.parse(r.results);
      assert.ok(res.per_caller.length > 0);
      tinyResults[mode] = JSON.stringify(res.per_caller);
      console.log(`     ${mode}, ${said}: ${res.per_caller.length} callers, results ${((Date.now() - t0) / 1000).toFixed(1)} s after opening`);
      await assertClean(page, `${mode} tiny`);
      await page.closeAll();
    }
  });
}
await check('the tiny dataset gives the same results on both backends', async () => {
  assert.ok(tinyResults.pool && tinyResults['one worker']);
  assert.equal(tinyResults.pool, tinyResults['one worker']);
});

// 200 tp × 100 sl × 10 trailing × 20 time stops = 4,000,000 grid points per caller.
const HUGE = {
  'min-calls': '1',
  'tp-mults': JSON.stringify(Array.from({ length: 200 }, (_, i) => 1.1 + i * 0.05)),
  'sl-mults': JSON.stringify(Array.from({ length: 100 }, (_, i) => 0.3 + i * 0.005)),
  'trail-pcts': JSON.stringify(Array.from({ length: 10 }, (_, i) => 0.05 + i * 0.05)),
  'max-hold-hrs': JSON.stringify(Array.from({ length: 20 }, (_, i) => 2 + i * 2)),
};
for (const mode of ['pool', 'one worker']) {
  await check(`${mode}: a grid too large for the page is refused through a link with the Run button's message`, async () => {
    const page = await open(q({ data: 'e2e-tiny/', ...HUGE, run: '1' }), mode);
    const r = await settled(page);
    assert.equal(r.results, undefined, 'it ran');
    assert.equal(r.loadError, '');
    const size = (await page.textContent('#run-size')).trim();
    assert.match(size, /^4000000 grid points × \d+ callers = \d+ scores to keep: more than this page can hold/);
    assert.equal(r.runError, size, 'the link is refused with the message the Run button shows');
    assert.equal(await page.isDisabled('#run'), true);
    await assertClean(page, 'huge grid');
    await page.closeAll();
  });

  await check(`${mode}: a dataset too large for the page is refused from its size, before it is read (link and file input)`, async () => {
    const page = await open('?data=e2e-big/&run=1', mode);
    const t0 = Date.now();
    const r = await settled(page);
    assert.equal(r.results, undefined);
    assert.match(r.loadError, new RegExp(`^\\S*e2e-big/candles\\.parquet is ${(BIG / 1e6).toFixed(1)} MB \\([0-9.]+ MB with the dataset's other files\\): more than the 1000 MB a dataset may take in this page; export fewer calls or a shorter date range, or use the CLI$`));
    console.log(`     ${mode}: refused in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.loadError}`);
    await assertClean(page, 'big dataset');
    // The same folder's files through the file input: refused from the file's size.
    await page.setInputFiles('#files', FILES.map(f => path.join(bigDir, f)));
    await page.waitForFunction(() => /candles\.parquet is/.test(document.querySelector('#load-error').textContent),
      null, { timeout: 30000 });
    assert.equal((await page.textContent('#load-error')).trim(),
      `candles.parquet is ${(BIG / 1e6).toFixed(1)} MB (${((BIG + fs.statSync(path.join(bigDir, 'calls.parquet')).size
        + fs.statSync(path.join(bigDir, 'manifest.json')).size + fs.statSync(path.join(bigDir, 'excluded.parquet')).size) / 1e6).toFixed(1)} MB ` +
      "with the dataset's other files): more than the 1000 MB a dataset may take in this page; export fewer calls or a shorter date range, or use the CLI");
    await page.closeAll();
  });
}

await browser.close();
isolated.close();
plain.close();
for (const d of [tinyDir, bigDir]) fs.rmSync(d, { recursive: true, force: true });
console.log(`security e2e: ${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
