// websd in JavaScript: instantiates the WebAssembly build (build-wasm/web) and wraps its API.
//
//   import { loadWebsd } from './web/lib/websd.mjs';
//   const websd = await loadWebsd();                       // options: { moduleUrl }
//   const pipe = websd.loadPipeline('path/to/model', { backend: 'cpu' });  // a folder or a .safetensors file
//   const r = await pipe.generate({ prompt: 'a red circle', steps: 20, seed: 0 },
//                                 (step, total) => console.log(`${step}/${total}`));
//   websd.writePng('out.png', r.image);
//   pipe.dispose();
//
// Backends: 'cpu' (float32 in wasm), or 'webgpu' with an initialised GPU host —
//   const host = createGpuHost(navigator.gpu);    // web/host/gpu_host.mjs; in Node: nodeGpu()
//   await host.init();
//   const pipe = websd.loadPipeline(dir, { backend: 'webgpu', gpuHost: host });
// A module drives one GPU host at a time; the caller keeps it alive and destroys it after the
// pipelines that use it. randomWeights: SEED builds the models from the folder's config.json files
// with random weights instead of checkpoints (for timing full-size models; the picture is noise).
// The model is a diffusers folder or a single-file checkpoint (SD 1.x / SDXL, original layout),
// whose configs are the standard ones sized to its weights unless config: DIR names a folder with
// the model's own; modelInfo(path, { config }) describes either as `websd info` does.
//
// Tensors are plain { shape: number[], data: Float32Array } (copies, row-major). generate() takes
// the native CLI's settings under camelCase names — prompt, negativePrompt (omitted: diffusers'
// None), steps, cfgScale (omitted: 7.5, SDXL 5.0), seed (number or BigInt), width, height, clipSkip
// (diffusers' clip_skip; 0 or omitted: none), scheduler (a preset name) or schedulerConfig (a path),
// vaeTiling (true: decode in overlapping tiles as diffusers' enable_tiling()), vaeTileSize (latents
// a tile side, a multiple of 4), vaeMemoryBudgetMiB (tile the decode only when its tensors would
// need more), previewEvery (N: every N steps and at the last, onStep gets a preview) — and returns a Promise of { image: H×W×3 in [0, 1], latents, promptEmbeds, negativePromptEmbeds
// (or null), pooledPromptEmbeds, negativePooledPromptEmbeds (SDXL's pooled text embeddings; null
// for SD 1.x/2.x), timesteps, stages, parameters (the settings, see formatParameters) }, where stages is the per-stage report [{ name:
// 'text_encoder' | 'unet_step' | 'vae_decode', ms, kernels, peakBytes, pipelines, compileMs }] (one
// unet_step per UNet call — PNDM makes steps + 1; peakBytes: the backend's memory, weights included;
// pipelines: GPU kernels compiled in the stage, on their first use, and compileMs its share of ms). loadPipeline()
// is synchronous and throws on a bad folder or backend. onStep(step, total, { ms, preview }) is called after
// each step (ms: that step's time; preview, when previewEvery asks for one: { shape: [h, w, 3], data }
// in [0, 1], a linear map of the latents, one pixel per latent, fitted to the model's VAE and
// refitted to each picture it makes — see src/pipeline/latent_preview.h); if it throws, the run stops and generate rejects with that
// error. signal (an AbortSignal) cancels: an aborted run stops inside the stage under way (the text
// encoder, a UNet step or the VAE decode) at the next of its models' blocks, a queued one never
// starts, and generate rejects with the signal's reason. Any other failure rejects with an Error
// carrying websd's one-line message. The CPU backend computes on the calling thread, yielding to
// the event loop only when onStep or signal is given: between steps, and with a signal inside
// stages at most every 100 ms (in a page, use a worker: the npm package's loadModel does); one
// generation runs at a time per module, later calls wait their turn.
//
// Paths are the module's file system: under Node the real one (NODERAWFS); in a browser
// Emscripten's in-memory one, which the host fills (websd.fs).
//
// Artifact models (`websd convert`'s output), the way a page gets a full-size model:
//   const pipe = await websd.loadModel('https://host/models/sd15/', { backend: 'webgpu', gpuHost: host,
//     onProgress: (e) => console.log(e.status, e.file, e.progress) });
// fetches model.json, its files and the weight shards (each verified by SHA-256; shards from the cache
// when there, several at once with a bound on the bytes in flight; with webgpu straight into GPU
// buffers), and caches them: the Cache API in browsers, a folder in Node ($WEBSD_CACHE, default
// ~/.cache/websd). A cached model loads with no network. In Node a local artifact folder works too
// (verified, not cached). pipe.info is model.json (family, defaults, sizes). isCached(url) and
// purge(url) are exported; see web/lib/artifact_loader.mjs for the progress events and the rules.

