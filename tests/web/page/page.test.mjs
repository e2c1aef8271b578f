// The web page (web/page) in headless Chromium, driven through its form like a user: tiny-shapes
// for one prompt on the CPU and on the WebGPU backend (SwiftShader where there is no GPU), each
// compared with the CPU backend's picture computed here in Node by the same wasm build; and a
// failure shown on the page instead of a hang. Run with `make test-web-page`, or
//   node --test tests/web/page/page.test.mjs
// WEBSD_WASM_BUILD (default build-wasm, relative to the repository root) picks the wasm build;
// WEBSD_PAGE_STEPS the step count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadWebsd } from '../../../web/lib/websd.mjs';
import { launchChromium, pageLogs } from '../host/headless_chromium.mjs';
import { serveArtifacts } from '../artifact_server.mjs';
import { startServe } from '../serve_process.mjs';
import { toRgba } from '../../../web/lib/rgba.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WASM_BUILD = process.env.WEBSD_WASM_BUILD ?? 'build-wasm';
// The page's default model: tiny-shapes converted by `make` into build/artifacts.
const ARTIFACTS = 'build/artifacts';
// `make demo`'s prompt and seed. One step: SwiftShader runs the WebGPU kernels on the CPU, and on
// this 2-core machine the WebGPU run (shaders compiled on the way, one tiny-shapes UNet step with a
// batch of 2 for guidance, the VAE decode) takes about 50 s. One step still runs every stage (text
// encoder, UNet, scheduler, VAE); WEBSD_PAGE_STEPS=2 adds two UNet steps (PNDM) that reuse the
// first one's pipelines and buffers.
const SETTINGS = { prompt: 'a red circle on a white background', seed: 0,
  steps: Number(process.env.WEBSD_PAGE_STEPS ?? 1), cfgScale: 7.5 };
const RUN_TIMEOUT_MS = 280000;

// The lost-device recovery and the fifty generations after it: 16×16 pixels (2×2 latents), so that
// each costs about a second on SwiftShader.
const SMALL = { width: 16, height: 16 };
const GENERATIONS = 50;

let server, chrome, context, reference, referenceSmall;

before(async () => {
  // The reference: the CPU backend in Node, the same engine as the page's module.
  const websd = await loadWebsd({ moduleUrl: path.join(ROOT, WASM_BUILD, 'web/websd_node.mjs') });
  const pipe = websd.loadPipeline(path.join(ROOT, 'assets/tiny-shapes/model'), { backend: 'cpu' });
  try {
    reference = (await pipe.generate(SETTINGS)).image;
    referenceSmall = (await pipe.generate({ ...SETTINGS, ...SMALL })).image;
  } finally {
    pipe.dispose();
  }
  // The page as a user opens it: `websd serve` over the artifacts (its models under /models/).
  server = await startServe(path.join(ROOT, ARTIFACTS));
  chrome = await launchChromium();
  context = chrome.context;
});

after(async () => {
  await chrome?.close();
  await server?.close();
});

// Waits until the page's run has ended, done or failed.
const runEnded = (page, { timeout = RUN_TIMEOUT_MS, polling = 250 } = {}) =>
  page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout, polling });

