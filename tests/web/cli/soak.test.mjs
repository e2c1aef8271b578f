// Long runs (docs/reliability.md, "Soaks"): tiny-shapes generated SOAK_RUNS times in one process
// by the native CLI on the CPU backend and by the Node CLI on WebGPU (Dawn; SwiftShader unless
// WEBSD_SWIFTSHADER=0), each run's memory taken from the CLIs' --report. Nothing may grow once the
// first runs have warmed up: not the GPU host's buffers, bytes, pipelines or kept bind groups, not
// wasm memory or the JS heap, and the native process's resident memory by no more than allocator
// noise. The Node process's resident memory is printed, not held to that: under Dawn on SwiftShader
// its native memory still grows slowly (0.07 MiB a run over 200; docs/reliability.md, "Soaks").
// `make soak` runs 200; `make test` a short smoke run (10).
// Needs `make` and `make wasm`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const runs = Number(process.env.SOAK_RUNS ?? 10);
const work = mkdtempSync(path.join(tmpdir(), 'websd-soak-'));
after(() => rmSync(work, { recursive: true, force: true }));

// The runs after this many are compared: the first ones fill the allocator's and the caches' pools.
const WARM_UP = 3;
// Resident memory may move by this much between warmed-up runs (malloc arenas, V8's heap).
const RESIDENT_SLACK = 4 * 2 ** 20;
// The JS heap's live bytes after a collection move by this much (V8's own bookkeeping).
const HEAP_SLACK = 2 * 2 ** 20;

// The smallest picture (16×16 pixels, one step) with guidance: every stage, little arithmetic, since
// SwiftShader runs the kernels on the CPU.
const SETTINGS = ['--model', path.join(root, 'assets/tiny-shapes/model'), '--prompt', 'a red circle', '--steps', '1',
  '--width', '16', '--height', '16', '--seed', '1', '--runs', String(runs)];

// check(report) asserts what must not grow besides resident memory, before it is looked at.
function soak(name, command, args, check = () => {}, residentFlat = true) {
  const report = path.join(work, `${name}.json`);
  execFileSync(command, [...args, ...SETTINGS, '-o', path.join(work, `${name}.png`), '--report', report],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WEBSD_SWIFTSHADER: process.env.WEBSD_SWIFTSHADER ?? '1' } });
  const r = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(r.runResidentBytes.length, runs);
  check(r);
  const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
  const warm = r.runResidentBytes.slice(WARM_UP);
  const growth = Math.max(...warm) - warm[0];
  const seconds = r.runSeconds.slice(WARM_UP);
  console.log(`soak ${name}: ${runs} runs, first ${r.runSeconds[0].toFixed(2)} s, then mean ` +
              `${(seconds.reduce((a, b) => a + b, 0) / seconds.length).toFixed(3)} s; resident after run ${WARM_UP + 1} ` +
              `${mib(warm[0])} MiB, at the end ${mib(warm.at(-1))} MiB, most ${mib(Math.max(...warm))} MiB` +
              (r.runMemory?.[0]?.gpu ? `; GPU after each run ${JSON.stringify(r.runMemory.at(-1).gpu)}` : ''));
  if (residentFlat) assert.ok(growth <= RESIDENT_SLACK, `${name}: resident memory grew by ${mib(growth)} MiB over ${warm.length} runs`);
}

test('CPU backend (native CLI): resident memory stays flat over the runs', { timeout: 3600000 }, () => {
  soak('cpu', path.join(root, 'build/websd'), ['generate', '--backend', 'cpu']);
});

test('WebGPU (Node CLI, Dawn): GPU buffers, bytes, pipelines, kept bind groups, wasm memory and the JS heap stay flat', { timeout: 3600000 }, () => {
  // --expose-gc: the Node CLI collects garbage before it records a run's memory, so what is left is
  // what the engine holds.
  soak('webgpu', process.execPath, ['--expose-gc', path.join(root, 'web/cli/websd-node.mjs'), 'generate', '--backend', 'webgpu'], (r) => {
    const warm = r.runMemory.slice(WARM_UP);
    for (const key of ['buffers', 'bytesAllocated', 'pipelines', 'bindGroupsKept'])
      assert.deepEqual(warm.map((m) => m.gpu[key]), warm.map(() => warm[0].gpu[key]), `GPU ${key} after each run`);
    assert.deepEqual(warm.map((m) => m.wasmBytes), warm.map(() => warm[0].wasmBytes), 'wasm memory after each run');
    const heap = warm.map((m) => m.heapBytes);
    assert.ok(Math.max(...heap) - heap[0] <= HEAP_SLACK, `JS heap after each run: ${heap.join(', ')} bytes`);
  }, false);
});
