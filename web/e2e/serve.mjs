// Serves a folder on 127.0.0.1 with the headers WebAssembly threads need (COOP/COEP), for
// `cargo xtask lab` and the end-to-end test. Usage: node serve.mjs DIR [PORT] (0 = any port).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.parquet': 'application/octet-stream', '.png': 'image/png',
};

// The file a request path names inside `root` (real paths, so neither `..`, an encoded `..`,
// a sibling folder whose name starts like the root's, nor a symbolic link leads outside), or
// an HTTP status: 400 for a path that does not decode (a malformed `%`) or holds a NUL, 403 for
// one that leaves the folder.
export function resolveInside(root, pathname) {
  let decoded;
  try { decoded = decodeURIComponent(pathname); } catch { return 400; }
  if (decoded.includes('\0')) return 400;
  const file = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  const inside = (p, dir) => p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
  if (!inside(file, root)) return 403;
  let real;
  try { real = fs.realpathSync(file); } catch { return file; } // missing: a 404 later
  return inside(real, fs.realpathSync(root)) ? real : 403;
}

/** The rules of a `_headers` file (Cloudflare Pages, Netlify): `[pattern, {name: value}]` in
 * file order, a pattern being a path with an optional `*` at its end. */
export function parseHeaders(text) {
  const rules = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    if (!/^\s/.test(line)) { rules.push([line.trim(), {}]); continue; }
    const at = line.indexOf(':');
    if (rules.length && at > 0) rules[rules.length - 1][1][line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return rules;
}

/** The headers `rules` give a site path (every matching rule, in order; later ones win). */
export function headersFor(rules, sitePath) {
  const out = {};
  for (const [pattern, headers] of rules) {
    const hit = pattern.endsWith('*') ? sitePath.startsWith(pattern.slice(0, -1)) : sitePath === pattern;
    if (hit) Object.assign(out, headers);
  }
  return out;
}

// `isolation: false` leaves the COOP/COEP headers out (the end-to-end test of one-worker mode,
// and of a host that sets no headers). `prefix` serves the folder under a sub-path
// (`/team/lab/`; anything else is a 404), as a static host serves a project site. `headersFile`
// sends the headers a `_headers` file gives each path instead of the built-in ones.
// A request that cannot be served gets its status; nothing a client sends stops the server.
export function serve(dir, port = 0, { isolation = true, prefix = '/', headersFile = null } = {}) {
  const root = path.resolve(dir);
  const rules = headersFile ? parseHeaders(fs.readFileSync(headersFile, 'utf8')) : null;
  const server = http.createServer((req, res) => {
    let headers = isolation && !rules ? {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    } : { 'Cache-Control': 'no-store' };
    let url;
    try { url = new URL(req.url, 'http://x'); } catch { res.writeHead(400, headers).end('bad request'); return; }
    if (!url.pathname.startsWith(prefix)) { res.writeHead(404, headers).end('not found'); return; }
    const sitePath = '/' + url.pathname.slice(prefix.length);
    if (rules) headers = { ...headers, ...headersFor(rules, sitePath) };
    let file = resolveInside(root, sitePath);
    if (typeof file === 'number') { res.writeHead(file, headers).end(file === 400 ? 'bad request' : 'forbidden'); return; }
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = fs.existsSync(file) ? fs.statSync(file) : null;
      }
      if (err || !st || !st.isFile()) { res.writeHead(404, headers).end('not found'); return; }
      const type = { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Accept-Ranges': 'bytes' };
      // One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`), as static hosts answer it: 206
      // with its bytes, 416 when it lies outside the file.
      const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      let range = null;
      if (m && (m[1] !== '' || m[2] !== '')) {
        let [a, b] = m[1] === '' ? [Math.max(0, st.size - Number(m[2])), st.size - 1]
          : [Number(m[1]), m[2] === '' ? st.size - 1 : Math.min(Number(m[2]), st.size - 1)];
        if (a > b || a >= st.size) {
          res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` }).end();
          return;
        }
        range = { start: a, end: b };
        res.writeHead(206, { ...headers, ...type, 'Content-Range': `bytes ${a}-${b}/${st.size}`, 'Content-Length': b - a + 1 });
      } else {
        res.writeHead(200, { ...headers, ...type, 'Content-Length': st.size });
      }
      const stream = fs.createReadStream(file, range ?? {});
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir = 'dist', port = '8080'] = process.argv.slice(2);
  const server = await serve(dir, Number(port));
  console.log(`serving ${dir} on http://127.0.0.1:${server.address().port}/ (COOP/COEP on)`);
}
