// Tests of the npm package's entry (web/lib/index.mjs) on tiny-shapes' artifacts with the CPU
// device: the options it refuses, the device choice and its fallback, busy: 'reject', the result's
// RGBA image against the engine's picture (through the PNG writer), the random seed, previews, the
// PNG's settings and readPngSettings; a lost GPU device replaced and a GPU allocation that fails (Dawn on SwiftShader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { detect, loadModel, readPngSettings } from '../../../web/lib/index.mjs';
import { loadWebsd } from '../../../web/lib/websd.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const model = path.join(root, process.env.WEBSD_BUILD ?? 'build', 'artifacts/tiny-shapes');
const cache = false;  // a local folder is verified, never cached

// A GPU object with no adapter, as a browser with WebGPU turned off gives.
const noAdapter = { requestAdapter: async () => null };

test('options: unknown names, devices and values are errors that name them', async () => {
  await assert.rejects(loadModel(model, { devise: 'cpu' }), /loadModel: unknown option 'devise' \(did you mean 'device'\?\)/);
  await assert.rejects(loadModel(model, { device: 'gpu' }), /device 'gpu' is not 'auto', 'webgpu' or 'cpu'/);
  await assert.rejects(loadModel(model, { busy: 'wait' }), /busy 'wait' is not 'queue' or 'reject'/);
  await assert.rejects(loadModel(model, { progressCallback: 3 }), /progressCallback must be a function/);
  await assert.rejects(detect({ gpus: null }), /detect: unknown option 'gpus' \(did you mean 'gpu'\?\)/);
});

