// The whole pipeline on the WebGPU backend, through the JS API and the Node CLI: the tiny-sd15
// pndm_10 and dpmpp2m_8_neg goldens and the tiny-sdxl euler_8 golden (on the tensor cores the tiny-sd2
// ddim_v_12 one too) on Node + Dawn (SwiftShader unless WEBSD_SWIFTSHADER=0), compared with diffusers'
// image and latents and with the CPU backend's image, within tests/fixtures/README.md's limits and
// the regression limits (tests/web/tolerances.mjs).
// Needs `make wasm` and the npm package `webgpu` (scripts/install_web_deps.sh).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadWebsd } from '../../../web/lib/websd.mjs';
import { createGpuHost } from '../../../web/host/gpu_host.mjs';
import { nodeGpu } from '../../../web/host/node_gpu.mjs';
import { diff, readSafetensors } from '../safetensors.mjs';
import { imageWithinF16Limits, imageWithinLimits, latentsWithinLimits } from '../tolerances.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const model = path.join(root, 'tests/fixtures/tiny-sd15/model');
const fixtures = path.join(root, 'tests/fixtures');
const cli = path.join(root, 'web/cli/websd-node.mjs');
const swiftshader = process.env.WEBSD_SWIFTSHADER !== '0';

let websd;
let host;        // float32 kernels
let tensorHost;  // the tensor cores, where the adapter has them; else null
let work;
before(async () => {
  websd = await loadWebsd();
  // SwiftShader runs a whole UNet between two reads: give the read time.
  const gpu = await nodeGpu({ swiftshader });
  host = createGpuHost(gpu, { mapTimeoutMs: 300000 });
  await host.init({ precision: 'f32' });
  tensorHost = createGpuHost(gpu, { mapTimeoutMs: 300000 });
  if (!(await tensorHost.init()).tensorCores) {
    tensorHost.destroy();
    tensorHost = null;
  }
  work = mkdtempSync(path.join(tmpdir(), 'websd-webgpu-'));
});
after(() => {
  host?.destroy();
  tensorHost?.destroy();
  rmSync(work, { recursive: true, force: true });
});

// within(d, want) is imageWithinLimits or latentsWithinLimits.
function assertClose(got, want, what, within) {
  assert.deepEqual(got.shape, want.shape, what);
  const d = diff(got.data, want.data);
  console.log(`${what}: max abs ${d.max}, mean abs ${d.mean}`);
  assert.ok(within(d, want.data), `${what}: max abs ${d.max}, mean abs ${d.mean}`);
}

// A golden's settings as JS API options. Its scheduler_config (Python JSON: -Infinity) goes to a
// file the engine reads with its own config reader, under the golden's scheduler class.
function goldenOptions(family, name) {
  const text = readFileSync(path.join(fixtures, family, 'golden', `${name}.json`), 'utf8');
  const settings = JSON.parse(text.replaceAll('-Infinity', '"-Infinity"'));
  const options = { prompt: settings.prompt, negativePrompt: settings.negative_prompt ?? undefined, steps: settings.steps,
    cfgScale: settings.guidance_scale, seed: settings.seed };
  if (settings.scheduler_config) {
    const config = { _class_name: settings.scheduler, ...settings.scheduler_config };
    options.schedulerConfig = path.join(work, `${name}_scheduler.json`);
    writeFileSync(options.schedulerConfig, JSON.stringify(config).replaceAll('"-Infinity"', '-Infinity'));
  }
  return options;
}