// Opens the page (after `prepare(page)`), fills the form with SETTINGS (and extra fields), clicks
// Generate and waits for the page to say done or error. Returns what the page shows and keeps, and
// what `then(page)` returns (it runs before the page closes); `elsewhere`: the URLs the page and
// its worker asked for outside the page's server and the model's.
async function generateInPage({ backend, model, fields = {}, browser = context, prepare = async () => {},
  then = async () => ({}) }) {
  const page = await browser.newPage();
  const logs = pageLogs(page);
  const elsewhere = [];
  const origins = [new URL(server.url).origin, model && new URL(model).origin];
  page.on('request', (r) => {
    if (/^https?:/.test(r.url()) && !origins.includes(new URL(r.url()).origin)) elsewhere.push(r.url());
  });
  await prepare(page);
  const query = new URLSearchParams({ backend });
  if (model) query.set('model', model);
  await page.goto(`${server.url}/web/page/index.html?${query}`);
  await page.waitForFunction(() => document.body.dataset.state === 'idle');
  const values = { prompt: SETTINGS.prompt, seed: String(SETTINGS.seed), steps: String(SETTINGS.steps),
    guidance: String(SETTINGS.cfgScale), ...fields };
  for (const [id, value] of Object.entries(values)) await page.fill(`#${id}`, value);
  const started = performance.now();
  await page.click('#generate');
  await runEnded(page);
  const seconds = (performance.now() - started) / 1000;
  const shown = await page.evaluate(() => {
    const r = window.websdPage;
    const canvas = document.getElementById('picture');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const text = (id) => document.getElementById(id).textContent;
    return { state: r.state, error: r.error, backend: r.backend, stages: r.stages, timings: r.timings, model: r.model,
      image: r.image && { width: r.image.width, height: r.image.height, data: Array.from(r.image.data) }, pixels: Array.from(pixels), previews: r.previews,
      status: text('status'), errorText: document.getElementById('error').hidden ? null : text('error'),
      notice: document.getElementById('notice').hidden ? null : text('notice'),
      progress: [document.getElementById('progress').value, document.getElementById('progress').max],
      timingRows: document.getElementById('timings').rows.length };
  });
  const more = await then(page);
  await page.close();
  return { ...shown, ...more, seconds, logs, elsewhere };
}

// The page shows the package's RGBA bytes: the reference's picture rounded as the package rounds
// (toRgba), where no byte may be more than one off and at most 1 % of them one off (the backends'
// float32 results differ by ~1e-6, which can tip a rounding).
function rgbaDiffers(data, image) {
  const want = toRgba(image).data;
  if (data.length !== want.length) return `${data.length} bytes, not ${want.length}`;
  let off = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(data[i] - want[i]);
    if (d > 1) return `byte ${i} is ${data[i]}, not ${want[i]}`;
    off += d;
  }
  return off > want.length / 100 ? `${off} bytes one off` : null;
}

function assertMatchesReference(shown, label) {
  assert.equal(shown.state, 'done', `${label}: ${shown.error}\n${shown.logs.join('\n')}`);
  const [h, w] = reference.shape;
  assert.deepEqual([shown.image.height, shown.image.width], [h, w]);
  const differs = rgbaDiffers(shown.image.data, reference);
  console.log(`${label}: ${shown.seconds.toFixed(1)} s in the page (${shown.status}); ${differs ?? 'the cpu backend\'s bytes'}`);
  assert.equal(differs, null, `${label}: the picture differs from the cpu backend's in node`);
  // The canvas shows the picture; the progress bar reached the last step.
  assert.deepEqual(shown.pixels, shown.image.data);
  // Under `websd serve`'s Content-Security-Policy nothing was refused, and no request left for a
  // third party.
  assert.deepEqual(shown.logs.filter((l) => /Content Security Policy/i.test(l)), []);
  assert.deepEqual(shown.elsewhere, []);
  // PNDM (tiny-shapes' scheduler) runs one more UNet step than asked for, as in diffusers.
  assert.equal(shown.progress[0], shown.progress[1]);
  assert.ok(shown.progress[0] >= SETTINGS.steps, `progress ${shown.progress}`);
  assert.ok(shown.timingRows >= 3, 'timings are shown');
  assert.equal(shown.previews, shown.progress[1], 'a preview was drawn at every step');
}

// WEBSD_SCREENSHOT=FILE also saves the page as it looks after this run (docs/page.png is one).
test('cpu backend in the page: the same picture as in node', { timeout: RUN_TIMEOUT_MS + 30000 }, async () => {
  const screenshot = process.env.WEBSD_SCREENSHOT;
  const shown = await generateInPage({ backend: 'cpu', then: async (page) => {
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    return {};
  } });
  assertMatchesReference(shown, 'page, cpu');
  assert.equal(shown.backend, 'cpu');
  assert.equal(shown.notice, null, 'the cpu backend was asked for: no fallback notice');
});

