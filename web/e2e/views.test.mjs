// End-to-end test of the views that explain a result (issue 18), in Debian's headless Chromium:
// the heatmap against the CLI's grid.parquet, a clicked cell's equity and trades against the CLI
// run with that single policy, the decision log's counts against the wallet's metrics, a trade's
// candle chart read back from the chart's own data, the intrabar toggle against the CLI with
// `--intrabar tp-first`, the Baseline tab against `quantbot backtest baseline --format json`,
// and a 10,000-point grid's views timed for main-thread freezes. It takes the README's
// screenshots. The CLI's Parquet files are read with hyparquet (npm), independent of the engine.
//
// Usage: node views.test.mjs DIST DATASET_DIR QUANTBOT_BIN DOCS_DIR
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [dist, dataset, quantbot, docs] = process.argv.slice(2);
for (const [what, p] of [['DIST', dist], ['DATASET_DIR', dataset], ['QUANTBOT_BIN', quantbot], ['DOCS_DIR', docs]]) {
  if (!p || !fs.existsSync(p)) { console.error(`views.test.mjs: ${what} ${p} does not exist`); process.exit(2); }
}

// The vendored chart library is the npm package's file, unchanged (www/vendor/lightweight-charts/README.md).
const LWC = 'vendor/lightweight-charts/lightweight-charts.standalone.production.js';
const LWC_SHA256 = '338a625ece52c5b85fb026e222dad5d0f365f745060afbfae96bda91636142e9';

const CALLER = 'Brook 💀🧲';
// 5 tp × 4 sl × 2 trailing × 2 time stops × 2 rules = 160 points: a 5 × 4 heatmap. The
// tightest take-profit and stop make candles that touch both (ambiguous trades).
const GRID = {
  '--tp-mults': '[1.03,1.5,2,3,5]',
  '--sl-mults': '[0.8,0.9,0.95,0.98]',
  '--trail-pcts': '[null,0.2]',
  '--max-hold-hrs': '[24,48]',
  '--indicators': '[null,"ema_cross:9:21"]',
  '--holdout-fraction': '0',
  '--folds': '4',
  '--caller-groups': JSON.stringify([CALLER]),
};

// 20 tp × 20 sl × 5 trailing × 5 time stops = 10,000 points.
const BIG_GRID = {
  '--tp-mults': JSON.stringify(Array.from({ length: 20 }, (_, i) => 1.2 + i * 0.2)),
  '--sl-mults': JSON.stringify(Array.from({ length: 20 }, (_, i) => 0.5 + i * 0.0225)),
  '--trail-pcts': '[null,0.1,0.2,0.3,0.4]',
  '--max-hold-hrs': '[6,12,24,36,48]',
  '--indicators': '[null]',
  '--holdout-fraction': '0',
};

let failures = 0;
let passed = 0;
async function check(name, f) {
  try { await f(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failures++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'views-e2e-'));
let runs = 0;
/** `quantbot backtest v1-baseline` into a fresh --out-dir; its results, grid and trades. */
async function cli(flags) {
  const out = path.join(scratch, `run-${runs++}`);
  const args = ['backtest', 'v1-baseline', '--data', dataset, '--mode', 'per-caller', '--quiet', '--out-dir', out];
  for (const [flag, value] of Object.entries(flags)) args.push(flag, value);
  execFileSync(quantbot, args, { maxBuffer: 1 << 28 });
  const read = async f => parquetReadObjects({ file: await asyncBufferFromFile(path.join(out, f)) });
  return {
    results: JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')),
    grid: await read('grid.parquet'),
    trades: await read('trades.parquet'),
  };
}

const num = v => (typeof v === 'bigint' ? Number(v) : v);
/** Attribute text of a number the page wrote in Rust's shortest round-trip form. */
const exact = s => (s === '' || s === null ? null : Number(s));

const server = await serve(dist);
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

async function open(query = '') {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true,
    permissions: ['clipboard-read', 'clipboard-write'] });
  page.on('pageerror', e => { failures++; console.log('[pageerror]', e.message); });
  page.on('console', m => {
    if (/Content Security Policy/i.test(m.text())) { failures++; console.log('[csp]', m.text()); }
  });
  // A main-thread watchdog: the longest gap between 10 ms ticks is a freeze of the page.
  await page.addInitScript(() => {
    window.__maxGap = 0; let last = performance.now();
    setInterval(() => { const t = performance.now(); window.__maxGap = Math.max(window.__maxGap, t - last); last = t; }, 10);
  });
  await page.goto(base + query);
  await page.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error')?.textContent,
    null, { timeout: 900000 });
  assert.equal(await page.textContent('#load-error'), '');
  return page;
}

