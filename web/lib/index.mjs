// websd's package entry, in the conventions of transformers.js and web-llm:
//
//   import { loadModel, detect, isCached, purge } from 'websd';
//   const sd = await loadModel('https://host/models/sd15/', { device: 'auto', progressCallback: (e) => ... });
//   const { image, seed } = await sd.generate({ prompt: 'a red circle', steps: 20 });
//   // image: { width, height, channels: 4, data: Uint8ClampedArray } (RGBA: new ImageData(data, width, height))
//   sd.dispose();
//
// loadModel takes an artifact model (`websd convert`'s output) by http(s) URL, or in Node a local
// artifact folder, verifies and caches it (web/lib/artifact_loader.mjs), and sets up the engine on
// the chosen device: 'webgpu' (an error saying why where there is none: never a silent fallback),
// 'cpu', or 'auto' (WebGPU where it comes up, else the CPU; the model's and each result's `notice`
// says so). In Node, WebGPU is Dawn from the npm package `webgpu` (an optional dependency).
// progressCallback receives transformers.js' progress events (initiate, download, progress, done,
// ready) with the model's loadedBytes/totalBytes and, on 'done', whether the file came from the cache.
// In a browser the engine runs in a worker of its own by default (engine_worker.mjs owns the wasm
// module and the GPU device; the page never freezes); `worker: false`, a `gpu`, `cache` or `fetch`
// object of the caller's, and Node run it on the calling thread.

import { checkOptions, loadWebsd } from './websd.mjs';
import { defaultGpu, NO_ADAPTER, openDevice } from './device.mjs';
import { hasTensorCores } from '../host/gpu_host.mjs';
import { isNode } from './runtime.mjs';
import { toRgba } from './rgba.mjs';

export { isCached, purge } from './model_cache.mjs';

let reader = null;  // the engine that readPngSettings loads on this thread, once

/**
 * The settings a PNG carries as AUTOMATIC1111's `parameters` text (the pictures of sd.png(), the
 * CLIs and AUTOMATIC1111 itself), parsed: { prompt, negativePrompt, steps, sampler, scheduleType,
 * cfgScale, seed, width, height, clipSkip, model }; null where it has none. Loads the engine's
 * WebAssembly module on this thread the first time (moduleUrl: the engine's .mjs elsewhere).
 * @param {ArrayBuffer | Uint8Array} png
 * @param {{ moduleUrl?: string | URL }} [options]
 */
export async function readPngSettings(png, options = {}) {
  checkOptions(options, ['moduleUrl'], 'readPngSettings');
  reader ??= loadWebsd(options.moduleUrl ? { moduleUrl: options.moduleUrl } : undefined).catch((e) => {
    reader = null;
    throw e;
  });
  const websd = await reader;
  const text = websd.pngParameters(png instanceof Uint8Array ? png : new Uint8Array(png));
  return text === null ? null : websd.parseParameters(text);
}

const LOAD_OPTIONS = ['device', 'progressCallback', 'precision', 'busy', 'worker', 'gpu', 'moduleUrl', 'cache', 'fetch',
  'maxBytesInFlight', 'maxConcurrent'];
const GENERATE_OPTIONS = ['prompt', 'negativePrompt', 'width', 'height', 'steps', 'cfgScale', 'seed', 'sampler', 'signal',
  'onStep', 'previewEvery', 'clipSkip', 'vaeTiling', 'vaeTileSize', 'vaeMemoryBudgetMiB'];

// GPU memory a whole picture took at the family's native size, weights in float16 (the peak, the
// VAE decode's, measured on the H100's tensor-core path: docs/performance.md), and the largest
// single weight each model binds (a text encoder's token embedding).
const MODEL_NEEDS = [
  { family: 'sd15', size: 512, gpuMemoryMiB: 2787, largestWeightBytes: 49408 * 768 * 2 },
  { family: 'sdxl', size: 1024, gpuMemoryMiB: 9290, largestWeightBytes: 49408 * 1280 * 2 },
];

/**
 * What this machine's WebGPU offers, without creating a device.
 * @param {{ gpu?: GPU }} [options] gpu: another GPU object than navigator.gpu (in Node: Dawn's)
 */
