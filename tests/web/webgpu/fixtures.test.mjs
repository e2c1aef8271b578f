// The tiny SD 1.5 and SDXL models on the WebGPU backend (wasm, Node + Dawn) against diffusers'
// reference outputs and against the CPU backend: tests/backend/webgpu/wasm_fixtures.cpp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { openDeviceModule, printCases } from './device_module.mjs';

const fixtures = fileURLToPath(new URL('../../fixtures', import.meta.url));

test('webgpu models reproduce the fixtures', { timeout: 1200000 }, async () => {
  const { host, call } = await openDeviceModule('webgpu_fixtures');
  try {
    const report = await call('websd_webgpu_fixtures', ['string'], [fixtures]);
    printCases(report);
    assert.equal(report.error, undefined, report.error);
    assert.ok(report.cases.length >= 8);
    assert.deepEqual(report.cases.filter((c) => !c.ok), []);
    console.log(`host stats: ${JSON.stringify(host.stats())}`);
  } finally {
    host.destroy();
  }
});
