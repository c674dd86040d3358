// End-to-end test of the lab in Debian's headless Chromium (Playwright drives /usr/bin/chromium;
// no browser is downloaded). It serves the built site with COOP/COEP, opens the bundled demo
// dataset, runs a stated grid on the worker pool and compares every per-caller and grouped
// number with the native CLI's `--format json` for the same options; then loads the same
// exported folder through the file input and expects the same results; it also times the
// default grid on the full demo data and watches the page's main thread for freezes.
//
// Usage: node lab.test.mjs DIST DATASET_DIR QUANTBOT_BIN SCREENSHOT_PNG
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [dist, dataset, quantbot, shot] = process.argv.slice(2);
for (const [what, p] of [['DIST', dist], ['DATASET_DIR', dataset], ['QUANTBOT_BIN', quantbot]]) {
  if (!p || !fs.existsSync(p)) { console.error(`lab.test.mjs: ${what} ${p} does not exist`); process.exit(2); }
}

// The stated grid: 3 tp × 2 sl × 2 trailing × 2 time stops × 2 indicator rules = 48 points.
const GRID = {
  '--tp-mults': '[2,3,5]',
  '--sl-mults': '[0.85,0.9]',
  '--trail-pcts': '[null,0.2]',
  '--max-hold-hrs': '[24,48]',
  '--indicators': '[null,"ema_cross:9:21"]',
  '--holdout-fraction': '0.3',
  '--folds': '4',
};
const MODE = 'both';

let failures = 0;
let passed = 0;
async function check(name, f) {
  try { await f(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failures++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

const server = await serve(dist);
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

async function open(query, at = base) {
  // Service workers blocked: the page served without COOP/COEP must stay in one-worker mode
  // here (the fallback that isolates it is publish.test.mjs's subject).
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, serviceWorkers: 'block' });
  page.on('pageerror', e => { failures++; console.log('[pageerror]', e.message); });
  // Anything the page's Content-Security-Policy blocks is a failure (Chromium reports it on
  // the console), except the blocks a test announces in `page.cspExpected`.
  page.cspExpected = 0; page.cspSeen = 0;
  page.on('console', m => {
    if (!/Content Security Policy/i.test(m.text())) return;
    if (page.cspExpected > 0) { page.cspExpected--; page.cspSeen++; return; }
    failures++; console.log('[csp]', m.text());
  });
  // A main-thread watchdog: the longest gap between 10 ms ticks is a freeze of the page.
  await page.addInitScript(() => {
    window.__maxGap = 0; let last = performance.now();
    setInterval(() => { const t = performance.now(); window.__maxGap = Math.max(window.__maxGap, t - last); last = t; }, 10);
  });
  await page.goto(at + query);
  await page.waitForSelector('#run', { timeout: 60000 });
  return page;
}

async function waitLoaded(page) {
  await page.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error').textContent,
    null, { timeout: 900000 });
  const err = await page.textContent('#load-error');
  assert.equal(err, '', `load error: ${err}`);
}

async function setGrid(page, grid) {
  for (const [flag, value] of Object.entries(grid)) await page.fill(`input[data-flag="${flag}"]`, value);
  await page.selectOption('select[data-flag="--mode"]', MODE);
  // Every caller in the grouped wallet, so the grouped numbers are compared too.
  await page.setChecked('input[data-flag="--filter-collapsed"]', false);
  await page.setChecked('input[data-flag="--filter-edge"]', false);
}

async function run(page) {
  await page.evaluate(() => { window.quantbotResults = undefined; window.__maxGap = 0; });
  await page.waitForSelector('#run:not([disabled])', { timeout: 60000 });
  await page.click('#run');
  await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent,
    null, { timeout: 900000 });
  const err = await page.textContent('#run-error');
  assert.equal(err, '', `run error: ${err}`);
  return {
    results: JSON.parse(await page.evaluate(() => window.quantbotResults)),
    stats: JSON.parse(await page.evaluate(() => window.quantbotRunStats)),
    maxGap: await page.evaluate(() => window.__maxGap),
  };
}

function countNumbers(v) {
  if (typeof v === 'number') return 1;
  if (v && typeof v === 'object') return Object.values(v).reduce((n, x) => n + countNumbers(x), 0);
  return 0;
}