// The page's default backend choice, 'auto', must take WebGPU here: Chromium has an adapter. Then
// the device is lost (destroyed as a driver reset would) and the next run recovers: a new device,
// the model from the cache (nothing downloaded), the same picture. Then fifty generations in a row
// (the recovery's the first) leave the GPU host's counters where the first left them.
test('webgpu backend in the page: the cpu backend\'s picture; a lost device recovers without a download; ' +
  `${GENERATIONS} generations leave the GPU counters flat`, { timeout: 2 * RUN_TIMEOUT_MS + 120000 }, async () => {
  let recovered;
  const counters = [];
  const shown = await generateInPage({ backend: 'auto', then: async (page) => {
    // What a driver reset does: the GPU process gone, every device of the page's worker lost.
    await (await page.context().newCDPSession(page)).send('Browser.crashGpuProcess');
    await page.fill('#width', String(SMALL.width));
    await page.fill('#height', String(SMALL.height));
    for (let run = 0; run < GENERATIONS; run++) {
      await page.click('#generate');  // its submit handler makes the state 'running' before the click returns
      await runEnded(page, { polling: 100 });
      const after = await page.evaluate(() => ({ state: window.websdPage.state, error: window.websdPage.error,
        gpu: window.websdPage.gpu }));
      assert.equal(after.state, 'done', `generation ${run + 1}: ${after.error}`);
      counters.push(after.gpu);
      if (run > 0) continue;
      recovered = await page.evaluate(() => ({ model: window.websdPage.model, backend: window.websdPage.backend,
        image: Array.from(window.websdPage.image.data),
        notice: document.getElementById('notice').textContent }));
    }
    return {};
  } });
  assertMatchesReference(shown, 'page, webgpu');
  assert.equal(recovered.backend, 'webgpu');
  assert.match(recovered.notice, /^WebGPU device lost .*; generated on a new GPU device, the model loaded again from the cache$/m);
  assert.equal(recovered.model.downloaded, 0, 'the model came from the cache');
  assert.ok(recovered.model.cached > 0);
  assert.equal(rgbaDiffers(recovered.image, referenceSmall), null, 'the cpu backend\'s picture after the loss');
  // Flat: what the first generation on the new device left allocated, every later one leaves too.
  const flat = ({ buffers, bytesAllocated, pipelines }) => ({ buffers, bytesAllocated, pipelines });
  for (const [i, c] of counters.entries()) assert.deepEqual(flat(c), flat(counters[0]), `after generation ${i + 1}`);
  console.log(`page, webgpu: after ${GENERATIONS} generations ${JSON.stringify(counters.at(-1))}; after the first ` +
    JSON.stringify(counters[0]));
  assert.equal(shown.backend, 'webgpu');
  // No GPU here: the page says the adapter is a software one, and nothing about the CPU backend.
  assert.ok(shown.notice === null || /^WebGPU runs on a software adapter/.test(shown.notice), shown.notice);
  // The engine's per-stage report: one unet_step per denoising step (PNDM adds none with
  // skip_prk_steps), shown under the timings.
  const unetSteps = shown.stages.filter((s) => s.name === 'unet_step');
  assert.ok(unetSteps.length >= SETTINGS.steps, JSON.stringify(shown.stages));
  const perStep = unetSteps.reduce((t, s) => t + s.ms, 0) / unetSteps.length;
  console.log(`page, webgpu: timings ${JSON.stringify(shown.timings)}; unet step mean ${perStep.toFixed(0)} ms`);
});

test('a model that is not there: the page shows the error, no hang', { timeout: 60000 }, async () => {
  const shown = await generateInPage({ backend: 'cpu', model: `${server.url}/models/nothing/` });
  assert.equal(shown.state, 'error');
  assert.equal(shown.errorText, `${server.url}/models/nothing/model.json: HTTP 404 Not Found ` +
    '(is this an artifact model made by `websd convert`?)');
});

// The page's cache (the Cache API), seen from a page of the same origin: the entries under a URL.
async function cachedUnder(url) {
  const page = await context.newPage();
  await page.goto(`${server.url}/web/page/index.html`);
  const keys = await page.evaluate(async (prefix) => {
    const cache = await caches.open('websd-models-v1');
    return (await cache.keys()).map((r) => r.url).filter((u) => u.startsWith(prefix));
  }, url);
  await page.close();
  return keys;
}

