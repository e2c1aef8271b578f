// The GPU host under Node + Dawn (SwiftShader on machines without a GPU): run with
//   WEBSD_SWIFTSHADER=1 node --test tests/web/host/gpu_host.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createGpuHost } from '../../../web/host/gpu_host.mjs';
import { nodeGpu } from '../../../web/host/node_gpu.mjs';
import { SAXPY_WGSL, M, K, N, dyadic, matmulRef, runMatmul, bytesOf, floatsOf } from './kernels.mjs';

/** @type {GPU} */ let gpu;
const hosts = [];
async function newHost(options) {
  const host = createGpuHost(gpu, { mapTimeoutMs: 20000, ...options });
  const info = await host.init({ requiredFeatures: ['shader-f16'] });
  hosts.push(host);
  return { host, info };
}
const saxpyUniforms = (n, a, b) => {
  const u = new DataView(new ArrayBuffer(12));
  u.setUint32(0, n, true); u.setFloat32(4, a, true); u.setFloat32(8, b, true);
  return new Uint8Array(u.buffer);
};

before(async () => { gpu = await nodeGpu(); });
after(() => { for (const h of hosts) h.destroy(); });

test('init raises limits and reports the adapter', async () => {
  const { info } = await newHost();
  console.log(`adapter: ${JSON.stringify(info.adapterInfo)} features: ${info.features.join(' ')}`);
  assert.ok(info.limits.maxStorageBufferBindingSize > 128 * 1024 * 1024, 'above the 128 MiB default');
  assert.ok(info.limits.maxBufferSize > 256 * 1024 * 1024, 'above the 256 MiB default');
  assert.ok(info.limits.maxComputeInvocationsPerWorkgroup >= 256);
  // shader-f16 was asked for: enabled where the adapter has it, left out (no error) where not.
  const adapter = await gpu.requestAdapter();
  assert.equal(info.features.includes('shader-f16'), adapter.features.has('shader-f16'));
});

test('saxpy over 1000 floats, two dispatches with different uniforms in one batch', async () => {
  const { host } = await newHost();
  const n = 1000, x = dyadic(n, 7);
  const idx = host.createBuffer(n * 4), idy1 = host.createBuffer(n * 4), idy2 = host.createBuffer(n * 4);
  host.writeBuffer(idx, 0, bytesOf(x));
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  host.dispatch(pipe, [{ buffer: idx }, { buffer: idy1 }], saxpyUniforms(n, 2.5, -1), Math.ceil(n / 64), 1, 1);
  host.dispatch(pipe, [{ buffer: idx }, { buffer: idy2 }], saxpyUniforms(n, -0.75, 3), Math.ceil(n / 64), 1, 1);
  const y1 = floatsOf(await host.readBuffer(idy1, 0, n * 4));
  const y2 = floatsOf(await host.readBuffer(idy2, 0, n * 4));
  assert.deepEqual(y1, Float32Array.from(x, (v) => 2.5 * v - 1));
  assert.deepEqual(y2, Float32Array.from(x, (v) => -0.75 * v + 3));
  const s = host.stats();
  assert.equal(s.dispatches, 2);
  assert.equal(s.submits, 2, 'one submit carries both dispatches and the first read, the second read its own');
});

