// The WebAssembly build under Node (make test-wasm): the tiny-sd15 PNDM golden through the JS API
// and through the Node CLI, the per-stage report, random weights, and errors arriving as JS
// Errors (or rejections) with websd's message.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadWebsd } from '../../web/lib/websd.mjs';
import { diff, readSafetensors } from './safetensors.mjs';
import { componentWithinLimits, imageWithinLimits } from './tolerances.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const model = path.join(root, 'tests/fixtures/tiny-sd15/model');
const goldenDir = path.join(root, 'tests/fixtures/tiny-sd15/golden');
const cli = path.join(root, 'web/cli/websd-node.mjs');

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

// The stages of one guided run: the text encoder, one UNet step per model call, the VAE.
function assertStages(stages, unetSteps) {
  assert.deepEqual(stages.map((s) => s.name),
    ['text_encoder', ...Array(unetSteps).fill('unet_step'), 'vae_decode']);
  for (const s of stages) {
    assert.ok(s.ms > 0 && s.kernels > 0 && s.peakBytes > 0, JSON.stringify(s));
    assert.deepEqual(Object.keys(s).sort(), ['compileMs', 'kernels', 'ms', 'name', 'peakBytes', 'pipelines']);
    assert.equal(s.pipelines, 0, 'the CPU backend compiles nothing');
  }
}