export async function detect(options = {}) {
  checkOptions(options, ['gpu'], 'detect');
  const result = { webgpu: false, reason: /** @type {string | null} */ (null), adapter: null, limits: null,
    shaderF16: false, subgroupMatrix: false, tensorCores: false, software: false, models: [] };
  let adapter = null;
  try {
    adapter = await (await defaultGpu(options.gpu)).requestAdapter();
    if (!adapter) throw new Error(NO_ADAPTER);
  } catch (e) {
    result.reason = e instanceof Error ? e.message : String(e);
    return result;
  }
  const info = adapter.info ?? {};
  result.webgpu = true;
  result.adapter = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '',
    description: info.description ?? '' };
  result.software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const l = adapter.limits;
  result.limits = { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup };
  result.shaderF16 = adapter.features.has('shader-f16');
  result.subgroupMatrix = adapter.features.has('chromium-experimental-subgroup-matrix');
  result.tensorCores = hasTensorCores(adapter, info);
  // WebGPU does not say how much memory the GPU has: what each model needs, and whether the
  // device's limits allow it at all.
  result.models = MODEL_NEEDS.map((m) => ({ family: m.family, size: m.size, gpuMemoryMiB: m.gpuMemoryMiB,
    limitsAllow: m.largestWeightBytes <= Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize) }));
  return result;
}

/**
 * @param {string | URL} url an http(s) URL of an artifact model's folder, or in Node a local one
 * @param {object} [options] device ('auto' | 'webgpu' | 'cpu'), progressCallback, precision
 *   ('auto' | 'f32': float32 kernels only), busy ('queue': a generate() while one runs waits its
 *   turn; 'reject': it rejects), worker (browsers: true by default), gpu (a GPU object other than
 *   the default), moduleUrl (the engine's .mjs elsewhere), cache (false: no cache), fetch,
 *   maxBytesInFlight, maxConcurrent
 */
export async function loadModel(url, options = {}) {
  checkOptions(options, LOAD_OPTIONS, 'loadModel');
  const { device = 'auto', progressCallback, precision, busy = 'queue', worker, gpu, moduleUrl, ...load } = options ?? {};
  if (!['auto', 'webgpu', 'cpu'].includes(device)) throw new TypeError(`loadModel: device '${device}' is not 'auto', 'webgpu' or 'cpu'`);
  if (!['queue', 'reject'].includes(busy)) throw new TypeError(`loadModel: busy '${busy}' is not 'queue' or 'reject'`);
  if (progressCallback !== undefined && typeof progressCallback !== 'function')
    throw new TypeError('loadModel: progressCallback must be a function');
  // What cannot cross into a worker keeps the engine on this thread.
  const ownObjects = gpu !== undefined || load.fetch !== undefined || (load.cache !== undefined && load.cache !== false);
  if (worker === true && (isNode || ownObjects))
    throw new TypeError(isNode ? 'loadModel: worker: true is for browsers; in Node the engine runs on the calling thread'
      : 'loadModel: worker: true cannot take the gpu, fetch or cache objects (they cannot cross into a worker)');
  if (worker ?? (!isNode && typeof Worker === 'function' && !ownObjects)) {
    const module = moduleUrl === undefined ? undefined : new URL(moduleUrl, globalThis.location?.href).href;
    return WorkerModel.start(url instanceof URL ? url.href : new URL(url, globalThis.location?.href).href,
      { device, precision, busy, moduleUrl: module, ...load }, progressCallback);
  }
  const websd = await loadWebsd(moduleUrl ? { moduleUrl } : undefined);
  // The model on a device: the first, and a new GPU device after a loss (the files then come from
  // the cache or the local folder: nothing is downloaded twice).
  const open = async (/** @type {'auto' | 'webgpu' | 'cpu'} */ wanted) => {
    const { backend, host, notice } = await openDevice(wanted, { gpu, precision });
    try {
      const pipe = await websd.loadModel(url, { backend, gpuHost: host ?? undefined, onProgress: progressCallback, ...load });
      return { pipe, host, backend, notice };
    } catch (e) {
      host?.destroy();
      throw e;
    }
  };
  const first = await open(device);
  return new StableDiffusion(websd, first, () => open('webgpu'), { busy, model: websd.modelLabel(String(url)) });
}

