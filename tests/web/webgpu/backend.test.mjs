// The C++ WebGPU backend (compiled to wasm) against the CPU backend on a real WebGPU device:
// Node + Dawn, SwiftShader unless WEBSD_SWIFTSHADER=0. Needs `make wasm` and the npm package
// `webgpu` (scripts/install_web_deps.sh). The cases live in tests/backend/webgpu/wasm_selftest.cpp.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { openDeviceModule, printCases } from './device_module.mjs';

test('webgpu backend ops match the cpu backend', { timeout: 300000 }, async () => {
  const { host, call } = await openDeviceModule('webgpu_selftest');
  try {
    const report = await call('websd_webgpu_selftest');
    assert.equal(report.error, undefined, report.error);
    printCases(report);
    assert.deepEqual(report.cases.filter((c) => !c.ok), []);
    const stats = host.stats();
    console.log(`host stats: ${JSON.stringify(stats)}`);
    assert.equal(stats.buffers, 0, 'every tensor buffer was destroyed');

    // A dead device: every op fails with the host's message as websd::Error, nothing aborts or hangs.
    host.destroy();
    const dead = await call('websd_webgpu_selftest');
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
