// End-to-end test of a published site (issue 19) in Debian's headless Chromium: the folder that
// `quantbot publish` wrote, served by a plain static server that sets no headers, under a
// sub-path, becomes cross-origin isolated through the service-worker fallback after exactly one
// reload and runs on the worker pool; served with the headers of its own `_headers` file it is
// isolated without the fallback; the start page lists every dataset and run and each link opens
// it; the demo dataset read in parts gives the CLI's numbers; a bundle opens without the dataset.
//
// Usage: node publish.test.mjs SITE QUANTBOT_BIN
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [site, quantbot] = process.argv.slice(2);
for (const [what, p] of [['SITE', site], ['QUANTBOT_BIN', quantbot]]) {
  if (!p || !fs.existsSync(p)) { console.error(`publish.test.mjs: ${what} ${p} does not exist`); process.exit(2); }
}
const COI_SHA256 = 'd12bd536e27e39a773d7dc7adb1a1167d24002293e97ac81c995fb00cf8d4d5a';
const MAX_FILE = 25 * 1024 * 1024;

let failures = 0;
let passed = 0;
async function check(name, f) {
  try { await f(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failures++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

/** A page in `context` that counts its main-frame loads and the bytes it was served. */
async function track(context) {
  const page = await context.newPage();
  page.loads = 0;
  page.bytes = 0;
  // Main-frame navigations: a reload counts even when it comes before the first load ended.
  page.on('framenavigated', f => { if (f === page.mainFrame()) page.loads++; });
  page.on('pageerror', e => { failures++; console.log('[pageerror]', e.message); });
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) { failures++; console.log('[csp]', m.text()); } });
  return page;
}

async function poolReady(page) {
  await page.waitForFunction(() => /worker threads? ready/.test(document.querySelector('#pool')?.textContent ?? ''),
    null, { timeout: 60000 });
  return page.evaluate(() => ({
    isolated: self.crossOriginIsolated,
    pool: document.querySelector('#pool').textContent,
    controlled: !!navigator.serviceWorker?.controller,
  }));
}

async function loaded(page) {
  await page.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error')?.textContent,
    null, { timeout: 600000 });
  assert.equal(await page.textContent('#load-error'), '');
}

async function run(page) {
  await page.evaluate(() => { window.quantbotResults = undefined; });
  await page.waitForSelector('#run:not([disabled])', { timeout: 60000 });
  await page.click('#run');
  await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent,
    null, { timeout: 600000 });
  assert.equal(await page.textContent('#run-error'), '');
  return {
    results: JSON.parse(await page.evaluate(() => window.quantbotResults)),
    stats: JSON.parse(await page.evaluate(() => window.quantbotRunStats)),
  };
}

await check('no file of the published site is over 25 MiB, and the fallback is the npm file unchanged', async () => {
  let files = 0, largest = ['', 0];
  const walk = d => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        files++;
        const n = fs.statSync(p).size;
        assert.ok(n <= MAX_FILE, `${p}: ${n} bytes`);
        if (n > largest[1]) largest = [p, n];
      }
    }
  };
  walk(site);
  const coi = fs.readFileSync(path.join(site, 'lab/coi-serviceworker.js'));
  assert.equal(crypto.createHash('sha256').update(coi).digest('hex'), COI_SHA256);
  console.log(`     ${files} files, largest ${path.relative(site, largest[0])} ${largest[1]} bytes`);
});

const SUB = '/team/quantbot/';
const plain = await serve(site, 0, { isolation: false, prefix: SUB });
const plainBase = `http://127.0.0.1:${plain.address().port}${SUB}`;
let partsRun;

