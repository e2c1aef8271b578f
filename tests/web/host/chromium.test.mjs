// The GPU host in headless Chromium (SwiftShader where there is no GPU), driven by Playwright with
// the system's /usr/bin/chromium (never a downloaded browser). Run with
//   node --test tests/web/host/chromium.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium, pageLogs } from './headless_chromium.mjs';
import { serveStatic } from '../../../web/cli/static_server.mjs';
import { M, K, N, dyadic, matmulRef } from './kernels.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let server, chrome, context;

before(async () => {
  server = await serveStatic({ '/web/': path.join(ROOT, 'web'), '/tests/web/': path.join(ROOT, 'tests/web') });
  chrome = await launchChromium();
  context = chrome.context;
});

after(async () => {
  await chrome?.close();
  await server?.close();
});

test('headless Chromium runs the 37×53×29 matmul through the gpu host, and reports errors', async () => {
  const page = await context.newPage();
  const logs = pageLogs(page);
  await page.goto(`${server.url}/tests/web/host/chromium_page.html`);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60000 });
  const r = await page.evaluate(() => window.__result);
  assert.ok(r.ok, `page failed: ${r.error}\n${logs.join('\n')}`);
  console.log(`chromium adapter: ${JSON.stringify(r.adapterInfo)} features: ${r.features.join(' ')}`);
  assert.deepEqual(Float32Array.from(r.c), matmulRef(dyadic(M * K, 1), dyadic(K * N, 2), M, K, N));
  assert.match(r.compileError, /WGSL compilation of entry point 'main' failed:\n {2}3:11: /);
  assert.match(r.validationError, /WebGPU GPUValidationError in dispatch/);
  assert.equal(r.stats.dispatches, 2);
  assert.equal(r.stats.pipelines, 3);
  assert.equal(r.stats.bytesAllocated, 0);
  await page.close();
});