const randomSeed = () => Math.floor(Math.random() * 2 ** 32);

function checkGenerate(options) {
  checkOptions(options, GENERATE_OPTIONS, 'generate');
  if (options?.onStep !== undefined && typeof options.onStep !== 'function') throw new TypeError('generate: onStep must be a function');
}

class StableDiffusion {
  #websd;
  #pipe;
  #host;
  #reopen;
  #turn = Promise.resolve();  // the generations one after another, so a lost device is replaced between two
  #lost = '';  // the lost device's message
  #busy;
  #running = 0;

  constructor(websd, { pipe, host, backend: device, notice }, reopen, { busy, model }) {
    this.#websd = websd;
    this.#pipe = pipe;
    this.#host = host;
    this.#reopen = reopen;
    this.#busy = busy;
    /** The device generating: 'webgpu' or 'cpu'. */
    this.device = device;
    /** Why 'auto' fell back to the CPU, or that WebGPU runs on a software adapter; else null. */
    this.notice = notice;
    /** The model's name in the pictures' parameters, and model.json. */
    this.model = model;
    this.info = pipe.info;
  }

  /**
   * One picture. seed omitted: a random one (in the result). onStep({ step, total, ms, preview }):
   * after each step; preview (every previewEvery steps) is the latents as an RGBA image, a pixel
   * per latent. signal: an AbortSignal; an aborted run stops inside the stage under way (text
   * encoder, UNet step, VAE decode) and rejects with the signal's reason.
   */
  async generate(options = {}) {
    checkGenerate(options);
    if (!this.#reopen) throw new Error('generate: the model has been disposed');
    if (this.#busy === 'reject' && this.#running > 0)
      throw new Error("generate: a generation is already running (loadModel's busy: 'queue' waits instead)");
    const { sampler, onStep, seed = randomSeed(), ...engineOptions } = options ?? {};
    if (sampler !== undefined) engineOptions.scheduler = sampler;
    const step = onStep && ((s, total, { ms, preview }) => onStep({ step: s, total, ms, preview: preview ? toRgba(preview) : null }));
    this.#running++;
    const run = this.#turn.then(async () => {
      if (!this.#reopen) throw new Error('generate: the model has been disposed');  // while this one waited
      const recovered = await this.#recover();
      const r = await this.#pipe.generate({ ...engineOptions, seed }, step);
      return { image: toRgba(r.image), seed: r.parameters.seed, parameters: { ...r.parameters, model: this.model },
        stages: r.stages, device: this.device, notice: recovered ?? this.notice, gpu: this.#host?.stats() ?? null };
    });
    this.#turn = run.catch(() => {});
    try {
      return await run;
    } finally {
      this.#running--;
    }
  }

  // A GPU device lost since the last run (a driver reset, the GPU removed or asleep, the tab's GPU
  // process restarted) is replaced: a new device and the model loaded again onto it (a failed
  // attempt is tried again by the next generate). Returns the notice that says so, or null where
  // the device is well.
  async #recover() {
    const lost = this.#host?.lost();
    if (lost) {
      this.#lost = lost.message;
      try {
        this.#pipe.dispose();
      } catch {
        // A pipeline whose device died may fail to free; the new device does not need it.
      }
      this.#host.destroy();
      this.#pipe = null;
      this.#host = null;
    }
    if (this.#pipe) return null;
    const reopen = this.#reopen;
    const fresh = await reopen();
    if (this.#reopen !== reopen) {  // disposed meanwhile
      fresh.pipe.dispose();
      fresh.host?.destroy();
      throw new Error('generate: the model has been disposed');
    }
    this.#pipe = fresh.pipe;
    this.#host = fresh.host;
    return `${this.#lost}; generated on a new GPU device, the model loaded again from the cache`;
  }

  /**
   * A result's picture as PNG bytes carrying its settings as AUTOMATIC1111's `parameters` text (the
   * bytes the native CLI writes for the same picture).
   */
  png(result) {
    const { width, height, data } = result.image;
    const rgb = new Float32Array(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) rgb[3 * p + c] = data[4 * p + c] / 255;
    }
    return this.#websd.encodePng({ shape: [height, width, 3], data: rgb }, result.parameters);
  }

  /** Frees the weights and the GPU device; not while a generate() is pending. */
  dispose() {
    this.#pipe?.dispose();
    this.#pipe = null;
    this.#host?.destroy();
    this.#host = null;
    this.#reopen = null;
  }
}

// The same interface as StableDiffusion, the engine in a worker (engine_worker.mjs): requests
// posted, answers matched by generation id. A dead worker fails every pending call with its error.
class WorkerModel {
  #worker;
  #pending = new Map();  // id → { resolve, reject, onStep, signal }
  #next = 0;
  #pngs = new WeakMap();  // result → its PNG bytes, made in the worker
  #failed = null;

