// Loads one of the wasm device-test modules (tests/CMakeLists.txt: webgpu_selftest,
// webgpu_fixtures) with an initialised JS GPU host on Node + Dawn (SwiftShader unless
// WEBSD_SWIFTSHADER=0) and calls its entry point, which returns a JSON report
// {cases: [{name, maxErr, tol, ok, detail}]} or {error}.
import { createRequire } from 'node:module';

import { createGpuHost } from '../../../web/host/gpu_host.mjs';
import { nodeGpu } from '../../../web/host/node_gpu.mjs';

const require = createRequire(import.meta.url);
const build = process.env.WEBSD_WASM_BUILD ?? 'build-wasm';

/** @param {{ gpu?: GPU }} [options] gpu: another GPU object than nodeGpu()'s (Dawn's null adapter) */
export async function openDeviceModule(name, options = {}) {
  const gpu = options.gpu ?? await nodeGpu({ swiftshader: process.env.WEBSD_SWIFTSHADER !== '0' });
  const host = createGpuHost(gpu, { mapTimeoutMs: 120000 });
  await host.init();
  // The host's init is async, so it is ready before the module starts; C++ finds it there.
  const module = await require(`../../../${build}/tests/${name}.js`)({ websdGpuHost: host });
  const call = async (entry, argTypes = [], args = []) =>
    JSON.parse(await module.ccall(entry, 'string', argTypes, args, { async: true }));
  return { gpu, host, module, call };
}

export function printCases(report) {
  for (const c of report.cases ?? []) {
    console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: maxErr ${c.maxErr} (tol ${c.tol}) ${c.detail}`);
  }
}