// The model folder without its safetensors files: what --random-weights runs from.
function configOnlyCopy(dest) {
  cpSync(model, dest, { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
  return dest;
}

function assertImageClose(got, want) {
  assert.deepEqual(got.shape, want.shape);
  const d = diff(got.data, want.data);
  // tests/fixtures/README.md's limits for the full pipeline's image and the regression limit.
  assert.ok(imageWithinLimits(d), `image differs: max abs ${d.max}, mean abs ${d.mean}`);
}

test('pndm_10 golden through the JS API, CPU backend', async () => {
  const { settings, tensors } = golden('pndm_10');
  const pipe = websd.loadPipeline(model, { backend: 'cpu' });
  const steps = [];
  try {
    const pending = pipe.generate(
      { prompt: settings.prompt, negativePrompt: settings.negative_prompt, steps: settings.steps,
        cfgScale: settings.guidance_scale, seed: settings.seed },
      (step, total) => steps.push([step, total]));
    assert.ok(pending instanceof Promise);
    const r = await pending;
    assertImageClose(r.image, tensors.image);
    assert.deepEqual(Array.from(r.timesteps.data), Array.from(tensors.timesteps.data));
    assert.equal(steps.length, tensors.timesteps.data.length);
    assert.deepEqual(steps.at(-1), [steps.length, steps.length]);
    assertStages(r.stages, steps.length);
    assert.equal(websd.encodePng(r.image).subarray(1, 4).toString(), [...Buffer.from('PNG')].toString());
  } finally {
    pipe.dispose();
  }
});

test('the Node CLI writes the PNG and the same --save-tensors file as the native CLI', () => {
  const { settings, tensors } = golden('pndm_10');
  const png = path.join(work, 'out.png');
  const saved = path.join(work, 'out.safetensors');
  const report = path.join(work, 'stages.json');
  const stdout = execFileSync('node', [cli, 'generate', '--model', model, '--prompt', settings.prompt,
    '--negative-prompt', settings.negative_prompt, '--steps', String(settings.steps),
    '--cfg-scale', String(settings.guidance_scale), '--seed', String(settings.seed), '-o', png,
    '--save-tensors', saved, '--backend', 'cpu', '--report', report], { encoding: 'utf8' });
  assert.match(stdout, /^wrote .*out\.png \(128x128, 10 steps, /);
  // The same report line as the native CLI (src/cli/stage_report.cpp).
  assert.match(stdout.split('\n')[1], /^text encoder \d+\.\d ms; unet 11 steps, mean \d+\.\d ms, min \d+\.\d ms; vae decode \d+\.\d ms; \d+ kernels; peak cpu memory \d+\.\d MiB$/);
  const written = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(written.backend, 'cpu');
  assertStages(written.stages, 11);
  assert.deepEqual([...readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out = readSafetensors(saved);
  assert.deepEqual(Object.keys(out).sort(), ['image', 'latents', 'negative_prompt_embeds', 'prompt_embeds', 'timesteps']);
  assertImageClose(out.image, tensors.image);
});

test('errors reach JS as Errors (or rejections) carrying websd\'s one-line message', async () => {
  assert.throws(() => websd.loadPipeline(path.join(work, 'missing')), { message: /missing: model folder not found/ });
  assert.throws(() => websd.loadPipeline(model, { backend: 'nope' }), { message: "unknown backend 'nope' (this build has: cpu, webgpu)" });
  assert.throws(() => websd.loadPipeline(model, { backend: 'webgpu' }), { message: /backend 'webgpu' needs \{ gpuHost \}/ });
  assert.throws(() => websd.loadPipeline(model, { backend: 'webgpu', gpuHost: {} }), { message: /no initialised GPU host/ });
  const pipe = websd.loadPipeline(model);
  try {
    await assert.rejects(pipe.generate({ prompt: 'x', steps: 1, scheduler: 'nope' }), { message: /scheduler 'nope' is not one websd knows/ });
    await assert.rejects(pipe.generate({ prompt: 'x', steps: 1, width: 100 }), { message: /multiples of 8/ });
    await assert.rejects(pipe.generate({ steps: 1 }), { message: "option 'prompt' is required" });
    // The limits on input (docs/reliability.md), checked before anything is allocated.
    const limits = [
      [{ seed: -1 }, "option 'seed' must be an integer in [0, 2^53] (use a BigInt above that)"],
      [{ seed: 2 ** 53 + 2 }, "option 'seed' must be an integer in [0, 2^53] (use a BigInt above that)"],
      [{ seed: 0.5 }, "option 'seed' must be an integer in [0, 2^53] (use a BigInt above that)"],
      [{ seed: 2n ** 64n }, "option 'seed' must be an integer in [0, 2^64)"],
      [{ seed: -1n }, "option 'seed' must be an integer in [0, 2^64)"],
      [{ width: 8192, height: 8192 },
        'a 8192x8192 picture is larger than websd draws: at most 4096 pixels a side and 4194304 in all (2048x2048)'],
      [{ cfgScale: Infinity }, 'guidance scale must be a number from 0 to 100 (got inf)'],
      [{ prompt: 'é'.repeat(32769) },
        'the prompt is 65538 bytes; at most 65536 are accepted (the text encoder reads its first 75 tokens)'],
    ];
    for (const [options, message] of limits)
      await assert.rejects(pipe.generate({ prompt: 'x', steps: 1, ...options }), { message }, JSON.stringify(options, (k, v) => typeof v === 'bigint' ? `${v}n` : v));
    assert.equal((await pipe.generate({ prompt: 'x', steps: 1, cfgScale: 1, width: 64, height: 64, seed: 2n ** 64n - 1n })).parameters.seed,
                 2n ** 64n - 1n);
    // An exception thrown by onStep stops the run and is what generate rejects with.
    const stop = new Error('enough');
    await assert.rejects(pipe.generate({ prompt: 'x', steps: 3, cfgScale: 1 }, () => { throw stop; }), (e) => e === stop);
    // The module is still usable after an error.
    assert.equal((await pipe.generate({ prompt: 'x', steps: 1, cfgScale: 1 })).image.shape.length, 3);
  } finally {
    pipe.dispose();
  }
  await assert.rejects(loadWebsd({ moduleUrl: new URL('file:///nonexistent/websd_node.mjs') }), { message: /make wasm/ });
  const r = spawnSync('node', [cli, 'generate', '--model', path.join(work, 'missing'), '--prompt', 'x', '-o', path.join(work, 'x.png')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^websd-node: error: .*model folder not found/);
  assert.equal(spawnSync('node', [cli, 'generate', '--prompt', 'x'], { encoding: 'utf8' }).status, 2);
  const bad = spawnSync('node', [cli, 'generate', '--model', model, '--prompt', 'x', '-o', 'x.png', '--backend', 'gpu'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--backend: 'gpu' is not one of cpu, webgpu/);
});

test('generations queue one after another; dispose waits for none', async () => {
  const pipe = websd.loadPipeline(model);
  try {
    const options = { prompt: 'a red circle', steps: 1, cfgScale: 1, seed: 7 };
    const [a, b] = await Promise.all([pipe.generate(options), pipe.generate(options)]);
    assert.deepEqual(a.image.data, b.image.data);
    const pending = pipe.generate(options);
    assert.throws(() => pipe.dispose(), { message: /await generate\(\) before dispose\(\)/ });
    await pending;
  } finally {
    pipe.dispose();
  }
  await assert.rejects(pipe.generate({ prompt: 'x' }), { message: /disposed/ });
});

test('randomWeights builds the models from a config-only folder', async () => {
  const folder = configOnlyCopy(path.join(work, 'config-only'));
  assert.throws(() => websd.loadPipeline(folder), { message: /safetensors/ });
  const options = { prompt: 'a red circle', steps: 1, cfgScale: 1 };
  const pipe = websd.loadPipeline(folder, { randomWeights: 3 });
  const again = websd.loadPipeline(folder, { randomWeights: 3n });
  const real = websd.loadPipeline(model);
  try {
    const r = await pipe.generate(options);
    assert.deepEqual(r.image.shape, [128, 128, 3]);
    assert.deepEqual((await again.generate(options)).image.data, r.image.data, 'the same seed gives the same weights');
    assert.notDeepEqual((await real.generate(options)).image.data, r.image.data);
  } finally {
    for (const p of [pipe, again, real]) p.dispose();
  }
  const png = path.join(work, 'random.png');
  const report = path.join(work, 'runs.json');
  const stdout = execFileSync('node', [cli, 'generate', '--model', folder, '--random-weights', '0', '--prompt', 'x',
    '--steps', '1', '--cfg-scale', '1', '-o', png, '--runs', '2', '--report', report], { encoding: 'utf8' });
  assert.match(stdout, /^wrote .*random\.png \(128x128, 1 steps, /);
  assert.match(stdout, /\nfirst run: text encoder .*\nruns: \d+\.\d{3} s, \d+\.\d{3} s\n$/);
  assert.equal(JSON.parse(readFileSync(report, 'utf8')).runSeconds.length, 2);
});

test('tokenize matches the CLIP ids', () => {
  const ids = websd.tokenize(path.join(model, 'tokenizer'), 'a red circle');
  assert.equal(ids.length, 77);
  assert.deepEqual(ids.slice(0, 5), [49406, 320, 736, 7117, 49407]);
});

test('a single-file checkpoint: modelInfo, loadPipeline with its config folder, the Node CLI', async () => {
  const single = path.join(root, 'tests/fixtures/tiny-sd15/tiny-sd15-single.safetensors');
  const info = websd.modelInfo(single);
  assert.match(info, /format {5}single file \(original layout\): 964 tensors/);
  assert.match(info, /family {5}SD 1\.x \(StableDiffusionPipeline\)/);
  assert.match(info, /\nunet {12}UNet2DConditionModel +684 +3,222,692 {2}float16\n/);
  // The tiny model's heads are not SD 1.5's: its own configs come with it.
  assert.throws(() => websd.loadPipeline(single), { message: /\(text_encoder\): 32 channels .* --config/ });
  const options = { prompt: 'a red circle', steps: 2, seed: 4 };
  const fromFile = websd.loadPipeline(single, { config: model });
  const fromFolder = websd.loadPipeline(model);
  try {
    assert.deepEqual((await fromFile.generate(options)).image.data, (await fromFolder.generate(options)).image.data);
  } finally {
    fromFile.dispose();
    fromFolder.dispose();
  }
  const stdout = execFileSync('node', [cli, 'info', '--model', single, '--config', model], { encoding: 'utf8' });
  assert.equal(stdout, websd.modelInfo(single, { config: model }));
  assert.match(stdout, /\(given with --config\)/);
  const ckpt = path.join(work, 'model.ckpt');
  writeFileSync(ckpt, 'PK\x03\x04');
  const r = spawnSync('node', [cli, 'info', '--model', ckpt], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^websd-node: error: .*model\.ckpt: a pickle checkpoint/);
});

test('the SDXL euler_8 golden through the Node CLI: pooled embeddings saved, guidance defaulting to 5.0', () => {
  const dir = path.join(root, 'tests/fixtures/tiny-sdxl');
  const settings = JSON.parse(readFileSync(path.join(dir, 'golden/euler_8.json'), 'utf8'));
  const tensors = readSafetensors(path.join(dir, 'golden/euler_8.safetensors'));
  assert.equal(settings.guidance_scale, 5.0);
  assert.equal(settings.negative_prompt, null);
  const saved = path.join(work, 'sdxl.safetensors');
  execFileSync('node', [cli, 'generate', '--model', path.join(dir, 'model'), '--prompt', settings.prompt,
    '--steps', String(settings.steps), '--seed', String(settings.seed), '-o', path.join(work, 'sdxl.png'),
    '--save-tensors', saved], { encoding: 'utf8' });
  const out = readSafetensors(saved);
  assert.deepEqual(Object.keys(out).sort(), ['image', 'latents', 'negative_pooled_prompt_embeds', 'negative_prompt_embeds',
    'pooled_prompt_embeds', 'prompt_embeds', 'timesteps']);
  assertImageClose(out.image, tensors.image);
  for (const name of ['prompt_embeds', 'pooled_prompt_embeds', 'negative_pooled_prompt_embeds']) {
    const d = diff(out[name].data, tensors[name].data);
    assert.ok(componentWithinLimits(d), `${name}: max abs ${d.max}`);
  }
});

test('clipSkip encodes the prompt from an earlier layer; out of range is an error', async () => {
  const pipe = websd.loadPipeline(model);
  try {
    const options = { prompt: 'a red circle', steps: 1, cfgScale: 1 };
    const plain = await pipe.generate(options);
    assert.equal(plain.pooledPromptEmbeds, null);
    assert.notDeepEqual((await pipe.generate({ ...options, clipSkip: 1 })).promptEmbeds.data, plain.promptEmbeds.data);
    await assert.rejects(pipe.generate({ ...options, clipSkip: -1 }), { message: "option 'clipSkip' must be 0 or more" });
    await assert.rejects(pipe.generate({ ...options, clipSkip: 3 }), { message: /clip skip 3 is out of range/ });
  } finally {
    pipe.dispose();
  }
  const bad = spawnSync('node', [cli, 'generate', '--model', model, '--prompt', 'x', '-o', 'x.png', '--clip-skip=-1'],
    { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--clip-skip: '-1' is not an integer ≥ 0/);
});

test('vaeTileSize, vaeTiling and vaeMemoryBudgetMiB decode in tiles; bad values are errors', async () => {
  const pipe = websd.loadPipeline(model);
  try {
    const options = { prompt: 'a red circle', steps: 1, cfgScale: 1 };
    const plain = await pipe.generate(options);
    const tiled = await pipe.generate({ ...options, vaeTileSize: 8 });
    assert.deepEqual(tiled.latents.data, plain.latents.data);
    assert.notDeepEqual(tiled.image.data, plain.image.data);
    // tiny-sd15's VAE has sample_size 128: its own tiles cover the 16×16 latents, so whole.
    assert.deepEqual((await pipe.generate({ ...options, vaeTiling: true })).image.data, plain.image.data);
    assert.deepEqual((await pipe.generate({ ...options, vaeMemoryBudgetMiB: 4096 })).image.data, plain.image.data);
    await assert.rejects(pipe.generate({ ...options, vaeMemoryBudgetMiB: 0.001 }), { message: /raise the budget/ });
    await assert.rejects(pipe.generate({ ...options, vaeTileSize: 6 }), { message: /multiple of 4/ });
    await assert.rejects(pipe.generate({ ...options, vaeTiling: 'yes' }), { message: "option 'vaeTiling' must be true or false" });
    await assert.rejects(pipe.generate({ ...options, vaeMemoryBudgetMiB: -1 }), { message: "option 'vaeMemoryBudgetMiB' must be 0 or more" });
  } finally {
    pipe.dispose();
  }
  const out = path.join(work, 'tiled.safetensors');
  execFileSync('node', [cli, 'generate', '--model', model, '--prompt', 'a red circle', '--steps', '1', '--cfg-scale', '1',
    '--vae-tiling', '--vae-tile-size', '8', '-o', path.join(work, 'tiled.png'), '--save-tensors', out], { encoding: 'utf8' });
  assert.equal(readSafetensors(out).image.shape.join('x'), '128x128x3');
  const bad = spawnSync('node', [cli, 'generate', '--model', model, '--prompt', 'x', '-o', 'x.png', '--vae-memory-budget', 'lots'],
    { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--vae-memory-budget: 'lots' is not a number/);
});

test('PNGs carry the settings as AUTOMATIC1111 parameters, the same text as the native CLI writes', async () => {
  const out = path.join(work, 'params.png');
  execFileSync('node', [cli, 'generate', '--model', model, '--prompt', 'a red circle, big', '--negative-prompt', 'blurry',
    '--steps', '2', '--cfg-scale', '6.5', '--seed', '7', '--scheduler', 'dpm++2m-karras', '--clip-skip', '1', '-o', out],
  { encoding: 'utf8' });
  const text = websd.pngParameters(readFileSync(out));
  assert.equal(text, 'a red circle, big\nNegative prompt: blurry\nSteps: 2, Sampler: DPM++ 2M, Schedule type: Karras, ' +
    'CFG scale: 6.5, Seed: 7, Size: 128x128, Model: model, Clip skip: 2');
  assert.deepEqual(websd.parseParameters(text), {
    prompt: 'a red circle, big', negativePrompt: 'blurry', steps: 2, sampler: 'DPM++ 2M', scheduleType: 'Karras',
    cfgScale: 6.5, seed: 7, width: 128, height: 128, clipSkip: 1, model: 'model',
  });
  const pipe = websd.loadPipeline(model);
  try {
    const r = await pipe.generate({ prompt: 'a red circle', steps: 1, cfgScale: 1, seed: 2n ** 60n });
    assert.equal(r.parameters.seed, 2n ** 60n);
    assert.equal(r.parameters.sampler, 'PLMS');
    const png = websd.encodePng(r.image, { ...r.parameters, model: websd.modelLabel(model) });
    assert.equal(websd.pngParameters(png), websd.formatParameters({ ...r.parameters, model: 'model' }));
    assert.equal(websd.pngParameters(websd.encodePng(r.image)), null);
  } finally {
    pipe.dispose();
  }
  assert.throws(() => websd.parseParameters('just a prompt'), { message: /no settings line/ });
  assert.throws(() => websd.pngParameters(new Uint8Array([1, 2, 3])), { message: 'image: not a PNG file' });
});

test('an unknown option is an error naming the nearest known one', async () => {
  assert.throws(() => websd.loadPipeline(model, { backnd: 'cpu' }),
    { name: 'TypeError', message: "loadPipeline: unknown option 'backnd' (did you mean 'backend'?)" });
  await assert.rejects(websd.loadModel(model, { onprogress: () => {} }),
    { message: "loadModel: unknown option 'onprogress' (did you mean 'onProgress'?)" });
  const pipe = websd.loadPipeline(model);
  try {
    await assert.rejects(pipe.generate({ prompt: 'x', stpes: 2 }),
      { name: 'TypeError', message: "generate: unknown option 'stpes' (did you mean 'steps'?)" });
    await assert.rejects(pipe.generate({ prompt: 'x', guidance: 7 }), { message: /unknown option 'guidance'/ });
    await assert.rejects(pipe.generate('x'), { message: 'generate: options must be an object' });
  } finally {
    pipe.dispose();
  }
});

// A stop lands inside the stage under way: before the text encoder's first block (an abort posted
// before the run starts), inside the step after the one whose onStep aborted, inside the VAE decode
// (aborted at the last step, so every step ran and still the run rejects). Each time the next run
// gives the picture of a run never stopped.
test('signal stops a run inside its stage, and the next one runs; onStep gets each step time', async () => {
  const pipe = websd.loadPipeline(model);
  try {
    const options = { prompt: 'a red circle', steps: 4, cfgScale: 1 };
    const clean = await pipe.generate(options);
    // abortAt(step, total): whether onStep aborts there.
    const stopped = async (abortAt, onAbort) => {
      const controller = new AbortController();
      const seen = [];
      onAbort?.(controller);
      await assert.rejects(pipe.generate({ ...options, signal: controller.signal }, (step, total, { ms }) => {
        seen.push(step);
        assert.ok(ms >= 0 && Number.isFinite(ms));
        if (abortAt(step, total)) controller.abort();
      }), { name: 'AbortError' });
      assert.deepEqual((await pipe.generate(options)).image.data, clean.image.data);
      return seen;
    };
    const steps = clean.timesteps.data.length;  // PNDM: one more UNet call than steps
    assert.deepEqual(await stopped(() => false, (controller) => setTimeout(() => controller.abort(), 0)), [], 'the text encoder');
    assert.deepEqual(await stopped((step) => step === 1), [1], 'the second step');
    const all = Array.from({ length: steps }, (_, i) => i + 1);
    assert.deepEqual(await stopped((step, total) => step === total), all, 'the VAE decode');
    // Aborted before its turn: never starts.
    const queued = new AbortController();
    const first = pipe.generate(options);
    const second = pipe.generate({ ...options, signal: queued.signal }, () => assert.fail('must not run'));
    queued.abort(new Error('changed my mind'));
    await assert.rejects(second, { message: 'changed my mind' });
    assert.deepEqual((await first).image.data, clean.image.data);
  } finally {
    pipe.dispose();
  }
});

// Root mean square distance of a preview [h, w, 3] from the picture's block means, and of its mean colour.
function previewErrors(preview, image) {
  const [h, w] = preview.shape, [H, W] = image.shape, f = H / h;
  const blocks = new Float64Array(h * w * 3), mean = [0, 0, 0];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        const v = image.data[(y * W + x) * 3 + c];
        blocks[(Math.floor(y / f) * w + Math.floor(x / f)) * 3 + c] += v / (f * f);
        mean[c] += v / (H * W);
      }
    }
  }
  let toPreview = 0, toMean = 0;
  blocks.forEach((b, i) => {
    toPreview += (preview.data[i] - b) ** 2;
    toMean += (mean[i % 3] - b) ** 2;
  });
  return [Math.sqrt(toPreview / blocks.length), Math.sqrt(toMean / blocks.length)];
}

test('previewEvery: onStep gets a preview of the latents every N steps and at the last', async () => {
  const pipe = websd.loadPipeline(model);
  try {
    const options = { prompt: 'a red circle', steps: 4, cfgScale: 1, previewEvery: 2 };
    const run = async () => {
      const previews = [];
      const result = await pipe.generate(options, (step, total, info) => {
        if (info.preview) previews.push([step, total, info.preview]);
        else assert.ok(!('preview' in info));
      });
      return { result, previews };
    };
    const first = await run();
    const total = first.previews.at(-1)[1];
    assert.deepEqual(first.previews.map(([step]) => step),
      [...Array.from({ length: Math.floor(total / 2) }, (_, i) => 2 * (i + 1)), ...(total % 2 ? [total] : [])]);
    const [h, w] = first.result.image.shape;
    for (const [, , p] of first.previews) {
      assert.deepEqual(p.shape, [h / 8, w / 8, 3]);
      assert.ok(p.data.every((v) => v >= 0 && v <= 1));
    }
    // The map was refitted to the first picture: the same run's last preview is at least as near
    // the picture as its mean colour.
    const second = await run();
    const [toPreview, toMean] = previewErrors(second.previews.at(-1)[2], second.result.image);
    assert.ok(toPreview <= toMean * (1 + 1e-4), `preview ${toPreview}, mean colour ${toMean}`);
    await assert.rejects(pipe.generate({ ...options, previewEvery: -1 }, () => {}),
      { message: "option 'previewEvery' must be 0 (no previews) or more" });
  } finally {
    pipe.dispose();
  }
});