  static start(url, options, progressCallback) {
    const worker = new Worker(new URL('./engine_worker.mjs', import.meta.url), { type: 'module' });
    return new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.type === 'progress') progressCallback?.(data.event);
        else if (data.type === 'loaded') resolve(new WorkerModel(worker, data, progressCallback));
        else if (data.type === 'error') {
          worker.terminate();
          reject(asError(data));
        }
      };
      worker.onerror = (e) => {
        worker.terminate();
        reject(new Error(`loadModel: the engine's worker failed: ${e.message ?? 'could not start it'}`));
      };
      worker.postMessage({ type: 'load', url, options });
    });
  }

  #progress;

  constructor(worker, { device, notice, model, info }, progressCallback) {
    this.#worker = worker;
    this.#progress = progressCallback;
    this.device = device;
    this.notice = notice;
    this.model = model;
    this.info = info;
    worker.onmessage = ({ data }) => this.#receive(data);
    worker.onerror = (e) => this.#fail(new Error(`the engine's worker failed: ${e.message ?? 'unknown error'}`));
  }

  #receive(data) {
    if (data.type === 'progress') {  // the model loaded again onto a new GPU device
      this.#progress?.(data.event);
      return;
    }
    const call = this.#pending.get(data.id);
    if (!call) return;
    if (data.type === 'step') {
      call.onStep?.(data.info);
      return;
    }
    this.#pending.delete(data.id);
    call.signal?.removeEventListener('abort', call.abort);
    if (data.type === 'result') {
      this.#pngs.set(data.result, data.png);
      call.resolve(data.result);
    } else {
      call.reject(call.signal?.aborted ? call.signal.reason : asError(data));
    }
  }

  #fail(error) {
    this.#failed = error;
    for (const call of this.#pending.values()) call.reject(error);
    this.#pending.clear();
    this.#worker?.terminate();
    this.#worker = null;
  }

  async generate(options = {}) {
    checkGenerate(options);
    if (this.#failed) throw this.#failed;
    if (!this.#worker) throw new Error('generate: the model has been disposed');
    const { signal, onStep, ...rest } = options ?? {};
    signal?.throwIfAborted();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const abort = () => this.#worker?.postMessage({ type: 'cancel', id });
      signal?.addEventListener('abort', abort, { once: true });
      this.#pending.set(id, { resolve, reject, onStep, signal, abort });
      this.#worker.postMessage({ type: 'generate', id, options: rest, steps: Boolean(onStep) });
    });
  }

  png(result) {
    const png = this.#pngs.get(result);
    if (!png) throw new TypeError('png: not a result of this model');
    return png;
  }

  /** Ends the worker, which frees the module, the weights and the GPU device. */
  dispose() {
    if (!this.#worker) return;
    this.#fail(new Error('the model has been disposed'));
  }
}

// An error the worker posted, as the Error type it was.
function asError({ name, message }) {
  const error = name === 'TypeError' ? new TypeError(message) : new Error(message);
  if (name !== 'TypeError' && name !== 'Error') error.name = name;
  return error;
}
