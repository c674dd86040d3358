// The lab's Content-Security-Policy, written into a built page as a <meta> tag: `cargo xtask`
// runs it on dist/index.html after `trunk build`, so `cargo xtask lab` and any host that serves
// the folder send it. Scripts come from the site itself, plus Trunk's one inline loader, allowed
// by the SHA-256 of its exact text (no 'unsafe-inline', no eval but WebAssembly's); workers from
// the site or from blob: URLs (wasm-bindgen-rayon starts each pool worker from a blob of its own
// script, which it fetched from the site; a blob worker keeps this page's policy); styles and
// images from the site, plus the one <style> block the candle chart's library writes for its
// attribution logo (allowed by the SHA-256 of its exact text: `LWC_ATTRIBUTION_STYLE`); fetches from the site or over https (a dataset published elsewhere);
// nothing else (no frames, objects, fonts, forms or <base>).
// Usage: node web/csp.mjs DIST/index.html
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The style block Lightweight Charts 5.3.0 adds for its TradingView attribution link, kept as
 * its licence notice asks (www/vendor/lightweight-charts/README.md). */
export const LWC_ATTRIBUTION_STYLE = 'a#tv-attr-logo{--fill:#131722;--stroke:#fff;position:absolute;left:10px;bottom:10px;height:19px;width:35px;margin:0;padding:0;border:0;z-index:3;}a#tv-attr-logo[data-dark]{--fill:#D1D4DC;--stroke:#131722;}';

const sha256 = t => `'sha256-${crypto.createHash('sha256').update(t, 'utf8').digest('base64')}'`;

/** The policy for a page whose inline scripts have these texts. */
export function policy(inlineScripts) {
  const hashes = inlineScripts.map(sha256);
  return [
    "default-src 'none'",
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`.trim(),
    "worker-src 'self' blob:",
    "connect-src 'self' https:",
    `style-src 'self' ${sha256(LWC_ATTRIBUTION_STYLE)}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The page with its policy: every inline <script>'s text hashed; an earlier policy replaced. */
export function withPolicy(html) {
  const inline = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    .filter(m => !/\bsrc\s*=/.test(m[1]))
    .map(m => m[2]);
  const page = html.replace(/[ \t]*<meta http-equiv="Content-Security-Policy"[^>]*>\n?/g, '');
  const charset = page.match(/<meta charset="utf-8"\s*\/?>/i);
  if (!charset) throw new Error('no <meta charset="utf-8"> to put the policy after');
  const at = charset.index + charset[0].length;
  const meta = `\n    <meta http-equiv="Content-Security-Policy" content="${policy(inline)}" />`;
  return page.slice(0, at) + meta + page.slice(at);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const file = process.argv[2];
  if (!file) { console.error('usage: node web/csp.mjs DIST/index.html'); process.exit(2); }
  fs.writeFileSync(file, withPolicy(fs.readFileSync(file, 'utf8')));
}