async function setGrid(page, grid) {
  for (const [flag, value] of Object.entries(grid)) await page.fill(`input[data-flag="${flag}"]`, value);
  await page.selectOption('select[data-flag="--mode"]', 'per-caller');
}

async function run(page) {
  await page.evaluate(() => { window.quantbotResults = undefined; });
  await page.waitForSelector('#run:not([disabled])', { timeout: 60000 });
  await page.click('#run');
  await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent,
    null, { timeout: 900000 });
  assert.equal(await page.textContent('#run-error'), '');
  return JSON.parse(await page.evaluate(() => window.quantbotResults));
}

/** The policy view, once computed for grid point `index`. */
async function policyShown(page, index) {
  await page.waitForFunction(i => {
    const h = document.querySelector('#policy-heading');
    return h && h.textContent.includes(`#${i}:`) && (document.querySelector('#decision-counts') || document.querySelector('#policy-error'));
  }, index, { timeout: 120000 });
  assert.equal(await page.$('#policy-error'), null, 'the policy view has no error');
}

/** Times steps on `page`: `timed(what, f)` records the longest main-thread gap while `f` runs
 * (and 100 ms after) into `gaps[what]`. */
function gapTimer(page) {
  const gaps = {};
  const timed = async (what, f) => {
    await page.evaluate(() => { window.__maxGap = 0; });
    await f();
    await page.waitForTimeout(100);
    gaps[what] = await page.evaluate(() => window.__maxGap);
  };
  return { gaps, timed };
}

/** Waits for the candle chart of `callId` (or fails with the page's message). */
async function chartOf(page, callId) {
  await page.waitForFunction(id => document.querySelector('#trade-chart')?.dataset.call === id
    || document.querySelector('#trade-chart-error')?.textContent, callId, { timeout: 60000 });
  assert.equal(await page.textContent('#trade-chart-error'), '');
}

async function csvOf(page, id) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`#${id}-csv`)]);
  const text = fs.readFileSync(await dl.path(), 'utf8');
  const [head, ...rows] = text.trimEnd().split('\n');
  const cols = head.split(',');
  // No field of these tables holds a comma or a quote (call ids, tokens, reasons, numbers).
  return rows.map(r => Object.fromEntries(r.split(',').map((v, k) => [cols[k], v])));
}

const cells = page => page.$$eval('#heatmap-svg g.cell', gs => gs.map(g => ({
  index: Number(g.dataset.index), value: g.dataset.value, other: g.dataset.other,
  best: g.classList.contains('best'), feasible: !g.classList.contains('infeasible'),
})));

await check('the vendored chart library is the npm package file, unchanged', async () => {
  const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(dist, LWC))).digest('hex');
  assert.equal(sha, LWC_SHA256);
});

const page = await open();
await setGrid(page, GRID);
const lab = await run(page);
const objective = lab.options.objective;
const cliGrid = await cli(GRID);
const byIndex = new Map(cliGrid.grid.filter(r => r.caller === CALLER).map(r => [num(r.policy_index), r]));
let clicked;