await check('the page runs under its Content-Security-Policy, which blocks injected script', async () => {
  const page = await open('');
  const csp = await page.evaluate(() =>
    document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? '');
  for (const part of ["default-src 'none'", "'wasm-unsafe-eval'", "object-src 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(part), `the policy has ${part}: ${csp}`);
  }
  assert.ok(!/'unsafe-inline'|'unsafe-eval'/.test(csp), `no unsafe-inline or eval: ${csp}`);
  // The page works under it (the app mounted, the pool started), and a script put into the
  // page as text does not run.
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
  page.cspExpected = 1;
  const ran = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__cspProbe = 1';
    document.head.appendChild(s);
    return window.__cspProbe === 1;
  });
  assert.equal(ran, false, 'an injected inline script ran');
  await page.waitForTimeout(200);
  assert.equal(page.cspSeen, 1, 'the policy reported the blocked script');
  console.log(`     policy: ${csp}`);
  await page.close();
});

let urlRun;
await check('demo dataset opens from the URL, cross-origin isolated, on the worker pool', async () => {
  const page = await open('');
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'crossOriginIsolated');
  const t0 = Date.now();
  await waitLoaded(page);
  const loadSecs = (Date.now() - t0) / 1000;
  const loadGap = await page.evaluate(() => window.__maxGap);
  console.log(`     load: ${loadSecs.toFixed(1)} s (${(await page.textContent('#load-status')).trim()}); longest main-thread gap ${loadGap.toFixed(0)} ms`);
  // The candles are held compact: the summary says how much memory they take.
  const held = (await page.textContent('#summary-candles')).trim();
  const m = /^(\d+) \((\d+) MB in memory\)$/.exec(held);
  assert.ok(m && Number(m[2]) > 0 && Number(m[2]) < 48 * Number(m[1]) / 1e6,
    `candles held in fewer bytes than Candle rows (48 each): ${held}`);
  console.log(`     candles: ${held}`);

  // The default 30-point grid on all ~3,000 calls with 48 h of 1-minute candles.
  await page.fill('input[data-flag="--holdout-fraction"]', '0');
  assert.match(await page.textContent('#run-size'), /^30 grid points/);
  const def = await run(page);
  console.log(`     default grid: ${def.stats.secs.toFixed(2)} s wall in the page, ${def.stats.threads_used} threads, ` +
    `${def.stats.evaluations_per_s.toExponential(2)} evaluations/s, wasm memory ${(def.stats.wasm_memory_bytes / 1e6).toFixed(0)} MB, ` +
    `longest main-thread gap ${def.maxGap.toFixed(0)} ms`);
  assert.ok(def.maxGap < 1000, `the page froze for ${def.maxGap} ms`);

  await setGrid(page, GRID);
  assert.match(await page.textContent('#run-size'), /^48 grid points/);
  urlRun = await run(page);
  urlRun.share = '?' + (await page.inputValue('#share-text')).split('?')[1];
  assert.ok(urlRun.stats.threads_used >= 2, `only ${urlRun.stats.threads_used} worker thread(s) ran`);
  console.log(`     stated grid: ${urlRun.stats.secs.toFixed(2)} s, ${urlRun.stats.threads_used} threads`);
  await page.click('#callers tbody tr:first-child');
  await page.waitForSelector('#grid-table');
  // The best policy's equity curve ends at its in-sample final capital.
  await page.waitForSelector('#policy-equity');
  const final = Number(await page.getAttribute('#policy-equity', 'data-final'));
  assert.equal(final, urlRun.results.per_caller[0].best.metrics.final_capital);
  assert.ok((await page.getAttribute('#policy-equity polyline', 'points')).split(' ').length > 2);
  // The leaderboard (SPEC §13): a verdict word per caller, and the selected caller's verdict
  // explained in one sentence that names it.
  const verdicts = await page.$$eval('#leaderboard-table .badge', els => els.map(e => e.textContent));
  assert.equal(verdicts.length, urlRun.results.per_caller.length);
  assert.deepEqual(verdicts, urlRun.results.per_caller.map(c => c.robustness.verdict));
  const sentence = await page.textContent('#verdict-sentence');
  assert.ok(sentence.startsWith(`${urlRun.results.per_caller[0].caller} — ${verdicts[0]}`), sentence);
  await page.waitForSelector('#folds-table');
  if (shot) {
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.evaluate(() => document.querySelector('#leaderboard').scrollIntoView());
    const board = path.join(path.dirname(shot), 'leaderboard.png');
    await page.screenshot({ path: board });
    console.log(`     screenshot: ${board}`);
    await page.evaluate(() => document.querySelector('#results').scrollIntoView());
    await page.screenshot({ path: shot });
    console.log(`     screenshot: ${shot}`);
  }
  await page.close();
});

