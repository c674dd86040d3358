import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
const server = await serve(process.argv[2] || '../../dist');
const port = server.address().port;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.on('pageerror', e => console.log('[pageerror]', e.message));
page.on('console', m => console.log('[console]', m.text().slice(0, 300)));
const t0 = Date.now();
await page.goto(`http://127.0.0.1:${port}/`);
await page.waitForFunction(() => window.quantbotLoaded || document.querySelector('#load-error').textContent, null, { timeout: 600000 });
console.log('loaded', (Date.now() - t0) / 1000, await page.textContent('#load-status'), await page.textContent('#load-error'));
await page.waitForSelector('#run:not([disabled])', { timeout: 60000 });
const t1 = Date.now();
await page.click('#run');
await page.waitForFunction(() => window.quantbotResults || document.querySelector('#run-error').textContent, null, { timeout: 600000 });
console.log('ran', (Date.now() - t1) / 1000, await page.textContent('#run-stats'), await page.textContent('#run-error'));
await page.screenshot({ path: '/tmp/lab.png', fullPage: false });
await browser.close();
server.close();