test('profile: GPU time per named kernel, every dispatch counted, across batches and reads', async () => {
  const { host, info } = await newHost({ profile: true, maxDispatchesPerSubmit: 3 });
  const n = 1 << 16, x = dyadic(n, 3);
  const idx = host.createBuffer(n * 4), idy = host.createBuffer(n * 4);
  host.writeBuffer(idx, 0, bytesOf(x));
  const a = host.createPipeline(SAXPY_WGSL, 'main', 'saxpy a');
  const b = host.createPipeline(`${SAXPY_WGSL}\n`, 'main', 'saxpy b');
  for (let i = 0; i < 5; i++) host.dispatch(a, [{ buffer: idx }, { buffer: idy }], saxpyUniforms(n, 2, 1), n / 64, 1, 1);
  host.dispatch(b, [{ buffer: idx }, { buffer: idy }], saxpyUniforms(n, -1, 0.5), n / 64, 1, 1);
  assert.deepEqual(floatsOf(await host.readBuffer(idy, 0, n * 4)), Float32Array.from(x, (v) => 0.5 - v), 'kernels still run');
  host.dispatch(a, [{ buffer: idx }, { buffer: idy }], saxpyUniforms(n, 2, 1), n / 64, 1, 1);
  const rows = await host.profile();
  if (!info.features.includes('timestamp-query')) {
    assert.equal(rows, null);
    return;
  }
  assert.deepEqual(rows.map((r) => [r.name, r.dispatches]).sort(), [['saxpy a', 6], ['saxpy b', 1]]);
  for (const r of rows) assert.ok(r.ms >= 0 && Number.isFinite(r.ms), JSON.stringify(r));
  assert.deepEqual(await host.profile(), [], 'profile() starts the totals again');
  // A kernel reading its sizes from `struct Dims` (src/backend/webgpu/kernels/dims.h) is timed per size.
  const fill = host.createPipeline(`struct Dims { N: u32, S: u32, }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> d: Dims;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < d.N) { y[g.x] = f32(d.S); } }`,
  'main', 'fill');
  for (const size of [64, 128, 64]) host.dispatch(fill, [{ buffer: idy }], new Uint8Array(new Uint32Array([size, 3]).buffer), 2, 1, 1);
  assert.deepEqual(floatsOf(await host.readBuffer(idy, 0, 8)), new Float32Array([3, 3]));
  assert.deepEqual((await host.profile()).map((r) => [r.name, r.dispatches]).sort(), [['fill N=128 S=3', 1], ['fill N=64 S=3', 2]]);
  const plain = (await newHost()).host;
  assert.equal(await plain.profile(), null, 'not asked for');
});

test('tiled matmul 37×53×29 matches the JS reference exactly', async () => {
  const { host } = await newHost();
  const c = await runMatmul(host);
  assert.deepEqual(c, matmulRef(dyadic(M * K, 1), dyadic(K * N, 2), M, K, N));
  assert.equal(host.stats().bytesAllocated, 0, 'all buffers destroyed');
});

test('bind groups: reused for the same pipeline, ranges and uniform slot; gone with their buffers', async () => {
  const { host } = await newHost();
  const n = 256, x = dyadic(n, 3);
  const idx = host.createBuffer(n * 4);
  let idy = host.createBuffer(n * 4);
  host.writeBuffer(idx, 0, bytesOf(x));
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  // The same dispatch in two batches: the second batch's first uniform slot is the first's.
  for (const a of [2, 3]) {
    host.dispatch(pipe, [{ buffer: idx }, { buffer: idy }], saxpyUniforms(n, a, 0), n / 64, 1, 1);
    assert.deepEqual(floatsOf(await host.readBuffer(idy, 0, n * 4)), Float32Array.from(x, (v) => a * v));
  }
  assert.equal(host.stats().bindGroups, 1);
  // Another range of the same buffer is another group.
  host.dispatch(pipe, [{ buffer: idx }, { buffer: idy, offset: 256, size: 512 }], saxpyUniforms(64, 1, 0), 1, 1, 1);
  await host.finish();
  assert.equal(host.stats().bindGroups, 2);
  // A destroyed buffer takes its groups along; a new buffer gets a new group, with right results.
  host.destroyBuffer(idy);
  idy = host.createBuffer(n * 4);
  host.dispatch(pipe, [{ buffer: idx }, { buffer: idy }], saxpyUniforms(n, -1, 1), n / 64, 1, 1);
  assert.deepEqual(floatsOf(await host.readBuffer(idy, 0, n * 4)), Float32Array.from(x, (v) => 1 - v));
  assert.equal(host.stats().bindGroups, 3);
});