await check('heatmap: N×M cells equal to the CLI grid.parquet, the best cell marked', async () => {
  assert.equal(lab.per_caller.length, 1);
  assert.equal(lab.per_caller[0].caller, CALLER);
  await page.click('#callers tbody tr:first-child');
  await page.waitForSelector('#heatmap-svg g.cell');
  const cols = Number(await page.getAttribute('#heatmap-svg', 'data-cols'));
  const rows = Number(await page.getAttribute('#heatmap-svg', 'data-rows'));
  assert.deepEqual([cols, rows], [5, 4], 'tp across, sl down');
  const cs = await cells(page);
  assert.equal(cs.length, cols * rows);
  for (const c of cs) {
    const row = byIndex.get(c.index);
    assert.ok(row, `grid.parquet has point ${c.index}`);
    assert.equal(exact(c.value), row[objective], `point ${c.index}: ${objective}`);
    assert.equal(c.feasible, row.feasible, `point ${c.index}: feasible`);
  }
  const best = cs.filter(c => c.best);
  assert.equal(best.length, 1, 'one best cell');
  assert.equal(best[0].index, lab.per_caller[0].best.index);
  // Another metric: every cell its grid.parquet value.
  await page.selectOption('#heatmap-metric', { label: 'sharpe' });
  for (const c of await cells(page)) assert.equal(exact(c.value), byIndex.get(c.index).sharpe);
  await page.selectOption('#heatmap-metric', { index: 0 });
  console.log(`     ${cs.length} cells of ${byIndex.size} grid points equal grid.parquet's ${objective} and sharpe; best #${best[0].index}`);
  // The caller's grid exported with grid.parquet's columns: every point, every column.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#grid-file-csv')]);
  const [head, ...lines] = fs.readFileSync(await dl.path(), 'utf8').trimEnd().split('\n');
  const parquetCols = Object.keys(cliGrid.grid[0]);
  assert.deepEqual(head.split(','), parquetCols, 'grid.csv has grid.parquet\'s columns in order');
  assert.equal(lines.length, byIndex.size);
  for (const line of lines) {
    // The label holds no comma; the caller's name and the rule are plain here.
    const v = line.split(',');
    const row = byIndex.get(Number(v[1]));
    parquetCols.forEach((c, j) => {
      const want = row[c];
      if (typeof want === 'string') assert.equal(v[j], want, `${c}`);
      else if (typeof want === 'boolean') assert.equal(v[j], String(want), `${c}`);
      else if (want === null || want === undefined) assert.equal(v[j], '', `${c} is empty`);
      else assert.equal(Number(v[j]), num(want), `point ${v[1]} ${c}`);
    });
  }
  console.log(`     grid.csv: ${lines.length} rows × ${parquetCols.length} columns equal grid.parquet`);
  const plateau = await page.$eval('#plateau', p => p.textContent);
  assert.match(plateau, /^Plateau score of the selected cell: /);
  await policyShown(page, best[0].index);
  assert.equal(exact(await page.getAttribute('#policy-equity', 'data-final')), lab.per_caller[0].best.metrics.final_capital);
  await page.evaluate(() => document.querySelector('#heatmap').scrollIntoView());
  await page.screenshot({ path: path.join(docs, 'heatmap.png') });
});