import { loadArtifactModel } from './artifact_loader.mjs';
import { isNode } from './runtime.mjs';

export { isCached, purge } from './model_cache.mjs';

const defaultModule = isNode ? '../../build-wasm/web/websd_node.mjs' : '../../build-wasm/web/websd_web.mjs';

// The options each call takes: a name not here is a typo or a misunderstanding, never ignored.
const GENERATE_OPTIONS = ['prompt', 'negativePrompt', 'steps', 'cfgScale', 'seed', 'width', 'height', 'clipSkip',
  'scheduler', 'schedulerConfig', 'vaeTiling', 'vaeTileSize', 'vaeMemoryBudgetMiB', 'previewEvery', 'signal'];
const LOAD_PIPELINE_OPTIONS = ['backend', 'gpuHost', 'randomWeights', 'config'];
const LOAD_MODEL_OPTIONS = ['backend', 'gpuHost', 'cache', 'fetch', 'onProgress', 'maxBytesInFlight', 'maxConcurrent'];

// Edits (insertions, deletions, substitutions) between two names.
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

// Throws naming the first unknown option of `what` and the nearest known one.
export function checkOptions(options, known, what) {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object') throw new TypeError(`${what}: options must be an object`);
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const nearest = known.reduce((best, k) => (distance(name, k) < distance(name, best) ? k : best));
    throw new TypeError(`${what}: unknown option '${name}' (did you mean '${nearest}'?)`);
  }
}

export async function loadWebsd({ moduleUrl = new URL(defaultModule, import.meta.url) } = {}) {
  const url = new URL(moduleUrl, import.meta.url);
  let createWebsdModule;
  try {
    ({ default: createWebsdModule } = await import(url.href));
  } catch (e) {
    throw new Error(`cannot load the WebAssembly build ${url.href} (build it with \`make wasm\`): ${e.message}`);
  }
  const module = await createWebsdModule(isNode ? await nodeModuleArgs(url) : {});
  return new Websd(module);
}

// Emscripten 3.1.6 would fetch() the .wasm under Node (which has fetch but cannot fetch a file
// path), and its Node code needs require and __dirname (see src/wasm/node_esm_pre.js).
async function nodeModuleArgs(url) {
  const { readFile } = await import('node:fs/promises');
  const { createRequire } = await import('node:module');
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  const file = fileURLToPath(url);
  return {
    wasmBinary: await readFile(file.replace(/\.mjs$/, '.wasm')),
    nodeRequire: createRequire(file),
    nodeDirname: path.dirname(file),
  };
}

class Websd {
  constructor(module) {
    this.module = module;
    this.queue = Promise.resolve();  // the generations of this module, one after another
    this.gpuHostUsers = 0;           // live webgpu pipelines, which all use module.websdGpuHost
  }

  // backend: 'cpu' or 'webgpu' (then gpuHost: an initialised createGpuHost()); randomWeights: a
  // seed (number or BigInt) to build the models from their configs with random weights.
  loadPipeline(modelDir, options = {}) {
    checkOptions(options, LOAD_PIPELINE_OPTIONS, 'loadPipeline');
    const { backend = 'cpu', gpuHost, randomWeights, config } = options ?? {};
    const usesGpu = backend === 'webgpu';
    if (usesGpu) this.installGpuHost(gpuHost);
    const engineOptions = {};
    if (randomWeights !== undefined) engineOptions.randomWeights = randomWeights;
    if (config !== undefined) engineOptions.config = config;
    const handle = this.module.Pipeline.load(modelDir, backend, engineOptions);
    if (usesGpu) this.gpuHostUsers++;
    return new Pipeline(this, handle, usesGpu);
  }

  // An artifact model from a URL (or in Node a local folder): see the header.
  async loadModel(model, allOptions = {}) {
    checkOptions(allOptions, LOAD_MODEL_OPTIONS, 'loadModel');
    const { backend = 'cpu', gpuHost, ...options } = allOptions ?? {};
    const usesGpu = backend === 'webgpu';
    if (usesGpu) this.installGpuHost(gpuHost);
    const { handle, info, release } = await loadArtifactModel(this.module, model, { backend, gpuHost, ...options });
    if (usesGpu) this.gpuHostUsers++;
    const pipe = new Pipeline(this, handle, usesGpu, release);
    pipe.info = info;
    return pipe;
  }