test("device 'webgpu' without WebGPU is an error saying why; 'auto' falls back and says so", async () => {
  await assert.rejects(loadModel(model, { device: 'webgpu', gpu: noAdapter, cache }),
    /the WebGPU backend is unavailable: no WebGPU adapter/);
  const sd = await loadModel(model, { device: 'auto', gpu: noAdapter, cache });
  try {
    assert.equal(sd.device, 'cpu');
    assert.match(sd.notice, /^WebGPU is unavailable \(no WebGPU adapter.*running on the CPU backend/);
    const r = await sd.generate({ prompt: 'a red circle', steps: 1, seed: 3 });
    assert.equal(r.device, 'cpu');
    assert.equal(r.notice, sd.notice);
  } finally {
    sd.dispose();
  }
  const found = await detect({ gpu: noAdapter });
  assert.equal(found.webgpu, false);
  assert.match(found.reason, /no WebGPU adapter/);
});

test('generate: the RGBA image is the engine picture rounded as the PNG writer rounds; seeds, previews, PNG settings', async () => {
  const events = [];
  const sd = await loadModel(model, { device: 'cpu', cache, progressCallback: (e) => events.push(e.status) });
  const websd = await loadWebsd();
  const pipe = await websd.loadModel(model, { backend: 'cpu', cache });
  try {
    assert.deepEqual([...new Set(events)], ['initiate', 'download', 'progress', 'done', 'ready']);
    assert.equal(sd.model, 'tiny-shapes');
    assert.equal(sd.info.family, 'sd');

    const steps = [];
    const r = await sd.generate({ prompt: 'a blue square', steps: 2, seed: 11, sampler: 'euler', previewEvery: 2,
      onStep: (s) => steps.push(s) });
    assert.deepEqual(steps.map((s) => [s.step, s.total]), [[1, 2], [2, 2]]);
    assert.ok(steps.every((s) => s.ms > 0));
    assert.equal(steps[0].preview, null);
    const { preview } = steps[1];
    assert.deepEqual([preview.width, preview.height, preview.channels, preview.data.length], [16, 16, 4, 16 * 16 * 4]);

    const want = await pipe.generate({ prompt: 'a blue square', steps: 2, seed: 11, scheduler: 'euler' });
    assert.deepEqual([r.image.width, r.image.height, r.image.channels], [128, 128, 4]);
    for (let p = 0; p < 128 * 128; p++) assert.equal(r.image.data[4 * p + 3], 255);
    assert.equal(r.seed, 11);
    assert.equal(r.parameters.model, 'tiny-shapes');
    assert.deepEqual(r.stages.map((s) => s.name), ['text_encoder', 'unet_step', 'unet_step', 'vae_decode']);

    // The PNG carries the settings, and its bytes are the engine's encoding of its own float
    // picture: the RGBA bytes were rounded exactly as the PNG writer rounds.
    const png = sd.png(r);
    assert.deepEqual(png, websd.encodePng(want.image, { ...want.parameters, model: 'tiny-shapes' }));
    const settings = await readPngSettings(png);
    assert.deepEqual(settings, websd.parseParameters(websd.pngParameters(png)));
    assert.deepEqual([settings.prompt, settings.steps, settings.seed, settings.sampler], ['a blue square', 2, 11, want.parameters.sampler]);
    assert.equal(await readPngSettings(websd.encodePng(want.image)), null, 'a PNG without settings');
    assert.equal(r.gpu, null, 'no GPU counters on the cpu');

    // No seed: a random one, which reproduces the picture.
    const a = await sd.generate({ prompt: 'a blue square', steps: 1 });
    const b = await sd.generate({ prompt: 'a blue square', steps: 1, seed: a.seed });
    assert.equal(typeof a.seed, 'number');
    assert.deepEqual(b.image.data, a.image.data);

    await assert.rejects(sd.generate({ prompt: 'x', stpes: 2 }), /generate: unknown option 'stpes' \(did you mean 'steps'\?\)/);
    await assert.rejects(sd.generate({ prompt: 'x', onStep: 1 }), /onStep must be a function/);
  } finally {
    sd.dispose();
    pipe.dispose();
  }
  await assert.rejects(sd.generate({ prompt: 'x' }), /the model has been disposed/);
});

test("busy: 'reject' refuses a second generate while one runs; 'queue' runs both", async () => {
  const rejecting = await loadModel(model, { device: 'cpu', cache, busy: 'reject' });
  try {
    const first = rejecting.generate({ prompt: 'a red circle', steps: 1, seed: 1 });
    await assert.rejects(rejecting.generate({ prompt: 'a red circle', steps: 1, seed: 2 }), /a generation is already running/);
    assert.equal((await first).seed, 1);
  } finally {
    rejecting.dispose();
  }
  const queueing = await loadModel(model, { device: 'cpu', cache });
  try {
    const seeds = await Promise.all([1, 2].map((seed) => queueing.generate({ prompt: 'a red circle', steps: 1, seed })));
    assert.deepEqual(seeds.map((r) => r.seed), [1, 2]);
  } finally {
    queueing.dispose();
  }
});

// `target` with the members in `overrides` replaced, the rest bound to it.
const wrap = (target, overrides) => new Proxy(target, {
  get(t, name) {
    if (name in overrides) return overrides[name];
    const v = Reflect.get(t, name);
    return typeof v === 'function' ? v.bind(t) : v;
  },
});

// Dawn's GPU object (SwiftShader) with every device it gives kept, so that the test can lose one as a
// driver reset would; the page gets each device as wrapDevice makes it.
async function recordingGpu(wrapDevice = (device) => device) {
  const { nodeGpu } = await import('../../../web/host/node_gpu.mjs');
  const dawn = await nodeGpu({ swiftshader: true });
  const devices = [];
  const gpu = wrap(dawn, { requestAdapter: async (options) => {
    const adapter = await dawn.requestAdapter(options);
    return adapter && wrap(adapter, { requestDevice: async (descriptor) => {
      const device = await adapter.requestDevice(descriptor);
      devices.push(device);
      return wrapDevice(device);
    } });
  } });
  return { gpu, devices };
}

test('a lost GPU device is replaced by the next generate: a new device, the model loaded again, the same picture', async () => {
  const { gpu, devices } = await recordingGpu();
  const loads = [];
  const sd = await loadModel(model, { device: 'webgpu', gpu, progressCallback: (e) => e.status === 'ready' && loads.push(e) });
  try {
    const settings = { prompt: 'a red circle', steps: 1, seed: 3, width: 32, height: 32 };
    const before = await sd.generate(settings);
    assert.equal(sd.device, 'webgpu');
    assert.equal(devices.length, 1);
    devices[0].destroy();
    await devices[0].lost;
    const after = await sd.generate(settings);
    assert.equal(devices.length, 2, 'a new device');
    assert.equal(loads.length, 2, 'the model loaded onto it');
    assert.match(after.notice, /generated on a new GPU device, the model loaded again/);
    assert.deepEqual(after.image.data, before.image.data);
    // The GPU host's counters: the new device's, with the model's buffers live on it.
    assert.ok(after.gpu.buffers > 0 && after.gpu.bytesAllocated > 0 && after.gpu.pipelines > 0, JSON.stringify(after.gpu));
  } finally {
    sd.dispose();
  }
});

// Lost while a run is under way (in its first step's onStep, before the second step's work is
// submitted): that run rejects with the host's message, and the next is drawn on a new device, the
// same picture as before the loss.
test('a GPU device lost in the middle of a run: the run says so, the next runs on a new device with the same picture', async () => {
  const { gpu, devices } = await recordingGpu();
  const sd = await loadModel(model, { device: 'webgpu', gpu });
  try {
    const settings = { prompt: 'a red circle', steps: 2, seed: 3, width: 32, height: 32 };
    const before = await sd.generate(settings);
    await assert.rejects(sd.generate({ ...settings, onStep: ({ step }) => step === 1 && devices[0].destroy() }),
      { message: /^WebGPU device lost \(destroyed\): / });
    const after = await sd.generate(settings);
    assert.equal(devices.length, 2, 'a new device');
    assert.match(after.notice, /generated on a new GPU device, the model loaded again/);
    assert.deepEqual(after.image.data, before.image.data);
  } finally {
    sd.dispose();
  }
});

// A device whose buffer allocations fail, while fail() says so, as a GPU out of memory fails them:
// createBuffer still hands back a buffer, and the out-of-memory error scope open around it pops
// with the error (Dawn's own GPUOutOfMemoryError cannot be constructed from JS; this one has its name).
class GPUOutOfMemoryError {
  constructor(message) { this.message = message; }
}
function failingAllocations(device, fail) {
  const scopes = [];
  return wrap(device, {
    pushErrorScope: (filter) => {
      scopes.push({ filter, failed: false });
      device.pushErrorScope(filter);
    },
    createBuffer: (descriptor) => {
      const scope = scopes.findLast((s) => s.filter === 'out-of-memory');
      if (scope && fail()) scope.failed = true;
      return device.createBuffer(descriptor);
    },
    popErrorScope: () => {
      const scope = scopes.pop();
      const popped = device.popErrorScope();
      return scope?.failed ? popped.then(() => new GPUOutOfMemoryError('Out of memory (simulated)')) : popped;
    },
  });
}

test('a GPU allocation that fails in the middle of a run: the run says the GPU is out of memory; the next run is the same picture', async () => {
  let failNext = 0;
  let failed = 0;
  const fail = () => failNext > 0 && (failNext--, ++failed > 0);
  const { gpu } = await recordingGpu((device) => failingAllocations(device, fail));
  const sd = await loadModel(model, { device: 'webgpu', gpu });
  try {
    const settings = { prompt: 'a red circle', steps: 2, seed: 3, width: 32, height: 32 };
    const before = await sd.generate(settings);
    const held = before.gpu.buffers;
    failNext = 1;  // the next buffer the engine asks for: one of the run's activations
    const error = await sd.generate(settings).then(() => null, (e) => e);
    assert.ok(error, 'the run failed');
    assert.match(error.message, /^WebGPU GPUOutOfMemoryError in createBuffer\(\d+\): Out of memory \(simulated\) \(the GPU is out of memory: /);
    assert.equal(failed, 1, 'one allocation failed');
    const after = await sd.generate(settings);
    assert.equal(after.notice, before.notice, 'the same device, nothing recovered');
    assert.deepEqual(after.image.data, before.image.data);
    assert.equal(after.gpu.buffers, held, 'the failed run left no buffer behind');
  } finally {
    sd.dispose();
  }
});
