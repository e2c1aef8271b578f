// websd in JavaScript: instantiates the WebAssembly build (build-wasm/web) and wraps its API.
//
//   import { loadWebsd } from './web/lib/websd.mjs';
//   const websd = await loadWebsd();                       // options: { moduleUrl }
//   const pipe = websd.loadPipeline('path/to/model', { backend: 'cpu' });
//   const r = pipe.generate({ prompt: 'a red circle', steps: 20, seed: 0 },
//                           (step, total) => console.log(`${step}/${total}`));
//   websd.writePng('out.png', r.image);
//   pipe.dispose();
//
// Tensors are plain { shape: number[], data: Float32Array } (copies, row-major). generate() takes
// the native CLI's settings under camelCase names — prompt, negativePrompt (omitted: diffusers'
// None), steps, cfgScale, seed (number or BigInt), width, height, scheduler (a preset name) or
// schedulerConfig (a path) — and returns { image: H×W×3 in [0, 1], latents, promptEmbeds,
// negativePromptEmbeds (or null), timesteps }. It runs to completion on the calling thread: in a
// page, call it from a worker. Any failure is thrown as an Error with websd's one-line message.
//
// Paths are the module's file system: under Node the real one (NODERAWFS); in a browser
// Emscripten's in-memory one, which the host fills (websd.fs).

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
const defaultModule = isNode ? '../../build-wasm/web/websd_node.mjs' : '../../build-wasm/web/websd_web.mjs';

export async function loadWebsd({ moduleUrl = new URL(defaultModule, import.meta.url) } = {}) {
  const url = new URL(moduleUrl, import.meta.url);
  const { default: createWebsdModule } = await import(url.href);
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
  }

  // backend: 'cpu' (the WebGPU backend will be selected here too, as 'webgpu').
  loadPipeline(modelDir, { backend = 'cpu' } = {}) {
    return new Pipeline(this.module.Pipeline.load(modelDir, backend));
  }

  // The 77 CLIP token ids of text; padToken replaces the folder's pad token.
  tokenize(tokenizerDir, text, { padToken = '' } = {}) {
    return this.module.tokenize(tokenizerDir, text, padToken);
  }

  encodePng(image) {
    return this.module.encodePng(image);
  }

  writePng(path, image) {
    this.module.writePng(path, image);
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
  constructor(handle) {
    this.handle = handle;
  }

  generate(options, onStep) {
    return this.handle.generate(options, onStep ?? null);
  }

  get defaultWidth() {
    return this.handle.defaultWidth();
  }

  get defaultHeight() {
    return this.handle.defaultHeight();
  }

  // Frees the weights; the pipeline cannot be used afterwards.
  dispose() {
    this.handle.delete();
  }
}
