// The WebAssembly build under Node (make test-wasm): the tiny-sd15 PNDM golden through the JS API
// and through the Node CLI, and errors arriving as JS Errors with websd's message.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadWebsd } from '../../web/lib/websd.mjs';
import { diff, readSafetensors } from './safetensors.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const model = path.join(root, 'tests/fixtures/tiny-sd15/model');
const goldenDir = path.join(root, 'tests/fixtures/tiny-sd15/golden');
const cli = path.join(root, 'web/cli/websd-node.mjs');
// tests/fixtures/README.md's tolerances for the full pipeline's image.
const MAX_ABS = 5e-3;
const MEAN_ABS = 1e-3;

let websd;
let work;
before(async () => {
  websd = await loadWebsd();
  work = mkdtempSync(path.join(tmpdir(), 'websd-wasm-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function golden(name) {
  const settings = JSON.parse(readFileSync(path.join(goldenDir, `${name}.json`), 'utf8'));
  return { settings, tensors: readSafetensors(path.join(goldenDir, `${name}.safetensors`)) };
}

function assertImageClose(got, want) {
  assert.deepEqual(got.shape, want.shape);
  const d = diff(got.data, want.data);
  assert.ok(d.max <= MAX_ABS && d.mean <= MEAN_ABS, `image differs: max abs ${d.max}, mean abs ${d.mean}`);
}

test('pndm_10 golden through the JS API, CPU backend', () => {
  const { settings, tensors } = golden('pndm_10');
  const pipe = websd.loadPipeline(model, { backend: 'cpu' });
  const steps = [];
  try {
    const r = pipe.generate(
      { prompt: settings.prompt, negativePrompt: settings.negative_prompt, steps: settings.steps,
        cfgScale: settings.guidance_scale, seed: settings.seed },
      (step, total) => steps.push([step, total]));
    assertImageClose(r.image, tensors.image);
    assert.deepEqual(Array.from(r.timesteps.data), Array.from(tensors.timesteps.data));
    assert.equal(steps.length, tensors.timesteps.data.length);
    assert.deepEqual(steps.at(-1), [steps.length, steps.length]);
    assert.equal(websd.encodePng(r.image).subarray(1, 4).toString(), [...Buffer.from('PNG')].toString());
  } finally {
    pipe.dispose();
  }
});

test('the Node CLI writes the PNG and the same --save-tensors file as the native CLI', () => {
  const { settings, tensors } = golden('pndm_10');
  const png = path.join(work, 'out.png');
  const saved = path.join(work, 'out.safetensors');
  const stdout = execFileSync('node', [cli, 'generate', '--model', model, '--prompt', settings.prompt,
    '--negative-prompt', settings.negative_prompt, '--steps', String(settings.steps),
    '--cfg-scale', String(settings.guidance_scale), '--seed', String(settings.seed), '-o', png,
    '--save-tensors', saved], { encoding: 'utf8' });
  assert.match(stdout, /^wrote .*out\.png \(128x128, 10 steps, /);
  assert.deepEqual([...readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out = readSafetensors(saved);
  assert.deepEqual(Object.keys(out).sort(), ['image', 'latents', 'negative_prompt_embeds', 'prompt_embeds', 'timesteps']);
  assertImageClose(out.image, tensors.image);
});

test('errors reach JS as Errors carrying websd\'s one-line message', () => {
  assert.throws(() => websd.loadPipeline(path.join(work, 'missing')), { message: /missing: model folder not found/ });
  assert.throws(() => websd.loadPipeline(model, { backend: 'webgpu' }), { message: "unknown backend 'webgpu' (this build has: cpu)" });
  const pipe = websd.loadPipeline(model);
  try {
    assert.throws(() => pipe.generate({ prompt: 'x', steps: 1, scheduler: 'nope' }), { message: /scheduler 'nope' is not one websd knows/ });
    assert.throws(() => pipe.generate({ prompt: 'x', steps: 1, width: 100 }), Error);
    // The module is still usable after an error.
    assert.equal(pipe.generate({ prompt: 'x', steps: 1, cfgScale: 1 }).image.shape.length, 3);
  } finally {
    pipe.dispose();
  }
  const r = spawnSync('node', [cli, 'generate', '--model', path.join(work, 'missing'), '--prompt', 'x', '-o', path.join(work, 'x.png')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^websd-node: error: .*model folder not found/);
  assert.equal(spawnSync('node', [cli, 'generate', '--prompt', 'x'], { encoding: 'utf8' }).status, 2);
});

test('tokenize matches the CLIP ids', () => {
  const ids = websd.tokenize(path.join(model, 'tokenizer'), 'a red circle');
  assert.equal(ids.length, 77);
  assert.deepEqual(ids.slice(0, 5), [49406, 320, 736, 7117, 49407]);
});