// SwiftShader compiles every kernel on first use and runs them on the CPU: minutes per run.
for (const [family, name] of [['tiny-sd15', 'pndm_10'], ['tiny-sd15', 'dpmpp2m_8_neg'], ['tiny-sdxl', 'euler_8']]) {
  test(`${family} ${name} golden on the webgpu backend matches diffusers and the cpu backend`, { timeout: 1800000 }, async () => {
    const want = readSafetensors(path.join(fixtures, family, 'golden', `${name}.safetensors`));
    const options = goldenOptions(family, name);
    const folder = path.join(fixtures, family, 'model');

    // pndm_10 first stops a run inside a step: the golden run after it must still match.
    const stops = name === 'pndm_10';
    const cpuPipe = websd.loadPipeline(folder, { backend: 'cpu' });
    let cpu;
    try {
      cpu = await cpuPipe.generate(options);
    } finally {
      cpuPipe.dispose();
    }

    const pipe = websd.loadPipeline(folder, { backend: 'webgpu', gpuHost: host });
    const steps = [];
    let gpu;
    try {
      const held = host.stats().buffers;
      if (stops) {
        // Aborted in step 1's onStep, the run stops inside step 2's UNet: the GPU work recorded
        // for it runs unread and the pool is trimmed back to the weights.
        const controller = new AbortController();
        await assert.rejects(pipe.generate({ ...options, signal: controller.signal }, () => controller.abort()), { name: 'AbortError' });
        assert.equal(host.stats().buffers, held, 'the stopped run left no buffer behind');
      }
      gpu = await pipe.generate(options, (step, total) => steps.push([step, total]));
      assert.equal(host.stats().buffers, held, 'the pool went back to the weights after the run');
    } finally {
      pipe.dispose();
    }
    assert.equal(steps.length, want.timesteps.data.length);
    assert.deepEqual(Array.from(gpu.timesteps.data), Array.from(want.timesteps.data));
    assertClose(gpu.image, want.image, `${name}: webgpu vs diffusers`, imageWithinLimits);
    assertClose(gpu.image, cpu.image, `${name}: webgpu vs cpu backend`, imageWithinLimits);
    assertClose(gpu.latents, want[`step${String(steps.length - 1).padStart(3, '0')}_latents`], `${name}: final latents`,
      latentsWithinLimits);

    assert.deepEqual(gpu.stages.map((s) => s.name), ['text_encoder', ...Array(steps.length).fill('unet_step'), 'vae_decode']);
    for (const s of gpu.stages) assert.ok(s.ms > 0 && s.kernels > 0 && s.peakBytes > 0, JSON.stringify(s));
    // Kernels compile on first use: in each model's first stage (here the stopped run's, for
    // pndm_10), never again in later UNet steps.
    const [text, first, ...rest] = gpu.stages;
    for (const s of stops ? [rest.at(-1)] : [text, first, rest.at(-1)]) {
      assert.ok(s.pipelines > 0 && s.compileMs > 0 && s.compileMs < s.ms, JSON.stringify(s));
    }
    for (const s of [...(stops ? [text, first] : []), ...rest.slice(0, -1)]) assert.equal(s.pipelines, 0, JSON.stringify(s));
    console.log(`host stats: ${JSON.stringify(host.stats())}`);
    assert.equal(host.stats().buffers, 0, 'disposing the pipeline destroyed every buffer');
  });
}

// One UNet call (Euler, one step, no guidance): the CLI's plumbing, not the numbers again.
test('the Node CLI runs --backend webgpu and reports its stages', { timeout: 900000 }, () => {
  const png = path.join(work, 'webgpu.png');
  const report = path.join(work, 'stages.json');
  const stdout = execFileSync('node', [cli, 'generate', '--backend', 'webgpu', '--model', model, '--prompt', 'a red circle',
    '--steps', '1', '--cfg-scale', '1', '--scheduler', 'euler', '--seed', '1', '-o', png, '--report', report,
    '--precision', 'f32'],
  { encoding: 'utf8', env: { ...process.env, WEBSD_SWIFTSHADER: swiftshader ? '1' : '0' } });
  const lines = stdout.split('\n');
  assert.match(lines[0], /^webgpu: .+, float32 kernels$/);
  assert.match(lines[1], /^wrote .*webgpu\.png \(128x128, 1 steps, /);
  assert.match(lines[2], /^text encoder .* ms; unet 1 steps, .*; \d+ kernels; peak webgpu memory \d+\.\d MiB; \d+ pipelines compiled in \d+\.\d+ ms$/);
  const written = JSON.parse(readFileSync(report, 'utf8'));
  assert.equal(written.backend, 'webgpu');
  assert.ok(written.stages.every((s) => s.kernels > 0));
});

// The tensor-core path against every text-to-image golden, within issue 9's float16 limits (a real
// GPU; SwiftShader has no shader-f16). tiny-sd2's v-prediction golden runs only here: on
// SwiftShader the float32 kernels are the CPU backend's to 1e-6 (above), and minutes a model.
for (const [family, name] of [['tiny-sd15', 'pndm_10'], ['tiny-sd15', 'dpmpp2m_8_neg'], ['tiny-sdxl', 'euler_8'],
  ['tiny-sd2', 'ddim_v_12']]) {
  test(`${family} ${name} golden on the webgpu tensor cores is within the float16 limits`, { timeout: 1800000 }, async (t) => {
    if (!tensorHost) {
      t.skip('this adapter has no shader-f16 with float16 subgroup matrices');
      return;
    }
    const want = readSafetensors(path.join(fixtures, family, 'golden', `${name}.safetensors`));
    const pipe = websd.loadPipeline(path.join(fixtures, family, 'model'), { backend: 'webgpu', gpuHost: tensorHost });
    let gpu;
    try {
      gpu = await pipe.generate(goldenOptions(family, name));
    } finally {
      pipe.dispose();
    }
    assertClose(gpu.image, want.image, `${name}: webgpu tensor cores vs diffusers`, imageWithinF16Limits);
    const last = `step${String(want.timesteps.data.length - 1).padStart(3, '0')}_latents`;
    const d = diff(gpu.latents.data, want[last].data);
    console.log(`${name}: tensor-core final latents: max abs ${d.max}, mean abs ${d.mean}`);
  });
}
