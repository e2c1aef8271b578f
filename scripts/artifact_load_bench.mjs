#!/usr/bin/env node
// Loads an artifact model (websd convert's output) the way a page does, through the same loader
// (web/lib/artifact_loader.mjs), from a local HTTP server on 127.0.0.1: cold (an empty cache), then
// warm (the server stopped, every file from the cache); optionally generates with the warm pipeline.
// Prints one JSON line per phase: seconds, WebAssembly memory (it only grows: the peak so far), the
// process's peak RSS, and for a generation the per-stage report. docs/performance.md records it.
//
//   node scripts/artifact_load_bench.mjs DIST/NAME [--backend webgpu|cpu] [--steps N --width W --height H
//        --cfg-scale G --runs R]   (no --steps: load only; R generations, the first compiling the kernels)
// webgpu runs on Dawn (the npm package webgpu); WEBSD_SWIFTSHADER=1 picks SwiftShader.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { loadWebsd } from '../web/lib/websd.mjs';
import { openModelCache } from '../web/lib/model_cache.mjs';
import { serveArtifacts } from '../tests/web/artifact_server.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
  backend: { type: 'string', default: 'webgpu' }, steps: { type: 'string' }, width: { type: 'string' },
  height: { type: 'string' }, 'cfg-scale': { type: 'string' }, runs: { type: 'string', default: '1' } } });
if (positionals.length !== 1) {
  console.error('usage: artifact_load_bench.mjs DIST/NAME [--backend webgpu|cpu] [--steps N --width W --height H --cfg-scale G --runs R]');
  process.exit(2);
}
const dir = path.resolve(positionals[0]);
const backend = values.backend;
const mib = (n) => Math.round(n / 2 ** 20);
const peakRssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

let gpuHost;
if (backend === 'webgpu') {
  const { nodeGpu } = await import('../web/host/node_gpu.mjs');
  const { createGpuHost } = await import('../web/host/gpu_host.mjs');
  gpuHost = createGpuHost(await nodeGpu({ swiftshader: process.env.WEBSD_SWIFTSHADER === '1' }), { mapTimeoutMs: 600000 });
  await gpuHost.init();
}
const cacheDir = mkdtempSync(path.join(tmpdir(), 'websd-bench-cache-'));
const cache = await openModelCache({ dir: cacheDir });
const server = await serveArtifacts(path.dirname(dir));
const url = `${server.url}/${path.basename(dir)}/`;

async function load(phase) {
  const websd = await loadWebsd();
  const start = performance.now();
  let fromCache = 0;
  let files = 0;
  const pipe = await websd.loadModel(url, { backend, gpuHost, cache, onProgress: (e) => {
    if (e.status !== 'done') return;
    files++;
    if (e.fromCache) fromCache++;
  } });
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ phase, backend, model: url, seconds: +seconds.toFixed(3), files, fromCache,
    modelMiB: mib(pipe.info.totalBytes), wasmMiB: mib(websd.memoryBytes), peakRssMiB: peakRssMiB() }));
  return { websd, pipe };
}

try {
  (await load('cold')).pipe.dispose();
  await server.close();  // warm: nothing can come from the network
  const { websd, pipe } = await load('warm');
  if (values.steps !== undefined) {
    const options = { prompt: 'a photograph of an astronaut riding a horse', seed: 0, steps: Number(values.steps),
      width: Number(values.width ?? 0), height: Number(values.height ?? 0) };
    if (values['cfg-scale'] !== undefined) options.cfgScale = Number(values['cfg-scale']);
    for (let run = 1; run <= Number(values.runs); run++) {
      const start = performance.now();
      const r = await pipe.generate(options);
      console.log(JSON.stringify({ phase: `generate ${run}`, seconds: +((performance.now() - start) / 1000).toFixed(3),
        wasmMiB: mib(websd.memoryBytes), peakRssMiB: peakRssMiB(), stages: r.stages }));
    }
  }
  pipe.dispose();
} finally {
  await server.close().catch(() => {});
  gpuHost?.destroy();
  rmSync(cacheDir, { recursive: true, force: true });
}
