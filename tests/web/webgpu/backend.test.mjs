// The C++ WebGPU backend (compiled to wasm) against the CPU backend on a real WebGPU device:
// Node + Dawn, SwiftShader unless WEBSD_SWIFTSHADER=0. Needs `make wasm` and the npm package
// `webgpu` (scripts/install_web_deps.sh). The cases live in tests/backend/webgpu/wasm_selftest.cpp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { createGpuHost } from '../../../web/host/gpu_host.mjs';
import { nodeGpu } from '../../../web/host/node_gpu.mjs';

const require = createRequire(import.meta.url);
const SELFTEST = '../../../build-wasm/tests/webgpu_selftest.js';

test('webgpu backend ops match the cpu backend', { timeout: 300000 }, async () => {
  const gpu = await nodeGpu({ swiftshader: process.env.WEBSD_SWIFTSHADER !== '0' });
  const host = createGpuHost(gpu, { mapTimeoutMs: 60000 });
  await host.init();
  try {
    // The host's init is async, so it is ready before the module starts; C++ finds it here.
    const module = await require(SELFTEST)({ websdGpuHost: host });
    const text = await module.ccall('websd_webgpu_selftest', 'string', [], [], { async: true });
    const report = JSON.parse(text);
    assert.equal(report.error, undefined, report.error);
    for (const c of report.cases) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: maxErr ${c.maxErr} (tol ${c.tol}) ${c.detail}`);
    assert.deepEqual(report.cases.filter((c) => !c.ok), []);
    const stats = host.stats();
    console.log(`host stats: ${JSON.stringify(stats)}`);
    assert.equal(stats.buffers, 0, 'every tensor buffer was destroyed');

    // A dead device: every op fails with the host's message as websd::Error, nothing aborts or hangs.
    host.destroy();
    const dead = JSON.parse(await module.ccall('websd_webgpu_selftest', 'string', [], [], { async: true }));
    const cases = dead.cases ?? [];
    assert.ok(dead.error?.includes('gpu host: destroyed') || cases.length > 0, JSON.stringify(dead));
    for (const c of cases.filter((c) => c.name.startsWith('silu') || c.name.startsWith('linear'))) {
      assert.equal(c.ok, false);
      assert.match(c.detail, /gpu host: destroyed/);
    }
  } finally {
    host.destroy();
  }
});