await check('served with no headers under a sub-path: isolated through the service worker after one reload, on the pool', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await track(context);
  // The lab's own demo dataset (published in parts beside it), one caller for a short run.
  await page.goto(`${plainBase}lab/?data=data/demo/&holdout-fraction=0`);
  const s = await poolReady(page);
  assert.equal(s.isolated, true, 'crossOriginIsolated after the fallback');
  assert.equal(s.controlled, true, 'the page is under the service worker');
  const threads = Number(/^(\d+)/.exec(s.pool)?.[1] ?? 0);
  assert.ok(threads >= 2, `pool: ${s.pool}`);
  await loaded(page);
  partsRun = await run(page);
  assert.ok(partsRun.stats.threads_used >= 2, `${partsRun.stats.threads_used} threads ran`);
  await page.waitForTimeout(500);
  assert.equal(page.loads, 2, `the page loaded ${page.loads} times (once, then once under the worker)`);
  // A second tab of the same site: under the worker from its first load, no reload.
  const again = await track(context);
  await again.goto(`${plainBase}lab/?autoload=0`);
  const s2 = await poolReady(again);
  await again.waitForTimeout(500);
  assert.equal(s2.isolated, true);
  assert.equal(again.loads, 1, 'no reload once the worker is registered');
  // The same tab reloaded by the user: isolated, no loop.
  await again.reload();
  await poolReady(again);
  await again.waitForTimeout(500);
  assert.equal(again.loads, 2, 'one load per user reload');
  console.log(`     ${s.pool}; ${partsRun.stats.threads_used} threads ran; loads: first tab ${page.loads}, second ${again.loads - 1} (+1 user reload)`);
  await context.close();
});

await check('the demo read in parts in the lab gives the CLI\'s numbers on the same parts', async () => {
  assert.ok(partsRun, 'the run above did not finish');
  const args = ['backtest', 'v1-baseline', '--data', path.join(site, 'lab/data/demo'), '--format', 'json', '--quiet',
    '--holdout-fraction', '0', '--folds', String(partsRun.results.options.folds)];
  const cli = JSON.parse(execFileSync(quantbot, args, { maxBuffer: 1 << 28 }).toString());
  const manifest = JSON.parse(fs.readFileSync(path.join(site, 'lab/data/demo/manifest.json'), 'utf8'));
  const parts = Object.keys(manifest.files).filter(f => f.startsWith('candles'));
  assert.ok(parts.length > 1, `the published demo is in parts: ${parts}`);
  assert.equal(JSON.stringify(partsRun.results.per_caller), JSON.stringify(cli.per_caller));
  assert.equal(JSON.stringify(partsRun.results.grouped), JSON.stringify(cli.grouped));
  console.log(`     ${parts.length} candle parts; ${cli.per_caller.length} callers and the grouped wallet identical to the CLI on the same folder`);
});

await check('served with its _headers file: isolated without the fallback', async () => {
  const withHeaders = await serve(site, 0, { headersFile: path.join(site, '_headers') });
  try {
    const context = await browser.newContext();
    const page = await track(context);
    await page.goto(`http://127.0.0.1:${withHeaders.address().port}/lab/?autoload=0`);
    const s = await poolReady(page);
    await page.waitForTimeout(500);
    assert.equal(s.isolated, true);
    assert.equal(s.controlled, false, 'no service worker controls the page');
    assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0);
    assert.equal(page.loads, 1);
    console.log(`     ${s.pool}, no service worker, one load`);
    await context.close();
  } finally {
    withHeaders.close();
  }
});

await check('service workers unavailable: the page says so and runs on one worker, with no reload loop', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await track(context);
  await page.goto(`${plainBase}lab/?autoload=0`);
  const s = await poolReady(page);
  await page.waitForTimeout(1000);
  assert.equal(s.isolated, false);
  assert.match(await page.textContent('#isolation'), /^not cross-origin isolated/);
  assert.equal(page.loads, 1);
  await context.close();
});

