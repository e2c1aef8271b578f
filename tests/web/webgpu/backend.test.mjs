// The C++ WebGPU backend (compiled to wasm) against the CPU backend on a real WebGPU device:
// Node + Dawn, SwiftShader unless WEBSD_SWIFTSHADER=0. Needs `make wasm` and the npm package
// `webgpu` (scripts/install_web_deps.sh). The cases are the table in tests/backend/op_cases.cpp, run
// by tests/backend/webgpu/wasm_selftest.cpp. WEBSD_OPS_PERF=1 (for a real GPU) also times the
// table's Stable Diffusion shapes and prints ms and GFLOP/s per op (WEBSD_OPS_PERF_REPEATS, default 10).
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

test('op timings at Stable Diffusion shapes (WEBSD_OPS_PERF=1)', { skip: process.env.WEBSD_OPS_PERF !== '1' && 'WEBSD_OPS_PERF is not 1',
  timeout: 600000 }, async () => {
  const { host, call } = await openDeviceModule('webgpu_selftest');
  try {
    const repeats = Number(process.env.WEBSD_OPS_PERF_REPEATS ?? 10);
    const report = await call('websd_webgpu_op_perf', ['number'], [repeats]);
    assert.equal(report.error, undefined, report.error);
    console.log('| op | ms | GFLOP/s |\n| --- | --- | --- |');
    for (const c of report.cases) {
      assert.ok(c.ms > 0, `${c.name}: ${c.ms} ms`);
      console.log(`| ${c.name} | ${c.ms.toFixed(3)} | ${c.gflops > 0 ? c.gflops.toFixed(0) : ''} |`);
    }
  } finally {
    host.destroy();
  }
});
