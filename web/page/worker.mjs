// The engine's thread (a module worker): loads the wasm module, picks the backend, loads the
// artifact model (websd.loadModel: verified shards from the network or the page's cache), runs
// generate and posts progress and the picture back.
// Generation takes seconds to minutes and the CPU backend never yields, so it must not run on the
// page's thread. The GPU host lives here too: navigator.gpu exists in workers, and the WebGPU
// backend calls the host synchronously from inside wasm.
//
// Messages in:  { type: 'generate', moduleUrl?, modelUrl, backend: 'auto' | 'webgpu' | 'cpu', options }
//               | { type: 'read-png', moduleUrl?, bytes } (a dropped picture's settings)
//               | { type: 'lose-device' } (tests: destroys the GPU device as a driver reset would)
//               | { type: 'purge', modelUrl } (removes the model's files from the cache)
// Messages out: { type: 'status', text } | { type: 'notice', text }
//               | { type: 'progress', step, total, ms, preview } (preview: { shape: [h, w, 3], data }, the
//                 latents as colours, one pixel per latent)
//               | { type: 'download', loaded, total, file, fromCache } (the model's bytes so far)
//               | { type: 'done', backend, image, png, parameters, timings, stages, model, gpu }
//                 (gpu: the GPU host's counters after the run — live buffers and bytes, pipelines —
//                 or null on the CPU backend)
//                 (png: the picture with its settings as AUTOMATIC1111's `parameters` text)
//               | { type: 'settings', parameters } (null: the PNG has none)
//               | { type: 'purged', modelUrl, files } (how many cached files were removed)
//               | { type: 'error', message, modelUrl? } (modelUrl: loading that model failed, a network,
//                 storage or artifact error, which a retry or a purge of its cached files may cure)

import { loadWebsd, purge } from '../lib/websd.mjs';
import { openDevice } from '../lib/device.mjs';

let websdPromise = null;  // one module per worker; its moduleUrl is the first request's
let loaded = null;  // { key, backend, pipe, host, notice }: the last pipeline, kept for the next request

// One request at a time: the module is not reentrant, and a second click while one runs waits.
let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  const task = { generate: run, 'read-png': readPng, 'lose-device': loseDevice, purge: purgeModel }[data?.type];
  if (!task) return;
  queue = queue.then(() => task(data)).catch((e) => {
    // Whatever failed may have left the pipeline or the GPU device unusable: start afresh next time.
    drop();
    post({ type: 'error', message: e instanceof Error ? e.message : String(e), modelUrl: e?.modelUrl });
  });
};

const post = (msg, transfer = []) => self.postMessage(msg, transfer);
const status = (text) => post({ type: 'status', text });

function engine(moduleUrl) {
  websdPromise ??= loadWebsd(moduleUrl ? { moduleUrl: new URL(moduleUrl, self.location.href) } : undefined);
  return websdPromise.catch((e) => {
    websdPromise = null;
    throw new Error(`loading the engine failed: ${e.message}`);
  });
}

async function readPng({ moduleUrl, bytes }) {
  const websd = await engine(moduleUrl);
  const text = websd.pngParameters(new Uint8Array(bytes));
  post({ type: 'settings', parameters: text === null ? null : websd.parseParameters(text) });
}

async function run({ moduleUrl, modelUrl, backend: requested, options }) {
  const timings = {};
  let t = performance.now();
  const lap = (name) => {
    const now = performance.now();
    timings[name] = (timings[name] ?? 0) + (now - t);
    t = now;
  };

  status('loading the engine');
  const websd = await engine(moduleUrl);
  lap('engine');

  const key = `${modelUrl}\n${requested}`;
  let model = null;
  // A device lost since the last run (a driver reset, a GPU removed): a new one, and the model again
  // from the cache, so nothing is downloaded twice.
  const lost = loaded?.host?.lost();
  if (lost) {
    post({ type: 'notice', text: `${lost.message}; starting a new GPU device (the model comes from the cache)` });
    drop();
  }
  if (loaded?.key !== key) {
    drop();
    const { backend, host, notice } = await openDevice(requested);
    status(`loading ${modelUrl} (${backend} backend)`);
    const files = { cached: 0, downloaded: 0 };
    try {
      const pipe = await websd.loadModel(modelUrl, { backend, gpuHost: host, onProgress: (e) => {
        if (e.status === 'done') files[e.fromCache ? 'cached' : 'downloaded']++;
        if (e.status === 'progress' || e.status === 'done') {
          post({ type: 'download', loaded: e.loadedBytes, total: e.totalBytes, file: e.file, fromCache: e.fromCache ?? false });
        }
      } });
      loaded = { key, backend, pipe, host, notice };
      model = { ...files, bytes: pipe.info.totalBytes };
      status(`loaded the model: ${files.downloaded} files downloaded, ${files.cached} from the cache ` +
        `(${formatBytes(pipe.info.totalBytes)})`);
    } catch (e) {
      host?.destroy();
      throw Object.assign(e instanceof Error ? e : new Error(String(e)), { modelUrl });
    }
  }
  lap('load');
  // Every run that falls back says so, not only the one that found out.
  if (loaded.notice) post({ type: 'notice', text: loaded.notice });

  status(`generating (${loaded.backend} backend)`);
  // A preview of every step: a few hundred multiply-adds per latent pixel, nothing to the step.
  const result = await loaded.pipe.generate({ ...options, previewEvery: 1 }, (step, total, { ms, preview }) => {
    post({ type: 'progress', step, total, ms, preview }, preview ? [preview.data.buffer] : []);
  });
  lap('generate');

  const { image } = result;
  const parameters = { ...result.parameters, model: websd.modelLabel(modelUrl) };
  const png = websd.encodePng(image, parameters);
  post({ type: 'done', backend: loaded.backend, image, png, parameters, timings, stages: result.stages ?? null, model,
    gpu: loaded.host?.stats() ?? null },
    [image.data.buffer, png.buffer]);
}

async function purgeModel({ modelUrl }) {
  if (loaded?.key.startsWith(`${modelUrl}\n`)) drop();
  post({ type: 'purged', modelUrl, files: await purge(modelUrl) });
}

// What a driver reset does to the device, for tests (the page's websdPage.loseDevice()).
async function loseDevice() {
  loaded?.host?.gpuDevice()?.destroy();
  await loaded?.host?.gpuDevice()?.lost;
}

function drop() {
  if (!loaded) return;
  try {
    loaded.pipe.dispose();
  } catch {
    // A pipeline whose device died may fail to free; nothing more can be done with it.
  }
  loaded.host?.destroy();
  loaded = null;
}

function formatBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