await check('per-caller and grouped results equal the CLI --format json, number for number', async () => {
  assert.ok(urlRun, 'the URL run did not finish');
  const args = ['backtest', 'v1-baseline', '--data', dataset, '--format', 'json', '--mode', MODE, '--quiet',
    '--no-filter-collapsed', '--no-filter-edge'];
  for (const [flag, value] of Object.entries(GRID)) args.push(flag, value);
  const cli = JSON.parse(execFileSync(quantbot, args, { maxBuffer: 1 << 28 }).toString());
  assert.ok(cli.per_caller.length > 0);
  assert.deepEqual(urlRun.results.grid, cli.grid);
  assert.deepEqual(urlRun.results.options, cli.options);
  assert.deepEqual(urlRun.results.coverage, cli.coverage);
  // Serialized numbers, compared as text: equal text means bit-identical doubles.
  for (let k = 0; k < cli.per_caller.length; k++) {
    assert.equal(JSON.stringify(urlRun.results.per_caller[k]), JSON.stringify(cli.per_caller[k]),
      `caller ${cli.per_caller[k].caller}`);
  }
  assert.equal(urlRun.results.per_caller.length, cli.per_caller.length);
  assert.ok(cli.grouped, 'the CLI has a grouped wallet');
  assert.equal(JSON.stringify(urlRun.results.grouped), JSON.stringify(cli.grouped));
  // The robustness measures (SPEC §13) are part of each caller's object; say how many.
  const robust = cli.per_caller.map(c => c.robustness);
  assert.ok(robust.every(r => r && typeof r.verdict === 'string'), 'every caller has a verdict');
  const folds = robust.reduce((n, r) => n + (r.walk_forward ? r.walk_forward.folds.length : 0), 0);
  assert.ok(folds > 0, 'some caller has walk-forward folds');
  console.log(`     ${cli.per_caller.length} callers, ${countNumbers(cli.per_caller) + countNumbers(cli.grouped)} numbers identical ` +
    `(robustness: ${countNumbers(robust)} numbers, ${folds} walk-forward folds, verdicts ${robust.map(r => r.verdict).join(' ')})`);
});

await check('the share link reopens the data and options and reruns the same grid', async () => {
  assert.ok(urlRun, 'the URL run did not finish');
  assert.match(urlRun.share, /^\?data=data%2Fdemo%2F&v=[0-9.]+&sha=[0-9a-f]{64}&tp-mults=.*&run=1$/);
  const page = await open(urlRun.share);
  await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent,
    null, { timeout: 900000 });
  assert.equal(await page.textContent('#sha-warning'), '');
  const results = JSON.parse(await page.evaluate(() => window.quantbotResults));
  assert.equal(JSON.stringify(results.options), JSON.stringify(urlRun.results.options));
  assert.equal(JSON.stringify(results.per_caller), JSON.stringify(urlRun.results.per_caller));
  assert.equal(JSON.stringify(results.grouped), JSON.stringify(urlRun.results.grouped));
  await page.close();
});

await check('the same exported folder through the file input gives the same results', async () => {
  assert.ok(urlRun, 'the URL run did not finish');
  const page = await open('?autoload=0');
  const files = ['manifest.json', 'calls.parquet', 'excluded.parquet', 'candles.parquet'].map(f => path.join(dataset, f));
  await page.setInputFiles('#files', files);
  await waitLoaded(page);
  await setGrid(page, GRID);
  const r = await run(page);
  assert.equal(JSON.stringify(r.results.per_caller), JSON.stringify(urlRun.results.per_caller));
  assert.equal(JSON.stringify(r.results.grouped), JSON.stringify(urlRun.results.grouped));
  assert.equal(r.results.dataset.manifest_sha256, urlRun.results.dataset.manifest_sha256);
  await page.close();
});