await check('the start page lists every dataset and run, and each link opens it', async () => {
  const context = await browser.newContext();
  const page = await track(context);
  await page.goto(plainBase);
  const links = await page.$$eval('a[href*="lab/?"]', as => as.map(a => ({ href: a.getAttribute('href'), text: a.textContent })));
  const data = links.filter(l => /[?&]data=/.test(l.href) && !/bundle=/.test(l.href));
  const bundles = links.filter(l => /bundle=/.test(l.href));
  const dirs = d => (fs.existsSync(path.join(site, d)) ? fs.readdirSync(path.join(site, d)) : []);
  const names = [...dirs('data'), ...dirs('lab/data')];
  const runs = fs.readdirSync(path.join(site, 'runs'));
  assert.equal(data.length, names.length, `dataset links: ${JSON.stringify(data)}`);
  assert.equal(bundles.length, runs.length, `run links: ${JSON.stringify(bundles)}`);
  for (const l of data) {
    const p = await track(context);
    await p.goto(new URL(l.href, plainBase).href);
    await loaded(p);
    assert.equal(await p.textContent('#sha-warning'), '', `${l.href}: the hash matches`);
    const sha = new URL(l.href, plainBase).searchParams.get('sha');
    assert.ok((await p.textContent('#summary')).includes(sha.slice(0, 12)), `${l.href} shows its manifest hash`);
    await p.close();
  }
  for (const l of bundles) {
    const p = await track(context);
    await p.goto(new URL(l.href, plainBase).href);
    await p.waitForSelector('#bundle-table tbody tr', { timeout: 60000 });
    await p.close();
  }
  console.log(`     ${data.length} datasets and ${bundles.length} runs listed; every link opens`);
  await context.close();
});

