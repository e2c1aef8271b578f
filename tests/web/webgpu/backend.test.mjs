// The C++ WebGPU backend (compiled to wasm) against the CPU backend on a real WebGPU device:
// Node + Dawn, SwiftShader unless WEBSD_SWIFTSHADER=0. Needs `make wasm` and the npm package
// `webgpu` (scripts/install_web_deps.sh). The cases are the table in tests/backend/op_cases.cpp, run
// by tests/backend/webgpu/wasm_selftest.cpp. WEBSD_OPS_PERF=1 (for a real GPU) also times the
// table's Stable Diffusion shapes and prints ms and GFLOP/s per op (WEBSD_OPS_PERF_REPEATS, default 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { openDeviceModule, printCases } from './device_module.mjs';
import { nodeGpu } from '../../../web/host/node_gpu.mjs';

test('webgpu backend ops match the cpu backend', { timeout: 900000 }, async () => {
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

// SwiftShader has no subgroup matrices, so the tensor-core kernels run only on a real GPU; Dawn's
// null adapter offers every feature and validates and compiles each pipeline (running nothing),
// which catches a WGSL mistake here. Their values are checked where they run (the test above).
test('tensor-core kernels compile for every op case (Dawn null adapter)', { timeout: 300000 }, async () => {
  await nodeGpu();  // WebGPU's globals
  const dawn = await import('webgpu');
  const gpu = dawn.create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']);
  const { host, call } = await openDeviceModule('webgpu_selftest', { gpu });
  try {
    assert.ok(host.gpuDevice().features.has('chromium-experimental-subgroup-matrix'), 'the null adapter offers subgroup matrices');
    const report = await call('websd_webgpu_tensor_core_compile');
    assert.equal(report.error, undefined, report.error);
    assert.deepEqual(report.cases.filter((c) => !c.ok), []);
    assert.ok(host.stats().pipelines > 0);
  } finally {
    host.destroy();
  }
  assert.ok(gpu);  // Dawn's instance lives until its devices are gone
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