await check('a 10,000-point grid: the caller table of every point sorts and pages without freezing', async () => {
  const page = await open('');
  await waitLoaded(page);
  await setGrid(page, {
    '--tp-mults': JSON.stringify(Array.from({ length: 20 }, (_, i) => 1.2 + i * 0.2)),
    '--sl-mults': JSON.stringify(Array.from({ length: 20 }, (_, i) => 0.5 + i * 0.0225)),
    '--trail-pcts': '[null,0.1,0.2,0.3,0.4]',
    '--max-hold-hrs': '[6,12,24,36,48]',
    '--indicators': '[null]',
    '--holdout-fraction': '0',
    '--caller-groups': '["SmugCalls"]',
  });
  assert.match(await page.textContent('#run-size'), /^10000 grid points/);
  const r = await run(page);
  await page.click('#callers tbody tr:first-child');
  await page.waitForSelector('#grid-table tbody tr');
  assert.match(await page.textContent('#grid-table-pager .page'), /of 200 · 10000 rows/);
  await page.evaluate(() => { window.__maxGap = 0; });
  const t0 = Date.now();
  // Sort by final_capital, descending (two clicks), then go to the last page.
  const header = page.locator('#grid-table th', { hasText: /^final_capital/ });
  await header.click();
  await header.click();
  const first = Number(await page.textContent('#grid-table tbody tr:first-child td:nth-child(11)'));
  const best = r.results.per_caller[0].best.metrics.final_capital;
  assert.ok(Math.abs(first - best) < 1e-3, `sorted first row ${first} is not the best ${best}`);
  for (let k = 0; k < 3; k++) await page.click('#grid-table-pager button.next');
  const sortMs = Date.now() - t0;
  const gap = await page.evaluate(() => window.__maxGap);
  console.log(`     10,000-point grid: run ${r.stats.secs.toFixed(2)} s; two sorts and three pages in ${sortMs} ms, longest main-thread gap ${gap.toFixed(0)} ms`);
  assert.ok(gap < 1000, `the page froze for ${gap} ms`);
  await page.close();
});

await check('without cross-origin isolation the page says so and runs the same grid on one worker', async () => {
  assert.ok(urlRun, 'the URL run did not finish');
  const plain = await serve(dist, 0, { isolation: false });
  try {
    const page = await open('', `http://127.0.0.1:${plain.address().port}/`);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    assert.match(await page.textContent('#isolation'), /^not cross-origin isolated/);
    await waitLoaded(page);
    await setGrid(page, GRID);
    const r = await run(page);
    assert.equal(r.stats.threads_used, 1);
    assert.equal(r.stats.isolated, false);
    assert.equal(JSON.stringify(r.results.per_caller), JSON.stringify(urlRun.results.per_caller));
    assert.equal(JSON.stringify(r.results.grouped), JSON.stringify(urlRun.results.grouped));
    console.log(`     one worker: stated grid in ${r.stats.secs.toFixed(2)} s, longest main-thread gap ${r.maxGap.toFixed(0)} ms`);
    assert.ok(r.maxGap < 1000, `the page froze for ${r.maxGap} ms`);
    // The grid table of a caller works from the transferred result too.
    await page.click('#callers tbody tr:first-child');
    await page.waitForSelector('#grid-table tbody tr');
    assert.equal(Number(await page.getAttribute('#equity', 'data-final')),
      urlRun.results.per_caller[0].best.metrics.final_capital);
    await page.close();
  } finally {
    plain.close();
  }
});

await check('a grid too large for the page is refused before it runs', async () => {
  const page = await open('');
  await waitLoaded(page);
  const many = JSON.stringify(Array.from({ length: 300 }, (_, i) => 1.01 + i * 0.01));
  await page.fill('input[data-flag="--tp-mults"]', many);
  await page.fill('input[data-flag="--sl-mults"]', JSON.stringify(Array.from({ length: 40 }, (_, i) => 0.5 + i * 0.01)));
  await page.fill('input[data-flag="--max-hold-hrs"]', '[6,12,24,48]');
  await page.fill('input[data-flag="--trail-pcts"]', '[null,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5]');
  assert.match(await page.textContent('#run-size'), /^480000 grid points × 13 callers = 6240000 scores to keep: more than this page can hold/);
  assert.equal(await page.isDisabled('#run'), true);
  await page.close();
});

await check('a malformed rule is explained inline and blocks the run', async () => {
  const page = await open('?autoload=0');
  await page.fill('input[data-flag="--indicators"]', '[null,"ema_cross:21:9"]');
  const msg = await page.textContent('span.problem[data-flag="--indicators"]');
  assert.match(msg, /^--indicators: .*ema_cross:21:9/);
  assert.equal(await page.isDisabled('#run'), true);
  await page.close();
});

await browser.close();
server.close();
console.log(`lab e2e: ${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