test('bind groups: at most maxBindGroups kept, the least recently used forgotten first', async () => {
  const { host } = await newHost({ maxBindGroups: 2 });
  const n = 256, x = dyadic(n, 5);
  const idx = host.createBuffer(n * 4), idy = host.createBuffer(n * 4);
  host.writeBuffer(idx, 0, bytesOf(x));
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  // Each range of y is a group of its own; each dispatch is checked against the JS reference.
  const range = async (offset, a) => {
    host.dispatch(pipe, [{ buffer: idx }, { buffer: idy, offset, size: 256 }], saxpyUniforms(64, a, 0), 1, 1, 1);
    const got = floatsOf(await host.readBuffer(idy, offset, 256));
    assert.deepEqual(got, Float32Array.from(x.subarray(0, 64), (v) => a * v), `range at ${offset}, a = ${a}`);
  };
  await range(0, 2);
  await range(256, 3);
  await range(0, 4);  // reused, and now more recently used than 256's
  assert.equal(host.stats().bindGroups, 2);
  await range(512, 5);  // a third: 256's, the least recently used, is forgotten
  await range(0, 6);
  assert.equal(host.stats().bindGroups, 3, '0 was kept');
  await range(256, 7);
  assert.equal(host.stats().bindGroups, 4, '256 was forgotten and is made again');
  assert.equal(host.stats().bindGroupsKept, 2);
  host.destroyBuffer(idy);  // its groups go with it
  assert.equal(host.stats().bindGroupsKept, 0);
  host.destroyBuffer(idx);
  await host.finish();
});

