// `websd-node.mjs serve DIST`: the page, its WebAssembly build and the artifact models, from
// 127.0.0.1, with the types browsers insist on and nothing outside the served folders.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startServe } from '../serve_process.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = path.join(root, 'web/cli/websd-node.mjs');
let work, server, url;

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'websd-serve-'));
  for (const [name, family] of [['sd15', 'sd'], ['more/sdxl', 'sdxl']]) {
    mkdirSync(path.join(work, 'dist', name), { recursive: true });
    writeFileSync(path.join(work, 'dist', name, 'model.json'), JSON.stringify({ family, default_width: 512, default_height: 512 }));
  }
  mkdirSync(path.join(work, 'dist/empty'));
  writeFileSync(path.join(work, 'secret.txt'), 'outside');
  symlinkSync(path.join(work, 'secret.txt'), path.join(work, 'dist/sd15/escape.txt'));
  server = await startServe(path.join(work, 'dist'));
  url = server.url;
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

test('serves the page, the build and the models with their types', async () => {
  const get = async (p) => {
    const r = await fetch(url + p);
    return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
  };
  assert.match((await get('/')).body, /url=\/web\/page\//);
  const page = await get('/web/page/');
  assert.equal(page.status, 200);
  assert.equal(page.type, 'text/html; charset=utf-8');
  assert.match(page.body, /page\.mjs/);
  assert.equal((await get('/web/lib/websd.mjs')).type, 'text/javascript');
  assert.equal((await get('/build-wasm/web/websd_web.wasm')).type, 'application/wasm');
  assert.deepEqual(JSON.parse((await get('/models.json')).body), [
    { name: 'more/sdxl', url: '/models/more/sdxl/', family: 'sdxl', width: 512, height: 512 },
    { name: 'sd15', url: '/models/sd15/', family: 'sd', width: 512, height: 512 },
  ]);
  assert.equal(JSON.parse((await get('/models/sd15/model.json')).body).family, 'sd');
  // Every answer, the engine's worker included, under one Content-Security-Policy: WebAssembly may
  // compile, nothing may eval.
  for (const p of ['/web/page/', '/web/lib/engine_worker.mjs', '/models.json', '/nope']) {
    const policy = (await fetch(url + p)).headers.get('content-security-policy');
    assert.match(policy, /script-src 'self' 'wasm-unsafe-eval';/, p);
    assert.doesNotMatch(policy, /'unsafe-eval'|'unsafe-inline'/, p);
  }
});

test('nothing outside the served folders', async () => {
  for (const p of ['/models/../secret.txt', '/models/%2e%2e/secret.txt', '/web/../Makefile', '/Makefile',
    '/models/sd15/escape.txt', '/models/nope.json', '/build-wasm/web/../../Makefile'])
    assert.equal((await fetch(url + p)).status, 404, p);
  assert.equal((await fetch(url + '/models.json', { method: 'POST' })).status, 405);
});

test('a missing folder is an error that says so', () => {
  const r = spawnSync(process.execPath, [cli, 'serve', path.join(work, 'nope')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nope: no such folder \(the artifact models to serve\)/);
  const usage = spawnSync(process.execPath, [cli, 'serve'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
});
