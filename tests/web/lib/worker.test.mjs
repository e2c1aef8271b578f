// The npm package's entry in headless Chromium: loadModel runs the engine in a worker of its own by
// default. tiny-shapes on the CPU device (fast on SwiftShader-less CPU code): the picture is the one
// Node's engine makes on this thread, progress and steps (with previews) reach the page, the page's
// thread stays free while it runs, a cancel stops a run and the next one works, dispose ends it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadModel } from '../../../web/lib/index.mjs';
import { launchChromium, pageLogs } from '../host/headless_chromium.mjs';
import { serveStatic } from '../../../web/cli/static_server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WASM_BUILD = process.env.WEBSD_WASM_BUILD ?? 'build-wasm';
const ARTIFACTS = path.join(process.env.WEBSD_BUILD ?? 'build', 'artifacts');
const SETTINGS = { prompt: 'a red circle on a white background', steps: 2, seed: 0 };

let server, chrome;

before(async () => {
  server = await serveStatic({ '/web/': path.join(ROOT, 'web'), '/build-wasm/web/': path.join(ROOT, WASM_BUILD, 'web'),
    '/artifacts/': path.join(ROOT, ARTIFACTS) });
  chrome = await launchChromium();
});

after(async () => {
  await chrome?.close();
  await server?.close();
});

test('loadModel in a page runs the engine in a worker: same picture, progress, a free page, cancel, dispose', { timeout: 300_000 }, async () => {
  const sd = await loadModel(path.join(ROOT, ARTIFACTS, 'tiny-shapes'), { device: 'cpu', cache: false });
  const reference = await sd.generate(SETTINGS);
  sd.dispose();

  const page = await chrome.context.newPage();
  const logs = pageLogs(page);
  await page.goto(`${server.url}/web/page/index.html`);
  const shown = await page.evaluate(async (settings) => {
    const { loadModel: load } = await import('/web/lib/index.mjs');
    const events = [];
    const model = await load('/artifacts/tiny-shapes/', { device: 'cpu', progressCallback: (e) => events.push(e.status) });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const steps = [];
    const started = performance.now();
    const r = await model.generate({ ...settings, previewEvery: 1, onStep: (s) => steps.push([s.step, s.total, s.preview?.width]) });
    const ms = performance.now() - started;
    clearInterval(timer);

    const controller = new AbortController();
    let cancelled = null;
    try {
      await model.generate({ ...settings, steps: 50, signal: controller.signal, onStep: ({ step }) => step === 1 && controller.abort() });
    } catch (e) {
      cancelled = e.name;
    }
    const again = await model.generate(settings);
    const png = model.png(r);
    model.dispose();
    let disposed = null;
    try {
      await model.generate(settings);
    } catch (e) {
      disposed = e.message;
    }
    return { events: [...new Set(events)], device: model.device, image: Array.from(r.image.data), seed: r.seed,
      same: again.image.data.every((v, i) => v === r.image.data[i]), ticks, ms, steps, cancelled,
      png: Array.from(png.subarray(0, 8)), disposed };
  }, SETTINGS).catch((e) => assert.fail(`${e.message}\n${logs.join('\n')}`));

  assert.deepEqual(shown.events, ['initiate', 'download', 'progress', 'done', 'ready']);
  assert.equal(shown.device, 'cpu');
  assert.equal(shown.seed, 0);
  let worst = 0;
  shown.image.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - reference.image.data[i])); });
  assert.ok(worst <= 1, `the page's picture is Node's within a rounding step (worst ${worst})`);
  assert.deepEqual(shown.steps, [[1, 3, 16], [2, 3, 16], [3, 3, 16]]);  // PNDM: steps + 1 UNet calls
  // The page's thread ran its timer all along (a frozen page would tick a few times at most).
  assert.ok(shown.ticks >= shown.ms / 20 / 2, `${shown.ticks} ticks of 20 ms in ${shown.ms.toFixed(0)} ms`);
  assert.equal(shown.cancelled, 'AbortError');
  assert.ok(shown.same, 'a generation after the cancelled one makes the same picture');
  assert.deepEqual(shown.png, [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.match(shown.disposed, /disposed/);
});