test('artifacts from another server, then again with that server stopped: the same picture from the cache',
  { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    const models = await serveArtifacts(path.join(ROOT, ARTIFACTS));
    const model = `${models.url}/tiny-shapes/`;
    let first;
    try {
      first = await generateInPage({ backend: 'cpu', model });
      assertMatchesReference(first, 'page, artifacts over http');
      assert.equal(first.model.cached, 0);
      assert.ok(first.model.downloaded > 5, JSON.stringify(first.model));
      assert.ok(models.requests.some((r) => r.endsWith('.bin')));
    } finally {
      await models.close();
    }
    const offline = await generateInPage({ backend: 'cpu', model });
    assert.equal(offline.state, 'done', `${offline.error}\n${offline.logs.join('\n')}`);
    assert.deepEqual(offline.image.data, first.image.data, 'the same picture from the cache');
    assert.equal(offline.model.downloaded, 0);
    assert.equal(offline.model.cached, first.model.downloaded);
    assert.match(offline.status, /from the cache/);
  });

test('a server that serves a corrupted shard: the page shows the error, and nothing of it is cached',
  { timeout: RUN_TIMEOUT_MS }, async () => {
    // Its own path: a port may be handed out again, and the first server's model is in the cache.
    const models = await serveArtifacts(path.join(ROOT, ARTIFACTS, '..'));
    try {
      const manifest = JSON.parse(readFileSync(path.join(ROOT, ARTIFACTS, 'tiny-shapes/ndarray-cache.json'), 'utf8'));
      const shard = manifest.records[1].dataPath;
      models.faults.set(shard, (body) => {
        const bad = Buffer.from(body);
        bad[100] ^= 0x40;
        return bad;
      });
      const shown = await generateInPage({ backend: 'cpu', model: `${models.url}/artifacts/tiny-shapes/` });
      assert.equal(shown.state, 'error');
      assert.match(shown.errorText, new RegExp(`^${shard.replace('.', '\\.')}: SHA-256 mismatch \\(expected sha256-`));
      assert.ok(models.requests.some((r) => r.endsWith(shard)), 'the shard was asked for');
      assert.deepEqual(await cachedUnder(`${models.url}/artifacts/`), []);
    } finally {
      await models.close();
    }
  });

// A shard whose every request fails: the error names it, with Retry and Purge beside it. Purge
// removes what the failed load cached; once the server answers again, Retry loads the model (what
// the failed attempt cached, from the cache) and generates.
test('a download that keeps failing: the page offers Retry and Purge, and Retry works once the server is back',
  { timeout: RUN_TIMEOUT_MS }, async () => {
    // Its own path (see above): the repository's root, so the model is under /build/artifacts/.
    const models = await serveArtifacts(ROOT);
    const model = `${models.url}/${ARTIFACTS}/tiny-shapes/`;
    try {
      const manifest = JSON.parse(readFileSync(path.join(ROOT, ARTIFACTS, 'tiny-shapes/ndarray-cache.json'), 'utf8'));
      const shard = manifest.records.at(-1).dataPath;
      models.cuts.add(shard);
      const buttons = (page) => page.evaluate(() => !document.getElementById('load-failed').hidden);
      let purged, failedAgain, retried;
      const shown = await generateInPage({ backend: 'cpu', model, then: async (page) => {
        const offered = await buttons(page);
        await page.click('#purge');
        await page.waitForFunction(() => /^removed \d+ cached files/.test(document.getElementById('status').textContent));
        purged = { offered, status: await page.evaluate(() => document.getElementById('status').textContent),
          cached: await cachedUnder(model), buttons: await buttons(page) };
        await page.click('#generate');
        await runEnded(page);
        failedAgain = { state: await page.evaluate(() => window.websdPage.state), buttons: await buttons(page) };
        models.cuts.delete(shard);
        await page.click('#retry');
        await runEnded(page);
        retried = await page.evaluate(() => ({ state: window.websdPage.state, error: window.websdPage.error, model: window.websdPage.model,
          image: Array.from(window.websdPage.image?.data ?? []) }));
        retried.buttons = await buttons(page);
        return {};
      } });
      assert.equal(shown.state, 'error');
      assert.ok(shown.errorText.includes(shard), shown.errorText);
      assert.ok(purged.offered, 'Retry and Purge are shown');
      const removed = Number(/^removed (\d+)/.exec(purged.status)[1]);
      assert.ok(removed > 0, `the failed load had cached files: ${purged.status}`);
      assert.deepEqual(purged.cached, []);
      assert.equal(purged.buttons, false);
      assert.deepEqual(failedAgain, { state: 'error', buttons: true });
      assert.equal(retried.state, 'done', retried.error);
      assert.equal(retried.buttons, false);
      assert.ok(retried.model.cached > 0 && retried.model.downloaded > 0, JSON.stringify(retried.model));
      assert.equal(rgbaDiffers(retried.image, reference), null, 'the picture after the retry');
      console.log(`page, failing download: ${shown.errorText}`);
    } finally {
      await models.close();
    }
  });

