// The bad-input corpus (tests/bad_inputs/cases.json, issue 20) in the lab: every dataset case
// is opened by URL in Debian's headless Chromium, on the worker pool (cross-origin isolated) and
// on the one worker of a page that is not, through the same wasm loader users get. A dataset the
// CLI refuses shows the very message in the page: the corpus's message with its folder's URL,
// which contains the CLI's own line for the same folder (run here, same wording from the same
// library error). A dataset whose calls the SPEC excludes one by one shows the corpus's coverage
// in the summary. Nothing may panic (console), raise a page error or open a dialog; the caller
// names full of HTML run and show as text.
//
// Usage: node bad_inputs.test.mjs DIST CORPUS_DIR QUANTBOT_BIN
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [dist, corpus, bin] = process.argv.slice(2);
const quantbot = bin && path.resolve(bin);
for (const [what, p] of [['DIST', dist], ['CORPUS_DIR', corpus], ['QUANTBOT_BIN', quantbot]]) {
  if (!p || !fs.existsSync(p)) { console.error(`bad_inputs.test.mjs: ${what} ${p} does not exist`); process.exit(2); }
}
const manifest = JSON.parse(fs.readFileSync(path.join(corpus, 'cases.json'), 'utf8'));
const REASONS = ['no_candles', 'late_start', 'insufficient_coverage', 'invalid_candles', 'duplicate_call'];

// The dataset cases: a folder of the corpus (not the valid base) loaded as the CLI's
// `backtest v1-baseline --data {data}` loads it. What the page must show: the coverage for a
// dataset that loads (the case's, or `lab_coverage` where the CLI fails later for want of an
// eligible call), else the loader's message, which names a file of `{data}`.
// One check per folder: the first such case of each.
const seen = new Set();
const cases = manifest.cases.filter(c => c.data && c.data !== 'good'
  && c.args.slice(0, 4).join(' ') === 'backtest v1-baseline --data {data}'
  && !seen.has(c.data) && seen.add(c.data));
for (const c of cases) {
  const coverage = c.coverage || c.lab_coverage;
  if (!coverage && !(c.message || '').startsWith('{data}/')) {
    console.error(`bad_inputs.test.mjs: case ${c.name} says neither a coverage nor a message about its files`);
    process.exit(2);
  }
}

// The datasets are served beside the site (same origin), then removed.
const served = path.join(dist, 'bad_inputs');
fs.rmSync(served, { recursive: true, force: true });
fs.cpSync(path.join(corpus, 'datasets'), served, { recursive: true });

let failures = 0;
let passed = 0;
async function check(name, f) {
  try { await f(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failures++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

// The CLI's one line for a case's folder, as served (run from `dist`, so it names
// `bad_inputs/NAME/…`, which the page's URL of the same file ends with).
function cliMessage(c) {
  const args = c.args.map(a => a.replaceAll('{data}', `bad_inputs/${c.data}`));
  const r = spawnSync(quantbot, args, { cwd: dist, encoding: 'utf8' });
  assert.equal(r.status, c.exit, `the CLI's exit code: ${r.stderr}`);
  assert.ok(r.stderr.startsWith('quantbot: ') && r.stderr.endsWith('\n'), `the CLI's line: ${r.stderr}`);
  return r.stderr.slice('quantbot: '.length, -1);
}

function summaryOf(coverage) {
  return {
    calls: `${coverage.eligible} eligible`,
    excluded: REASONS.map(r => `${r} ${coverage[r] || 0}`).join(' · '),
  };
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'] });

// A page with nothing loaded, its workers ready (so no load can start before them); what goes
// wrong in it is collected in `page.trouble`.
async function open(base) {
  // Service workers blocked: the one-worker runs must stay one-worker (see publish.test.mjs).
  const page = await browser.newPage({ serviceWorkers: 'block' });
  page.trouble = [];
  page.on('pageerror', e => page.trouble.push(`page error: ${e.message}`));
  page.on('dialog', d => { page.trouble.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('console', m => { if (/panicked/.test(m.text())) page.trouble.push(`console: ${m.text()}`); });
  await page.goto(`${base}?autoload=0`);
  await page.waitForFunction(() => /ready/.test(document.querySelector('#pool')?.textContent || ''),
    null, { timeout: 60000 });
  return page;
}

async function load(page, url) {
  await page.fill('#data-url', url);
  await page.click('#load-url');
  await page.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error').textContent,
    null, { timeout: 60000 });
  return {
    error: await page.textContent('#load-error'),
    loaded: await page.evaluate(() => window.quantbotLoaded || null),
  };
}

const isolated = await serve(dist);
const plain = await serve(dist, 0, { isolation: false });
const modes = [
  ['worker pool', `http://127.0.0.1:${isolated.address().port}/`],
  ['one worker', `http://127.0.0.1:${plain.address().port}/`],
];
try {
  for (const [mode, base] of modes) {
    for (const c of cases) {
      await check(`${mode}: ${c.name}`, async () => {
        const page = await open(base);
        try {
          const folder = `${base}bad_inputs/${c.data}`;
          const got = await load(page, `bad_inputs/${c.data}/`);
          const coverage = c.coverage || c.lab_coverage;
          if (coverage) {
            assert.equal(got.error, '', `load error: ${got.error}`);
            const want = summaryOf(coverage);
            assert.equal((await page.textContent('#summary-calls')).trim(), want.calls);
            assert.equal((await page.textContent('#summary-excluded')).trim(), want.excluded);
          } else {
            assert.equal(got.loaded, null, 'the dataset loaded');
            assert.equal(got.error, c.message.replaceAll('{data}', folder));
            const cli = cliMessage(c);
            assert.ok(got.error.endsWith(cli) && got.error.includes(`/${cli}`),
              `the page's message ${JSON.stringify(got.error)} does not contain the CLI's ${JSON.stringify(cli)}`);
          }
          if (c.data === 'odd-caller-names') {
            // The names run through the engine and show as text: no markup, no script.
            await page.click('#run');
            await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent,
              null, { timeout: 60000 });
            assert.equal(await page.textContent('#run-error'), '');
            const names = JSON.parse(await page.evaluate(() => window.quantbotResults)).per_caller.map(p => p.caller);
            assert.equal(names.length, 2);
            const text = await page.textContent('#callers');
            assert.ok(text.includes('<script>alert(1)</script><b>Al</b>&amp;'), 'the HTML shows as text');
            assert.equal(await page.locator('#callers b, #callers script').count(), 0, 'markup from a name');
          }
          assert.deepEqual(page.trouble, []);
        } finally {
          await page.close();
        }
      });
    }
  }
} finally {
  await browser.close();
  isolated.close();
  plain.close();
  fs.rmSync(served, { recursive: true, force: true });
}
console.log(`bad inputs e2e: ${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