test('readBuffer round-trip, unaligned ranges, and program order of writes', async () => {
  const { host } = await newHost();
  const bytes = Uint8Array.from({ length: 1001 }, (_, i) => (i * 31 + 7) & 255);
  const id = host.createBuffer(bytes.length);
  host.writeBuffer(id, 0, bytes.subarray(0, 1000));
  assert.deepEqual(await host.readBuffer(id, 0, 1000), bytes.subarray(0, 1000));
  assert.deepEqual(await host.readBuffer(id, 3, 10), bytes.subarray(3, 13));
  assert.deepEqual(await host.readBuffer(id, 0, 0), new Uint8Array(0));
  // A dispatch recorded before a write must read the old contents.
  const n = 64, x = host.createBuffer(n * 4), y = host.createBuffer(n * 4);
  host.writeBuffer(x, 0, bytesOf(new Float32Array(n).fill(1)));
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  host.dispatch(pipe, [{ buffer: x }, { buffer: y }], saxpyUniforms(n, 1, 0), 1, 1, 1);
  host.writeBuffer(x, 0, bytesOf(new Float32Array(n).fill(5)));
  assert.deepEqual(floatsOf(await host.readBuffer(y, 0, n * 4)), new Float32Array(n).fill(1));
  await assert.rejects(host.readBuffer(id, 1000, 8), /outside the buffer's 1004 bytes/);
});

test('pipeline cache: the same source compiles once', async () => {
  const { host } = await newHost();
  const a = host.createPipeline(SAXPY_WGSL, 'main');
  const b = host.createPipeline(SAXPY_WGSL, 'main');
  const c = host.createPipeline(SAXPY_WGSL + '\n', 'main');
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.equal(host.stats().pipelines, 2);
  await host.finish();
});

test('a WGSL syntax error is a JS Error with its line number', async () => {
  const { host } = await newHost();
  const bad = 'fn helper() -> f32 {\n  return 1.0;\n}\n@compute @workgroup_size(1)\nfn main() {\n  let x = ;\n}\n';
  host.createPipeline(bad, 'main');
  await assert.rejects(host.finish(), (e) => {
    assert.match(e.message, /WGSL compilation of entry point 'main' failed/);
    assert.match(e.message, /\b6:11: /, 'line 6, column 11');
    assert.match(e.message, /let x = ;/, 'quotes the line');
    return true;
  });
  // Thrown once; the host goes on working, and the broken source is not cached.
  await host.finish();
  const before = host.stats().pipelines;
  host.createPipeline(bad, 'main');
  assert.equal(host.stats().pipelines, before + 1);
  await assert.rejects(host.finish(), /6:11/);
});

test('a binding past the end of its buffer throws at once', async () => {
  const { host } = await newHost();
  const x = host.createBuffer(4000), y = host.createBuffer(4000);
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  assert.throws(() => host.dispatch(pipe, [{ buffer: x }, { buffer: y, offset: 256, size: 4000 }],
    saxpyUniforms(1000, 1, 0), 16, 1, 1), /binding 1: range \[256, 4256\) is outside buffer/);
  assert.throws(() => host.dispatch(pipe, [{ buffer: x }, { buffer: 999 }], null, 1, 1, 1), /unknown buffer id 999/);
  await host.finish();
});

test('WebGPU validation errors become JS Errors, not hangs', async () => {
  const { host } = await newHost();
  const x = host.createBuffer(4096), y = host.createBuffer(4096);
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  // Storage offsets must be multiples of minStorageBufferOffsetAlignment (256): only WebGPU checks it.
  host.dispatch(pipe, [{ buffer: x, offset: 4, size: 1024 }, { buffer: y }], saxpyUniforms(256, 1, 0), 4, 1, 1);
  await assert.rejects(host.readBuffer(y, 0, 16), /WebGPU GPUValidationError in dispatch\(pipeline \d+\)/);
  // Missing the uniform binding the shader declares.
  host.dispatch(pipe, [{ buffer: x }, { buffer: y }], null, 4, 1, 1);
  await assert.rejects(host.finish(), /GPUValidationError/);
  // Afterwards the host works again.
  host.writeBuffer(x, 0, bytesOf(new Float32Array([1, 2, 3, 4])));
  assert.deepEqual(floatsOf(await host.readBuffer(x, 0, 16)), new Float32Array([1, 2, 3, 4]));
});

test('stats: dispatches, submits (batched by threshold), bytes and peak', async () => {
  const { host } = await newHost({ maxDispatchesPerSubmit: 4 });
  const n = 256, x = host.createBuffer(n * 4), y = host.createBuffer(n * 4 + 2);
  assert.deepEqual(host.stats(), { dispatches: 0, submits: 0, bytesAllocated: 2 * n * 4 + 4,
    peakBytesAllocated: 2 * n * 4 + 4, pipelines: 0, bindGroups: 0, buffers: 2, bindGroupsKept: 0 });
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  host.writeBuffer(x, 0, bytesOf(new Float32Array(n).fill(2)));
  for (let i = 0; i < 10; i++) host.dispatch(pipe, [{ buffer: x }, { buffer: y, size: n * 4 }], saxpyUniforms(n, i, 0), 4, 1, 1);
  assert.equal(host.stats().submits, 2, 'two automatic submits after 4 and 8 dispatches');
  host.flush();
  host.flush();  // nothing recorded: no submit
  assert.equal(host.stats().submits, 3);
  assert.deepEqual(floatsOf(await host.readBuffer(y, 0, 8)), new Float32Array([18, 18]));
  host.destroyBuffer(x);
  const z = host.createBuffer(100);
  host.destroyBuffer(y);
  host.destroyBuffer(z);
  assert.deepEqual(host.stats(), { dispatches: 10, submits: 4, bytesAllocated: 0,
    peakBytesAllocated: 2 * n * 4 + 4, pipelines: 1, bindGroups: 4, buffers: 0, bindGroupsKept: 0 });  // a group per uniform slot of a batch
  assert.throws(() => host.destroyBuffer(z), /unknown buffer id/);
  assert.throws(() => host.createBuffer(2 ** 52), /maxBufferSize/);
});

test('device loss is reported by every later call, never a hang', async () => {
  const { host } = await newHost();
  const id = host.createBuffer(16);
  host.gpuDevice().destroy();  // what a GPU reset looks like to the host
  await new Promise((r) => setTimeout(r, 50));
  assert.throws(() => host.createBuffer(16), /WebGPU device lost \(destroyed\)/);
  assert.throws(() => host.flush(), /device lost/);
  await assert.rejects(host.readBuffer(id, 0, 16), /device lost/);
});