test('a bad setting reaches the page as websd\'s message', { timeout: 60000 }, async () => {
  const shown = await generateInPage({ backend: 'cpu', fields: { steps: '0' } });
  assert.equal(shown.state, 'error');
  assert.match(shown.errorText, /option 'steps' must be at least 1/);
});

// Without --enable-unsafe-webgpu, Chromium on Linux gives no adapter: 'auto' falls back to the CPU
// and says so; 'webgpu' asked for by name fails instead of falling back.
test('no WebGPU: auto falls back to the cpu backend with a notice, webgpu is an error', { timeout: 120000 }, async () => {
  const noGpu = await launchChromium({ webgpu: false });
  try {
    const auto = await generateInPage({ backend: 'auto', fields: { steps: '1' }, browser: noGpu.context });
    assert.equal(auto.state, 'done', auto.error);
    assert.equal(auto.backend, 'cpu');
    assert.match(auto.notice, /^WebGPU is unavailable \(.+\); running on the CPU backend, which is much slower\.$/);
    const webgpu = await generateInPage({ backend: 'webgpu', fields: { steps: '1' }, browser: noGpu.context });
    assert.equal(webgpu.state, 'error');
    assert.match(webgpu.errorText, /^the WebGPU backend is unavailable: /);
  } finally {
    await noGpu.close();
  }
});

// Generate turns into Cancel while a run goes on; Ctrl+Enter starts a run and Escape ends one; the
// status gives each step's time and the time left.
test('cancel ends a run at once, by the button or by Escape, and the next run uses the model already loaded', { timeout: 180000 }, async () => {
  const page = await context.newPage();
  const query = new URLSearchParams({ backend: 'cpu' });
  await page.goto(`${server.url}/web/page/index.html?${query}`);
  await page.fill('#steps', '200');
  const button = () => page.evaluate(() => [document.getElementById('generate').textContent, document.getElementById('generate').type].join(' '));
  const stepping = () => page.waitForFunction(() => / left\)$/.test(document.getElementById('status').textContent), null,
    { timeout: 60000 });
  const outcome = () => page.evaluate(() => [document.body.dataset.state, window.websdPage.error].join(' '));
  assert.equal(await button(), 'Generate submit');
  await page.click('#dice');
  assert.match(await page.inputValue('#seed'), /^\d+$/);
  await page.press('#prompt', 'Control+Enter');
  await stepping();
  assert.match(await page.textContent('#status'), /^step \d+\/201 \(\d+ ms, about [\d.]+ (ms|s) left\)$/);
  assert.equal(await button(), 'Cancel button');
  await page.press('#seed', 'Enter');  // Enter in a field does not cancel
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'running');
  await page.click('#generate');
  assert.equal(await outcome(), 'error cancelled');
  assert.equal(await button(), 'Generate submit');
  await page.click('#generate');
  await stepping();
  await page.keyboard.press('Escape');
  assert.equal(await outcome(), 'error cancelled');
  await page.fill('#steps', '1');
  await page.click('#generate');
  await runEnded(page, { timeout: 60000 });
  assert.equal(await page.evaluate(() => window.websdPage.state), 'done');
  assert.doesNotMatch(await page.textContent('#status'), /; model: /, 'no model files loaded again');
  await page.close();
});