await check('the lab run saved as a bundle is the CLI\'s --out-dir bundle, byte for byte', async () => {
  const downloads = [];
  const onDownload = d => downloads.push(d);
  page.on('download', onDownload);
  // The folder name the page's "Open in the lab" link uses: the CLI's --out-dir's.
  await page.fill('#bundle-name', 'run-0');
  await page.click('#save-bundle');
  const deadline = Date.now() + 30000;
  while (downloads.length < 5 && Date.now() < deadline) await page.waitForTimeout(100);
  page.off('download', onDownload);
  const names = downloads.map(d => d.suggestedFilename()).sort();
  assert.deepEqual(names, ['grid.parquet', 'index.html', 'lab.json', 'results.json', 'trades.parquet']);
  const cliDir = path.join(scratch, 'run-0');
  for (const d of downloads) {
    const name = d.suggestedFilename();
    const mine = fs.readFileSync(await d.path());
    const theirs = fs.readFileSync(path.join(cliDir, name));
    if (name === 'results.json') {
      // The dataset is named by where each read it (the page's URL, the CLI's folder).
      const [a, b] = [JSON.parse(mine), JSON.parse(theirs)];
      a.dataset.source = b.dataset.source = '';
      const differ = Object.keys(b).filter(k => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
      assert.deepEqual(differ, [], `results.json differs in ${differ.map(k => `${k}: ${JSON.stringify(a[k]).slice(0, 300)} vs ${JSON.stringify(b[k]).slice(0, 300)}`).join('; ')}`);
      assert.equal(mine.toString().endsWith('}\n'), true);
    } else if (name === 'index.html') {
      // The page names the dataset's source too.
      const strip = b => b.toString().replace(/data:[^<"]*/g, '').replace(/data\/demo\//g, '');
      assert.equal(strip(mine), strip(theirs), name);
    } else {
      assert.ok(mine.equals(theirs), `${name}: ${mine.length} bytes vs the CLI's ${theirs.length}`);
    }
  }
  console.log(`     ${names.join(', ')}: the same bytes as the CLI's (results.json and index.html up to the dataset's source)`);
});

await check('a clicked cell: equity and trades are the CLI run with that single policy', async () => {
  const cs = await cells(page);
  const best = lab.per_caller[0].best;
  // The cell whose final capital differs most from the best's.
  const other = cs.filter(c => !c.best && c.value !== '')
    .sort((a, b) => Math.abs(exact(b.value) - best.metrics[objective]) - Math.abs(exact(a.value) - best.metrics[objective]))[0];
  clicked = other.index;
  await page.click(`#heatmap-svg g.cell[data-index="${clicked}"]`);
  await policyShown(page, clicked);
  const p = byIndex.get(clicked);
  const one = v => JSON.stringify([v === null ? null : v]);
  const single = await cli({
    ...GRID,
    '--tp-mults': one(p.tp), '--sl-mults': one(p.sl), '--trail-pcts': one(p.trail),
    '--max-hold-hrs': one(p.max_hold), '--indicators': one(p.indicator),
  });
  const m = single.results.per_caller[0].best.metrics;
  const final = exact(await page.getAttribute('#policy-equity', 'data-final'));
  assert.equal(final, m.final_capital);
  assert.notEqual(final, best.metrics.final_capital, 'the equity changed with the click');
  const trades = await csvOf(page, 'trades-table');
  assert.equal(trades.length, single.trades.length);
  assert.equal(trades.length, m.trades);
  const same = ['entry_ts_ms', 'entry_px', 'exit_ts_ms', 'gross_multiple', 'net_multiple', 'peak_multiple', 'mae',
    'fills', 'candles_held', 'size_usd', 'pnl_usd'];
  single.trades.forEach((t, k) => {
    const r = trades[k];
    assert.equal(r.call_id, t.call_id);
    assert.equal(r.caller, t.caller);
    // The policy's index in the lab's grid; the CLI's one-policy grid numbers it 0.
    assert.equal(Number(r.policy_index), clicked);
    assert.equal(r.exit_reason, t.exit_reason);
    assert.equal(r.ambiguous, t.ambiguous ? 'yes' : 'no');
    for (const c of same) assert.equal(Number(r[c]), num(t[c]), `trade ${k} ${c}`);
  });
  // The decision log: taken and skipped per reason are the wallet's metrics.
  const counts = await page.$eval('#decision-counts', e => ({ ...e.dataset }));
  assert.equal(Number(counts.taken), m.trades);
  for (const why of ['no_entry', 'max_positions', 'same_token_open', 'below_min_size']) {
    assert.equal(Number(counts[why]), m.skipped[why], `skipped ${why}`);
  }
  const log = await csvOf(page, 'decisions-table');
  assert.equal(log.length, single.results.per_caller[0].calls);
  assert.equal(log.filter(r => r.decision === 'taken').length, m.trades);
  console.log(`     point #${clicked} (${p.label}): final ${final}, ${trades.length} trades equal trades.parquet field for field; ` +
    `decision log ${log.length} calls: ${counts.taken} taken, skipped ${JSON.stringify(m.skipped)}`);
  await page.evaluate(() => document.querySelector('#policy').scrollIntoView());
  await page.screenshot({ path: path.join(docs, 'policy.png') });
});

await check('the candle chart of a stop-loss trade: entry and exit at the engine\'s prices and times, the stop line ending at the fill', async () => {
  // Without the trailing stop (held at its first value, off), the cell that stops out most.
  await page.selectOption('#heatmap select[data-dim="2"]', '0');
  const stopper = (await cells(page)).filter(c => byIndex.get(c.index).trail === null)
    .sort((a, b) => byIndex.get(b.index).stop_out_rate - byIndex.get(a.index).stop_out_rate)[0];
  await page.click(`#heatmap-svg g.cell[data-index="${stopper.index}"]`);
  await policyShown(page, stopper.index);
  const trades = await csvOf(page, 'trades-table');
  // Its stop-loss trades, longest first (the chart has the most to show); the first whose stop
  // filled inside its candle (not a gap through it at the open, which fills at the open).
  const stops = trades.map((t, i) => [t, i]).filter(([t]) => t.exit_reason === 'stop_loss')
    .sort((a, b) => Number(b[0].candles_held) - Number(a[0].candles_held));
  assert.ok(stops.length > 0, `policy #${stopper.index} has a stop-loss trade`);
  let t, chart, entry, exit, end, gaps = 0;
  for (const [cand, k] of stops.slice(0, 10)) {
    await page.evaluate(() => document.querySelector('#trades-table').scrollIntoView());
    while (!(await page.textContent('#trades-table-pager .page')).startsWith(`page ${Math.floor(k / 25) + 1} `)) {
      const now = Number(/^page (\d+)/.exec(await page.textContent('#trades-table-pager .page'))[1]);
      await page.click(`#trades-table-pager button${now - 1 < Math.floor(k / 25) ? '.next' : ':first-child'}`);
    }
    await page.click(`#trades-table tbody tr:nth-child(${(k % 25) + 1})`);
    await chartOf(page, cand.call_id);
    chart = await page.evaluate(() => document.querySelector('#trade-chart').quantbotChart.read());
    const marks = chart.markers.filter(m => m.text !== 'rule');
    entry = marks.find(m => m.text.startsWith('entry'));
    exit = marks[marks.length - 1];
    const stop = chart.lines.stop_loss.filter(p => p.value !== undefined);
    end = stop[stop.length - 1];
    t = cand;
    const bar = chart.bars.find(b => b.time === exit.time);
    if (bar.open > end.value) break;
    assert.equal(exit.price, bar.open, 'a gap through the stop fills at the open');
    gaps++;
  }
  assert.equal(entry.price, Number(t.entry_px));
  assert.equal(entry.time * 1000, Number(t.entry_ts_ms), 'an open entry is at its candle\'s open');
  assert.ok(exit.text.startsWith('stop_loss'), exit.text);
  const exitMs = Number(t.exit_ts_ms);
  assert.ok(exit.time * 1000 === exitMs || (exit.time + 60) * 1000 === exitMs, `exit at ${exit.time} vs ${exitMs}`);
  assert.ok(Math.abs(exit.price / entry.price - Number(t.gross_multiple)) < 1e-12, 'one fill: the exit price is the gross multiple');
  assert.equal(end.time, exit.time, 'the stop line ends on the exit candle');
  assert.equal(end.value, exit.price, 'the stop line ends at the fill price');
  if (gaps) console.log(`     (${gaps} longer stop-loss trade(s) gapped through the stop, filled at the open)`);
  assert.ok(chart.bars.length > 100, `${chart.bars.length} candles`);
  console.log(`     call ${t.call_id}: entry ${entry.price} at ${entry.time}, stop_loss ${exit.price} at ${exit.time}; ` +
    `${chart.bars.length} candles, lines ${Object.keys(chart.lines).join(', ')}`);
  await page.evaluate(() => document.querySelector('#trade-chart-box').scrollIntoView());
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(docs, 'candles.png') });
});

await check('a trade under an indicator rule: its EMA lines and firing candles are on the chart', async () => {
  // The indicator dimension (7) held at ema_cross:9:21, the best cell of that slice.
  await page.selectOption('#heatmap select[data-dim="7"]', '1');
  const cs = (await cells(page)).filter(c => c.value !== '');
  const pick = cs.sort((a, b) => exact(b.value) - exact(a.value))[0];
  assert.equal(byIndex.get(pick.index).indicator, 'ema_cross:9:21');
  await page.click(`#heatmap-svg g.cell[data-index="${pick.index}"]`);
  await policyShown(page, pick.index);
  const trades = await csvOf(page, 'trades-table');
  const k = trades.findIndex(t => t.exit_reason === 'indicator_exit');
  assert.ok(k >= 0, `policy #${pick.index} has an indicator exit`);
  for (let p = 0; p < Math.floor(k / 25); p++) await page.click('#trades-table-pager button.next');
  await page.click(`#trades-table tbody tr:nth-child(${(k % 25) + 1})`);
  await chartOf(page, trades[k].call_id);
  const chart = await page.evaluate(() => document.querySelector('#trade-chart').quantbotChart.read());
  assert.ok(chart.lines.ema9 && chart.lines.ema21, `EMA lines: ${Object.keys(chart.lines)}`);
  const fires = chart.markers.filter(m => m.text === 'rule');
  const exit = chart.markers.filter(m => m.text !== 'rule').pop();
  assert.ok(exit.text.startsWith('indicator_exit'));
  assert.ok(fires.some(f => f.time <= exit.time), 'the rule fired by the exit candle');
  console.log(`     call ${trades[k].call_id}: ${fires.length} firing candles, exit ${exit.text}`);
});

await check('a share link restores the caller, the policy and the trade, with the same numbers', async () => {
  // The page now shows the indicator policy's trade chart (the check above).
  const policyText = await page.textContent('#policy-heading');
  const index = Number(/#(\d+):/.exec(policyText)[1]);
  const call = await page.$eval('#trade-chart', e => e.dataset.call);
  const final = await page.getAttribute('#policy-equity', 'data-final');
  await page.click('#copy-link');
  await page.waitForFunction(() => document.querySelector('#copy-status').textContent);
  const link = await page.inputValue('#share-text');
  assert.equal(await page.textContent('#copy-status'), 'copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
  const q = new URL(link).searchParams;
  assert.equal(q.get('caller'), CALLER);
  assert.equal(q.get('policy'), String(index));
  assert.ok(q.get('trade'), `the link names the trade: ${link}`);
  // A fresh browser context: the link alone.
  const fresh = await open(new URL(link).search);
  await fresh.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent, null, { timeout: 600000 });
  await policyShown(fresh, index);
  await chartOf(fresh, call);
  assert.equal(await fresh.getAttribute('#policy-equity', 'data-final'), final);
  assert.equal(await fresh.textContent('#sha-warning'), '');
  assert.equal(JSON.parse(await fresh.evaluate(() => window.quantbotResults)).per_caller[0].best.metrics.final_capital,
    lab.per_caller[0].best.metrics.final_capital);
  await fresh.close();
  // Another dataset hash: the page warns.
  q.set('sha', '0'.repeat(64));
  const other = await open('?' + q.toString());
  await other.waitForFunction(() => document.querySelector('#sha-warning').textContent, null, { timeout: 60000 });
  assert.match(await other.textContent('#sha-warning'), /^this link was made on dataset 000000000000, but the loaded one is /);
  await other.close();
  console.log(`     restored caller ${CALLER}, policy #${index}, trade of call ${call}, final ${final}; a changed hash warns`);
});

await check('after loading local files the page says a link cannot carry the data', async () => {
  const local = await browser.newPage({ serviceWorkers: 'block' });
  await local.goto(base + '?autoload=0');
  const files = ['manifest.json', 'calls.parquet', 'excluded.parquet', 'candles.parquet'].map(f => path.join(dataset, f));
  await local.setInputFiles('#files', files);
  await local.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error').textContent, null, { timeout: 600000 });
  await local.waitForSelector('#share-local');
  assert.equal(await local.$('#share-text'), null, 'no link is offered');
  assert.match(await local.textContent('#share-local'), /cannot carry it.*cargo xtask publish/s);
  await local.close();
});

await check('the intrabar toggle: per-cell values equal the CLI with --intrabar tp-first', async () => {
  await page.click('#intrabar-toggle');
  await page.waitForSelector('#intrabar-summary', { timeout: 300000 });
  const tp = await cli({ ...GRID, '--intrabar': 'tp-first' });
  const other = new Map(tp.grid.filter(r => r.caller === CALLER).map(r => [num(r.policy_index), r]));
  // Down the tightest stops, across the take-profits: the cells where candles touch both.
  await page.selectOption('#heatmap select[data-dim="2"]', '0');
  const cs = await cells(page);
  let moved = 0;
  for (const c of cs) {
    assert.equal(exact(c.other), other.get(c.index)[objective], `point ${c.index} under tp-first`);
    if (c.other !== c.value) moved++;
  }
  assert.ok(moved > 0, 'some cell moves under the other intrabar order');
  console.log(`     ${cs.length} cells equal grid.parquet under tp-first; ${moved} move. ${(await page.textContent('#intrabar-summary')).trim()}`);
  await page.click('#intrabar-toggle');
});

await check('the Baseline tab equals quantbot backtest baseline --format json, number for number', async () => {
  await page.click('#tab-baseline');
  await page.click('#baseline-run');
  await page.waitForFunction(() => window.quantbotBaseline || document.querySelector('#baseline-error').textContent,
    null, { timeout: 300000 });
  assert.equal(await page.textContent('#baseline-error'), '');
  const lab = JSON.parse(await page.evaluate(() => window.quantbotBaseline));
  const cli = JSON.parse(execFileSync(quantbot, ['backtest', 'baseline', '--data', dataset, '--format', 'json'], { maxBuffer: 1 << 28 }).toString());
  assert.equal(JSON.stringify(lab), JSON.stringify(cli));
  // The table shows the document's numbers.
  const rows = await csvOf(page, 'baseline-summary');
  assert.equal(rows.length, cli.per_caller.length + 1);
  rows.slice(0, -1).forEach((r, k) => {
    assert.equal(r.caller, cli.per_caller[k].caller);
    assert.equal(exact(r['median ATH ×']), cli.per_caller[k].median_ath_mult);
    assert.equal(exact(r['reach 2× (%)']), cli.per_caller[k].pct_hit_2x);
  });
  const alerts = await csvOf(page, 'baseline-alerts');
  assert.equal(alerts.length, cli.overall.calls);
  const bars = await page.$$eval('#hist-ath rect', rs => rs.reduce((n, r) => n + Number(r.dataset.count), 0));
  assert.equal(bars, cli.overall.ok, 'every ok call is in the ATH histogram');
  console.log(`     ${cli.per_caller.length} callers + overall identical; ${alerts.length} alerts; ATH histogram holds ${bars} calls`);
  await page.click('#baseline-summary tbody tr:first-child');
  await page.screenshot({ path: path.join(docs, 'baseline.png') });
  // Edited settings: the TP/SL trade at 3× and 0.7×, tp first.
  await page.evaluate(() => { window.quantbotBaseline = undefined; });
  await page.fill('input[data-baseline="--tp-mult"]', '3');
  await page.fill('input[data-baseline="--sl-mult"]', '0.7');
  await page.selectOption('select[data-baseline="--intrabar-order"]', 'tp_first');
  await page.click('#baseline-run');
  await page.waitForFunction(() => window.quantbotBaseline, null, { timeout: 300000 });
  const edited = await page.evaluate(() => window.quantbotBaseline);
  const cli3 = execFileSync(quantbot, ['backtest', 'baseline', '--data', dataset, '--format', 'json', '--tp-mult', '3',
    '--sl-mult', '0.7', '--intrabar-order', 'tp_first'], { maxBuffer: 1 << 28 }).toString();
  assert.equal(JSON.stringify(JSON.parse(edited)), JSON.stringify(JSON.parse(cli3)));
  assert.notEqual(JSON.stringify(JSON.parse(edited)), JSON.stringify(cli), 'the settings changed the trade');
  // A bad value is refused with the flag's name, before anything runs.
  await page.fill('input[data-baseline="--sl-mult"]', '1.5');
  assert.match(await page.textContent('#baseline-problem'), /^--sl-mult: /);
  assert.equal(await page.isDisabled('#baseline-run'), true);
  await page.click('#tab-search');
});
await page.close();

await check('a 10,000-point grid: heatmap, policy, trades and decision log without freezing the page', async () => {
  const big = await open();
  await setGrid(big, { ...BIG_GRID, '--caller-groups': '["SmugCalls"]' });
  assert.match(await big.textContent('#run-size'), /^10000 grid points/);
  const r = await run(big);
  const { gaps, timed } = gapTimer(big);
  await timed('open the caller (heatmap 20×20, policy)', async () => {
    await big.click('#callers tbody tr:first-child');
    await big.waitForSelector('#heatmap-svg g.cell');
    await policyShown(big, r.per_caller[0].best.index);
  });
  assert.equal(await big.$$eval('#heatmap-svg g.cell', g => g.length), 400);
  await timed('click a cell', async () => {
    const idx = await big.$eval('#heatmap-svg g.cell:not(.best)', g => Number(g.dataset.index));
    await big.click(`#heatmap-svg g.cell[data-index="${idx}"]`);
    await policyShown(big, idx);
  });
  await timed('change the metric', async () => { await big.selectOption('#heatmap-metric', { label: 'sharpe' }); });
  await timed('sort the trades and page the decision log', async () => {
    await big.locator('#trades-table th', { hasText: /^pnl_usd/ }).click();
    await big.locator('#trades-table th', { hasText: /^pnl_usd/ }).click();
    for (let k = 0; k < 3; k++) await big.click('#decisions-table-pager button.next');
  });
  await timed('sort the 10,000-row grid table', async () => {
    const h = big.locator('#grid-table th', { hasText: /^final_capital/ });
    await h.click(); await h.click();
  });
  const worst = Math.max(...Object.values(gaps));
  console.log(`     10,000-point grid (run ${r.per_caller[0].calls} calls): longest main-thread gap per step: ` +
    Object.entries(gaps).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join('; '));
  assert.ok(worst < 200, `the page froze for ${worst.toFixed(0)} ms`);
  await big.close();
});

await check('one caller with every demo call: 10,000 grid points and about 3,000 trades without freezing the page', async () => {
  // The demo's calls under one caller name (written with hyparquet-writer), its candles as they
  // are: picked as files, so the lab reads them without a manifest (1-minute candles, 48 h).
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(path.join(dataset, 'calls.parquet')) });
  const col = k => rows.map(r => r[k]);
  const calls = parquetWriteBuffer({ columnData: [
    { name: 'call_id', data: col('call_id'), type: 'STRING' },
    { name: 'caller', data: rows.map(() => 'Everyone'), type: 'STRING' },
    { name: 'chain', data: col('chain'), type: 'STRING' },
    { name: 'mint', data: col('mint'), type: 'STRING' },
    { name: 'alert_ts_ms', data: col('alert_ts_ms'), type: 'INT64' },
    { name: 'price_at_alert', data: col('price_at_alert'), type: 'DOUBLE' },
  ] });
  const dir = path.join(scratch, 'one-caller');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'calls.parquet'), Buffer.from(calls));
  const big = await browser.newPage({ viewport: { width: 1400, height: 1000 }, serviceWorkers: 'block' });
  big.on('pageerror', e => { failures++; console.log('[pageerror]', e.message); });
  await big.addInitScript(() => {
    window.__maxGap = 0; let last = performance.now();
    setInterval(() => { const t = performance.now(); window.__maxGap = Math.max(window.__maxGap, t - last); last = t; }, 10);
  });
  await big.goto(base + '?autoload=0');
  await big.setInputFiles('#files', [path.join(dir, 'calls.parquet'), path.join(dataset, 'candles.parquet')]);
  await big.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error').textContent, null, { timeout: 600000 });
  assert.equal(await big.textContent('#load-error'), '');
  await setGrid(big, BIG_GRID);
  assert.match(await big.textContent('#run-size'), /^10000 grid points/);
  const r = await run(big);
  assert.equal(r.per_caller.length, 1);
  const { gaps, timed } = gapTimer(big);
  await timed('open the caller', async () => {
    await big.click('#callers tbody tr:first-child');
    await policyShown(big, r.per_caller[0].best.index);
  });
  const trades = Number(await big.getAttribute('#decision-counts', 'data-taken'));
  assert.equal(trades, r.per_caller[0].best.metrics.trades);
  assert.ok(trades >= 2500, `${trades} trades`);
  await timed('sort the trades, page them and the decision log', async () => {
    await big.locator('#trades-table th', { hasText: /^pnl_usd/ }).click();
    await big.locator('#trades-table th', { hasText: /^pnl_usd/ }).click();
    for (let k = 0; k < 3; k++) await big.click('#trades-table-pager button.next');
    for (let k = 0; k < 3; k++) await big.click('#decisions-table-pager button.next');
  });
  await timed('click another cell', async () => {
    const idx = await big.$eval('#heatmap-svg g.cell:not(.best)', g => Number(g.dataset.index));
    await big.click(`#heatmap-svg g.cell[data-index="${idx}"]`);
    await policyShown(big, idx);
  });
  await timed('open a trade\'s candle chart', async () => {
    await big.click('#trades-table tbody tr:first-child');
    await big.waitForFunction(() => document.querySelector('#trade-chart')?.quantbotChart, null, { timeout: 60000 });
  });
  const worst = Math.max(...Object.values(gaps));
  console.log(`     one caller, ${r.per_caller[0].calls} calls, best policy ${trades} trades: longest main-thread gap per step: ` +
    Object.entries(gaps).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join('; '));
  assert.ok(worst < 200, `the page froze for ${worst.toFixed(0)} ms`);
  await big.close();
});

await browser.close();
server.close();
fs.rmSync(scratch, { recursive: true, force: true });
console.log(`views e2e: ${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
