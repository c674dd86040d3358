// The static server of `cargo xtask lab` and the end-to-end test (issue 20, acceptance 5): it
// survives malformed paths and serves nothing outside its folder. Usage: node serve.test.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { serve } from './serve.mjs';

// A site folder `dist` beside a folder whose name starts the same (`dist-x`) and a secret file,
// with a symbolic link inside the site pointing out of it.
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-test-'));
const dist = path.join(base, 'dist');
fs.mkdirSync(path.join(dist, 'data'), { recursive: true });
fs.mkdirSync(path.join(base, 'dist-x'));
fs.writeFileSync(path.join(dist, 'index.html'), '<p>lab</p>');
fs.writeFileSync(path.join(dist, 'data', 'a b.json'), '{"ok":true}');
fs.writeFileSync(path.join(base, 'dist-x', 'secret.txt'), 'SECRET');
fs.writeFileSync(path.join(base, 'secret.txt'), 'SECRET');
fs.symlinkSync(path.join(base, 'secret.txt'), path.join(dist, 'link.txt'));

const server = await serve(dist);
const port = server.address().port;

// A raw request: the path is sent exactly as written (no client-side normalization).
function get(rawPath) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}

let passed = 0;
let failed = 0;
async function check(name, f) {
  try { await f(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failed++; console.log(`FAIL ${name}: ${e.stack || e}`); }
}

await check('serves the site, its folders and encoded names', async () => {
  assert.deepEqual(await get('/'), { status: 200, body: '<p>lab</p>' });
  assert.equal((await get('/data/a%20b.json')).body, '{"ok":true}');
  assert.equal((await get('/missing.js')).status, 404);
});

await check('a malformed % or a NUL is a 400 and the server keeps serving', async () => {
  for (const p of ['/%E0%A4%A', '/%', '/data/%zz', '/%00', '/index.html%00.png']) {
    const r = await get(p);
    assert.equal(r.status, 400, `${p}: ${r.status}`);
  }
  assert.equal((await get('/')).status, 200);
});

await check('nothing outside the folder: .., encoded .., a sibling named like it, a symbolic link', async () => {
  for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/data/../../secret.txt',
    '/../dist-x/secret.txt', '/%2e%2e%2fdist-x%2fsecret.txt', '/link.txt', '//etc/passwd', '/..\\secret.txt']) {
    const r = await get(p);
    assert.notEqual(r.status, 200, `${p} was served`);
    assert.ok(!r.body.includes('SECRET'), `${p} leaked the secret`);
  }
  assert.equal((await get('/')).status, 200);
});

server.close();
fs.rmSync(base, { recursive: true, force: true });
console.log(`serve e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