// The Download link's PNG carries the settings (AUTOMATIC1111's `parameters`); dropping it on the
// page puts them back into the form.
test('the downloaded PNG carries the settings, and dropping it restores them', { timeout: RUN_TIMEOUT_MS + 30000 }, async () => {
  const shown = await generateInPage({ backend: 'cpu', fields: { negative: 'blurry, dark', width: '96', height: '64' }, then: async (page) => {
    const png = await page.evaluate(async () => {
      const link = document.getElementById('save');
      return { bytes: Array.from(new Uint8Array(await (await fetch(link.href)).arrayBuffer())), name: link.download };
    });
    const other = { prompt: 'something else', negative: '', seed: '99', steps: '7', guidance: '2', width: '', height: '256' };
    for (const [id, value] of Object.entries(other))
      await page.fill(`#${id}`, value);
    await page.evaluate((bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], 'picture.png', { type: 'image/png' }));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, png.bytes);
    await page.waitForFunction(() => window.websdPage.restored, null, { timeout: 60000 });
    const form = await page.evaluate(() => Object.fromEntries(['prompt', 'negative', 'seed', 'steps', 'guidance', 'scheduler', 'width', 'height']
      .map((id) => [id, document.getElementById(id).value])));
    return { png, form };
  } });
  assert.equal(shown.state, 'done', shown.error);
  assert.deepEqual([shown.image.height, shown.image.width], [64, 96], 'the size fields reach the engine');
  assert.equal(shown.png.name, `websd-${SETTINGS.seed}.png`);
  const websd = await loadWebsd({ moduleUrl: path.join(ROOT, WASM_BUILD, 'web/websd_node.mjs') });
  const parameters = websd.parseParameters(websd.pngParameters(Uint8Array.from(shown.png.bytes)));
  assert.deepEqual(parameters, { prompt: SETTINGS.prompt, negativePrompt: 'blurry, dark', steps: SETTINGS.steps,
    sampler: 'PLMS', scheduleType: '', cfgScale: SETTINGS.cfgScale, seed: SETTINGS.seed, width: 96, height: 64,
    clipSkip: 0, model: 'tiny-shapes' });
  assert.deepEqual(shown.form, { prompt: SETTINGS.prompt, negative: 'blurry, dark', seed: String(SETTINGS.seed),
    steps: String(SETTINGS.steps), guidance: String(SETTINGS.cfgScale), scheduler: 'pndm', width: '96', height: '64' });
});