await check('a published bundle opens with its per-caller table from results.json, without the dataset', async () => {
  const name = 'e2e-bundle';
  const doc = JSON.parse(fs.readFileSync(path.join(site, 'runs', name, 'results.json'), 'utf8'));
  const context = await browser.newContext();
  const page = await track(context);
  const served = [];
  page.on('response', r => served.push(r));
  await page.goto(`${plainBase}lab/?bundle=../runs/${name}/&data=data/demo/`);
  await page.waitForSelector('#bundle-table tbody tr', { timeout: 60000 });
  await page.waitForTimeout(1000);
  const rows = await page.$$eval('#bundle-table tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.dataset.v ?? td.textContent)));
  assert.equal(rows.length, doc.per_caller.length);
  rows.forEach((r, k) => {
    const c = doc.per_caller[k];
    assert.equal(r[0], c.caller);
    assert.equal(Number(r[4]), c.best.metrics.final_capital);
    assert.equal(Number(r[8]), c.best.metrics.trades);
  });
  // Every view of the run from its lab.json: the leaderboard's verdicts, and a caller's
  // heatmap equal to the bundle's grid.parquet, with nothing rerun.
  await page.waitForSelector('#leaderboard-table tbody tr');
  const verdicts = await page.$$eval('#leaderboard-table .badge', els => els.map(e => e.textContent));
  assert.deepEqual(verdicts, doc.per_caller.map(c => c.robustness.verdict));
  await page.click('#callers tbody tr:first-child');
  await page.waitForSelector('#heatmap-svg g.cell');
  const grid = await parquetReadObjects({ file: await asyncBufferFromFile(path.join(site, 'runs', name, 'grid.parquet')) });
  const caller = doc.per_caller[0].caller;
  const objective = doc.options.objective;
  const cells = await page.$$eval('#heatmap-svg g.cell', gs => gs.map(g => [Number(g.dataset.index), g.dataset.value]));
  for (const [index, value] of cells) {
    const row = grid.find(r => r.caller === caller && Number(r.policy_index) === index);
    assert.equal(value === '' ? null : Number(value), row[objective], `${caller} #${index}`);
  }
  assert.match(await page.textContent('#policy-error'), /dataset is not loaded/);
  assert.equal(await page.evaluate(() => window.quantbotLoaded), undefined, 'no dataset was loaded');
  let bytes = 0;
  for (const r of served) bytes += Number((await r.headerValue('content-length')) ?? 0);
  const demoDir = path.join(site, 'lab/data/demo');
  const demoBytes = fs.readdirSync(demoDir).reduce((n, f) => n + fs.statSync(path.join(demoDir, f)).size, 0);
  const dataBytes = served.filter(r => r.url().includes('/data/')).length;
  assert.equal(dataBytes, 0, 'no file of the dataset was fetched');
  console.log(`     ${rows.length} callers equal results.json; leaderboard and a ${cells.length}-cell heatmap from lab.json equal results.json and grid.parquet; ${bytes} bytes served in all (${(100 * bytes / demoBytes).toFixed(1)} % of the dataset's ${demoBytes})`);
  assert.ok(bytes < demoBytes * 0.1);
  await context.close();
});

await check('a bundle opened from the user\'s files shows the same views', async () => {
  const name = 'e2e-bundle';
  const dir = path.join(site, 'runs', name);
  const doc = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
  const context = await browser.newContext();
  const page = await track(context);
  await page.goto(`${plainBase}lab/?autoload=0`);
  await page.setInputFiles('#files', ['results.json', 'lab.json', 'trades.parquet', 'grid.parquet'].map(f => path.join(dir, f)));
  await page.waitForSelector('#bundle-table tbody tr', { timeout: 60000 });
  assert.equal((await page.$$('#bundle-table tbody tr')).length, doc.per_caller.length);
  await page.waitForSelector('#leaderboard-table tbody tr');
  const verdicts = await page.$$eval('#leaderboard-table .badge', els => els.map(e => e.textContent));
  assert.deepEqual(verdicts, doc.per_caller.map(c => c.robustness.verdict));
  assert.equal((await page.$$('#bundle-trades tbody tr')).length > 0, true);
  assert.equal(await page.evaluate(() => window.quantbotLoaded), undefined, 'no dataset was loaded');
  console.log(`     ${doc.per_caller.length} callers and their verdicts from the picked files`);
  await context.close();
});

await check('a bundle trade clicked: only byte ranges of the candle files are fetched, and the trade is drawn', async () => {
  // The bundle of a run on the demo; the demo as the lab publishes it, in parts.
  const name = 'e2e-bundle-demo';
  const context = await browser.newContext();
  const page = await track(context);
  const candleRequests = [];
  page.on('requestfinished', async r => {
    if (/\/candles[^/]*\.parquet$/.test(new URL(r.url()).pathname)) {
      const resp = await r.response();
      candleRequests.push({ url: r.url(), range: r.headers().range, status: resp.status(),
        bytes: Number(resp.headers()['content-length'] ?? 0) });
    }
  });
  await page.goto(`${plainBase}lab/?bundle=../runs/${name}/&data=data/demo/`);
  await page.waitForSelector('#bundle-trades tbody tr', { timeout: 60000 });
  const first = await page.$eval('#bundle-trades tbody tr:first-child', tr => [...tr.children].map(td => td.dataset.v ?? td.textContent));
  await page.click('#bundle-trades tbody tr:first-child');
  await page.waitForFunction(id => document.querySelector('#trade-chart')?.dataset.call === id
    || document.querySelector('#trade-chart-error')?.textContent, first[1], { timeout: 60000 });
  assert.equal(await page.textContent('#trade-chart-error'), '');
  const chart = await page.evaluate(() => document.querySelector('#trade-chart').quantbotChart.read());
  const entry = chart.markers.find(m => m.text.startsWith('entry'));
  assert.equal(entry.price, Number(first[4]), 'the entry at trades.parquet\'s price');
  assert.equal(entry.time * 1000, Number(first[3]), 'the entry at trades.parquet\'s time');
  assert.ok(chart.bars.length > 0);
  await page.waitForTimeout(300);
  assert.ok(candleRequests.length > 0, 'candle files were read');
  for (const r of candleRequests) {
    assert.ok(r.range && r.status === 206, `${r.url}: ${r.status}, range ${r.range}`);
  }
  const got = candleRequests.reduce((n, r) => n + r.bytes, 0);
  const dir = path.join(site, 'lab/data/demo');
  const candleBytes = fs.readdirSync(dir).filter(f => f.startsWith('candles'))
    .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  console.log(`     call ${first[1]}: ${chart.bars.length} candles drawn from ${candleRequests.length} range requests, ` +
    `${got} bytes of the candle files' ${candleBytes} (${(100 * got / candleBytes).toFixed(2)} %)`);
  assert.ok(got < candleBytes / 2, 'a fraction of the candle files');
  await context.close();
});

plain.close();
await browser.close();
console.log(`publish e2e: ${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