  // js_gpu_host.cpp reaches the host through Module.websdGpuHost on every call, so a module can
  // only switch hosts when no pipeline uses the old one.
  installGpuHost(gpuHost) {
    if (!gpuHost) throw new Error("backend 'webgpu' needs { gpuHost }: an initialised createGpuHost() (web/host/gpu_host.mjs)");
    const current = this.module.websdGpuHost;
    if (current && current !== gpuHost && this.gpuHostUsers > 0)
      throw new Error('this module already drives another GPU host; dispose its webgpu pipelines first');
    this.module.websdGpuHost = gpuHost;
  }

  // Runs task after every generation queued before it: an ASYNCIFY module can have only one
  // suspended call at a time.
  serialize(task) {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  // What `websd info` prints: format, family, components with their parameters and dtypes.
  modelInfo(model, { config = '' } = {}) {
    return this.module.modelInfo(model, config);
  }

  // The 77 CLIP token ids of text; padToken replaces the folder's pad token.
  tokenize(tokenizerDir, text, { padToken = '' } = {}) {
    return this.module.tokenize(tokenizerDir, text, padToken);
  }

  // parameters (optional): a result's parameters, with `model` set, written into the PNG as
  // AUTOMATIC1111's "parameters" text (the same bytes as the native CLI's).
  encodePng(image, parameters = null) {
    return this.module.encodePng(image, parameters);
  }

  writePng(path, image, parameters = null) {
    this.module.writePng(path, image, parameters);
  }

  // AUTOMATIC1111's "parameters" text ⇄ { prompt, negativePrompt, steps, sampler, scheduleType,
  // cfgScale, seed, width, height, clipSkip, model }; pngParameters(bytes) reads it from a PNG
  // (null if absent); modelLabel(path or URL) is the name a model goes by there.
  formatParameters(parameters) {
    return this.module.formatParameters(parameters);
  }

  parseParameters(text) {
    return this.module.parseParameters(text);
  }

  pngParameters(bytes) {
    return this.module.pngParameters(bytes);
  }

  modelLabel(model) {
    return this.module.modelLabel(model);
  }

  // tensors: { name: { shape, data } }, written as float32 safetensors.
  writeSafetensors(path, tensors) {
    this.module.writeSafetensors(path, tensors);
  }

  get fs() {
    return this.module.FS;
  }

  // Bytes of WebAssembly memory in use (it only grows): the module's peak.
  get memoryBytes() {
    return this.module.HEAPU8.length;
  }
}

class Pipeline {
  constructor(websd, handle, usesGpu, release = () => {}) {
    this.websd = websd;
    this.handle = handle;
    this.usesGpu = usesGpu;
    this.release = release;  // frees an artifact model's files in the module's file system
    this.pending = 0;  // generate() calls not yet settled
  }

  // A Promise of the result (see the header). The options are checked when the run starts.
  generate(options, onStep) {
    if (!this.handle) return Promise.reject(new Error('the pipeline has been disposed'));
    try {
      checkOptions(options, GENERATE_OPTIONS, 'generate');
    } catch (e) {
      return Promise.reject(e);
    }
    this.pending++;
    const run = this.websd.serialize(() => this.run(options ?? {}, onStep));
    return run.finally(() => this.pending--);
  }

  async run(options, onStep) {
    const { signal, ...engineOptions } = options;
    signal?.throwIfAborted();
    // The module calls the wrappers, never the user's function: an exception must not unwind
    // through C++ frames, so it is kept here and the wrapper's false stops the run (so does an
    // aborted signal: at the end of a step, and inside a stage through shouldStop).
    let stepError = null;
    let stepStart = performance.now();
    const step = typeof onStep === 'function' || signal
      ? (s, total, preview) => {
        if (signal?.aborted) {
          stepError = signal.reason;
          return false;
        }
        const now = performance.now();
        try {
          if (typeof onStep === 'function') onStep(s, total, preview ? { ms: now - stepStart, preview } : { ms: now - stepStart });
          stepStart = now;
          return true;
        } catch (e) {
          stepError = e;
          return false;
        }
      }
      : null;
    const shouldStop = signal ? () => signal.aborted : null;
    this.handle.begin(engineOptions, step, shouldStop);
    await this.websd.module.ccall('websd_pipeline_run', null, ['number'], [this.handle.address()], { async: true });
    try {
      return this.handle.finish();
    } catch (e) {
      throw stepError ?? (signal?.aborted ? signal.reason : e);
    }
  }

  get defaultWidth() {
    return this.handle.defaultWidth();
  }

  get defaultHeight() {
    return this.handle.defaultHeight();
  }

  // Frees the weights; the pipeline cannot be used afterwards. Not while a generate() is pending.
  dispose() {
    if (!this.handle) return;
    if (this.pending > 0) throw new Error('the pipeline is generating; await generate() before dispose()');
    this.handle.delete();
    this.handle = null;
    this.release();
    if (this.usesGpu) this.websd.gpuHostUsers--;
  }
}