// A desktop and a phone's screen, and the keyboard alone: the fields take the width the labels
// leave, nothing is wider than a phone's screen, and Tab reaches every control in reading order,
// the dice and Ctrl+Enter work without a pointer.
test('a desktop, a phone-sized screen and the keyboard alone', { timeout: 60000 }, async () => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${server.url}/web/page/index.html?backend=cpu`);
  await page.waitForFunction(() => document.body.dataset.state === 'idle');
  const prompt = await page.evaluate(() => document.getElementById('prompt').getBoundingClientRect().width);
  assert.ok(prompt >= 500, `the prompt field is ${prompt} px wide on a desktop`);
  await page.setViewportSize({ width: 360, height: 740 });
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    overflowing: [...document.querySelectorAll('input, textarea, select, button, canvas, progress')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).map((e) => e.id),
  }));
  assert.ok(layout.scrollWidth <= 360, `the page scrolls sideways on a phone: ${layout.scrollWidth} px`);
  assert.deepEqual(layout.overflowing, []);

  await page.focus('#prompt');
  const order = ['prompt'];
  for (let i = 0; i < 11; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement?.id ?? ''));
  }
  assert.deepEqual(order, ['prompt', 'negative', 'seed', 'dice', 'steps', 'guidance', 'width', 'height', 'scheduler',
    'backend', 'model', 'generate']);
  await page.focus('#dice');
  const before = await page.inputValue('#seed');
  await page.keyboard.press('Enter');
  assert.notEqual(await page.inputValue('#seed'), before, 'Enter on the dice draws a seed');
  await page.fill('#seed', '0');
  await page.fill('#steps', '1');
  await page.focus('#prompt');
  await page.keyboard.press('Control+Enter');
  await runEnded(page, { timeout: 50000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'done');
  await page.close();
});

// The history: a picture made here is listed with its settings, still there after a reload;
// choosing it puts its settings back and shows it; × deletes it; Clear empties the list. Its prompt
// carries markup, which the page shows as text and never runs.
test('the history keeps this browser\'s pictures across a reload; a prompt\'s markup stays text', { timeout: 120000 }, async () => {
  const prompt = 'a blue square <img src=x onerror="window.injected = 1">';
  const page = await context.newPage();
  const open = async () => {
    await page.goto(`${server.url}/web/page/index.html?backend=cpu`);
    await page.waitForFunction(() => document.body.dataset.state === 'idle');
  };
  await open();
  if (await page.isVisible('#clear-history')) await page.click('#clear-history');
  await page.waitForFunction(() => window.websdPage.history?.length === 0);
  assert.ok(await page.isVisible('#history-empty'));
  for (const [id, value] of Object.entries({ prompt, seed: '5', steps: '1' })) await page.fill(`#${id}`, value);
  await page.click('#generate');
  await page.waitForFunction(() => window.websdPage.history?.length === 1, null, { timeout: 60000 });

  await open();
  const kept = await page.evaluate(() => window.websdPage.history);
  assert.deepEqual(kept.map((p) => [p.prompt, p.seed, p.steps, p.model]), [[prompt, 5, 1, 'tiny-shapes']]);
  assert.equal(await page.textContent('#history li'), `${prompt} — seed 5, 1 steps, 128×128×`);
  assert.deepEqual(await page.evaluate(() => [document.querySelectorAll('#history img').length, window.injected]), [1, undefined]);
  await page.fill('#prompt', 'something else');
  await page.fill('#seed', '9');
  await page.click('#history .pick');
  await page.waitForFunction((p) => document.getElementById('prompt').value === p, prompt);
  assert.equal(await page.inputValue('#seed'), '5');
  assert.equal(await page.inputValue('#steps'), '1');
  // The PNG is read and decoded after the form is filled: wait for the drawing, not for the click.
  await page.waitForFunction(() => {
    const canvas = document.getElementById('picture');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return !document.getElementById('save').hidden && pixels.some((v) => v !== 0);
  });
  const drawn = await page.evaluate(() => {
    const canvas = document.getElementById('picture');
    return [canvas.width, canvas.height];
  });
  assert.deepEqual(drawn, [128, 128]);

  await page.click('#history li button[aria-label^="delete"]');
  await page.waitForFunction(() => window.websdPage.history?.length === 0);
  await open();
  assert.equal(await page.evaluate(() => window.websdPage.history.length), 0);
  await page.close();
});

// A storage quota too small for the model, set through Chromium's DevTools protocol for the page's
// origin (its worker caches there): the page says how much storage is needed, with Retry and Purge;
// once the quota is back, Retry loads and generates. Last: its model's URL is cached afterwards.
test('a full storage quota during the download: the page says what is needed, and Retry works once there is room',
  { timeout: RUN_TIMEOUT_MS }, async () => {
    const models = await serveArtifacts(path.join(ROOT, 'build'));
    const origin = new URL(server.url).origin;
    let cdp, retried;
    try {
      const shown = await generateInPage({ backend: 'cpu', model: `${models.url}/artifacts/tiny-shapes/`,
        prepare: async (page) => {
          cdp = await page.context().newCDPSession(page);
          await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 << 20 });
        },
        then: async (page) => {
          const offered = await page.evaluate(() => !document.getElementById('load-failed').hidden);
          await cdp.send('Storage.overrideQuotaForOrigin', { origin });
          await page.click('#retry');
          await runEnded(page);
          retried = await page.evaluate(() => ({ state: window.websdPage.state, error: window.websdPage.error,
            image: Array.from(window.websdPage.image?.data ?? []) }));
          return { offered };
        } });
      assert.equal(shown.state, 'error');
      assert.match(shown.errorText, /not enough storage to cache .*tiny-shapes.*: \d+ bytes needed/);
      assert.ok(shown.offered, 'Retry and Purge are shown');
      assert.equal(retried.state, 'done', retried.error);
      assert.equal(rgbaDiffers(retried.image, reference), null, 'the picture after the retry');
      console.log(`page, full quota: ${shown.errorText}`);
    } finally {
      await cdp?.send('Storage.overrideQuotaForOrigin', { origin }).catch(() => {});
      await models.close();
    }
  });
