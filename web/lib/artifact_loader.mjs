// Loads an artifact model (`websd convert`'s output) into the engine from a URL, or in Node from a
// local folder: model.json first, then the files it lists and the weight shards, each verified by
// size and SHA-256 before it is used or cached. Shards go to the engine one by one as they arrive
// (several fetched at once, with a bound on the bytes in flight) and are dropped after: with the
// WebGPU backend the GPU host writes them to GPU buffers from its own staging, so no weight byte
// enters WebAssembly memory and no copy of the whole model exists in the page.
//
// The cache (model_cache.mjs): shards and files are named by content in model.json and the
// manifest, so they are read from the cache first; model.json itself is asked of the network first
// and taken from the cache only when the network fails, so a re-published model is seen at once and
// a cached one loads offline. model.json is stored last, once the whole model loaded: a model counts
// as cached only when all of it is. A load that fails because the model is bad (a corrupt or missing
// file, a manifest the engine refuses) removes what it stored; one that fails because the network
// went away keeps its verified shards, so the next try resumes.
//
// Progress events, as transformers.js' progress_callback: { status: 'initiate' | 'download' |
// 'progress' | 'done' | 'ready', name: the model URL, file, loaded, total, progress (percent), fromCache
// (on 'done'), and the whole model's loadedBytes and totalBytes }.

import { openModelCache } from './model_cache.mjs';
import { fetchVerified, forEachShard } from './verified_fetch.mjs';
import { isNode } from './runtime.mjs';

/**
 * @typedef {{ status: 'initiate' | 'download' | 'progress' | 'done' | 'ready', name: string, file?: string,
 *   loaded?: number, total?: number, progress?: number, fromCache?: boolean, loadedBytes: number,
 *   totalBytes: number }} ProgressEvent
 * @typedef {{ backend?: 'cpu' | 'webgpu', gpuHost?: any, cache?: any | false, fetch?: typeof fetch,
 *   onProgress?: (e: ProgressEvent) => void, maxBytesInFlight?: number, maxConcurrent?: number }} LoadOptions
 */

/**
 * @param {any} module the Emscripten module (websd_node or websd_web)
 * @param {string | URL} model an http(s) URL of the model's folder, or in Node a local folder
 * @param {LoadOptions} options
 * @returns {Promise<{ handle: any, info: any, release: () => void }>} the pipeline handle, model.json's
 *   contents, and what frees the model's files in the module's file system
 */
export async function loadArtifactModel(module, model, options = {}) {
  const { backend = 'cpu', onProgress = () => {}, maxBytesInFlight, maxConcurrent } = options;
  const base = await modelBase(model);
  const local = base.protocol === 'file:';
  const get = local ? readLocalFile : (options.fetch ?? globalThis.fetch);
  const cache = local || options.cache === false ? null : (options.cache ?? await openModelCache());
  const stored = trackPuts(cache);
  const name = String(model);
  let loadedBytes = 0;
  let totalBytes = 0;
  const emit = (/** @type {Omit<ProgressEvent, 'name' | 'loadedBytes' | 'totalBytes'>} */ e) =>
    onProgress({ name, ...e, loadedBytes, totalBytes });

  let dir = null;
  let load = null;
  try {
    const modelJsonUrl = new URL('model.json', base);
    const modelJson = await networkFirst(modelJsonUrl, get, cache);
    const info = module.readModelJson(new TextDecoder().decode(modelJson), modelJsonUrl.href);
    totalBytes = info.totalBytes;
    loadedBytes = modelJson.byteLength;

    // The small files, verified, into the module's file system where the engine reads them.
    dir = local ? null : await makeModelDir(module, base);
    if (dir) writeModuleFile(module, `${dir}/model.json`, modelJson);
    const fetchFile = async (/** @type {{ path: string, nbytes: number, integrity: string }} */ f,
      /** @type {(p: { loaded: number }) => void} */ onBytes = () => {}) => {
      const url = new URL(f.path, base);
      emit({ status: 'initiate', file: f.path, total: f.nbytes });
      emit({ status: 'download', file: f.path, total: f.nbytes });
      let last = 0;
      const { bytes, fromCache } = await fetchVerified(url, {
        integrity: f.integrity, nbytes: f.nbytes, cache: stored, fetch: get, name: f.path,
        onProgress: ({ loaded, total }) => {
          loadedBytes += loaded - last;
          last = loaded;
          onBytes({ loaded });
          emit({ status: 'progress', file: f.path, loaded, total, progress: total ? (100 * loaded) / total : 100 });
        },
      });
      loadedBytes += f.nbytes - last;
      emit({ status: 'done', file: f.path, loaded: f.nbytes, total: f.nbytes, fromCache });
      return bytes;
    };
    for (const f of info.files) {
      const bytes = await fetchFile(f);
      if (dir) writeModuleFile(module, `${dir}/${f.path}`, bytes);
    }

    // The engine checks the manifest and the configs before any weight is fetched.
    load = module.ArtifactLoad.open(dir ?? await localPath(base), backend);
    const shards = load.shards();
    const staged = load.takesStaged();
    await forEachShard(shards, (shard) => fetchFile({ path: shard.dataPath, nbytes: shard.nbytes, integrity: shard.integrity }),
      (bytes, shard, index) => {
        if (!staged) {
          load.putShard(index, bytes);
          return;
        }
        const id = options.gpuHost.stageBytes(bytes);
        try {
          load.putStagedShard(index, id);
        } finally {
          options.gpuHost.releaseStaged(id);
        }
      }, { maxBytesInFlight, maxConcurrent });
    const handle = load.finish();
    load.delete();
    load = null;
    if (cache) await stored.put(modelJsonUrl, modelJson);  // last: the model is cached only when whole
    loadedBytes = totalBytes;
    emit({ status: 'ready' });
    return { handle, info, release: () => { if (dir) removeModuleDir(module, dir); } };
  } catch (e) {
    load?.delete();
    if (dir) removeModuleDir(module, dir);
    if (!isNetworkError(e)) await stored.rollback();
    throw e;
  }
}

// The model's folder as a URL with a trailing slash: http(s) as given, a local path (Node) as file:.
async function modelBase(model) {
  const text = String(model);
  if (/^https?:\/\//i.test(text) || model instanceof URL) return new URL(text.endsWith('/') ? text : `${text}/`);
  if (!isNode) return new URL(text.endsWith('/') ? text : `${text}/`, globalThis.location?.href);
  const { pathToFileURL } = await import('node:url');
  return pathToFileURL(text.endsWith('/') ? text : `${text}/`);
}

// model.json from the network, else (the network failed twice, not the server) from the cache. The
// second try is for a keep-alive connection that the server closes just as the client reuses it.
async function networkFirst(url, get, cache) {
  let response;
  for (let attempt = 1; !response; attempt++) {
    try {
      response = await get(url);
    } catch (e) {
      if (attempt < 2) continue;
      const cached = await cache?.get(url);
      if (cached) return cached;
      throw new Error(`${url}: cannot be fetched (${e.message}) and the model is not cached`, { cause: e });
    }
  }
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim() +
      ' (is this an artifact model made by `websd convert`?)');
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function localPath(url) {
  const { fileURLToPath } = await import('node:url');
  return fileURLToPath(url);
}

// fetch() for file: URLs in Node, so local folders go through the same verified path (uncached).
async function readLocalFile(url) {
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  try {
    return new Response(await readFile(fileURLToPath(url)));
  } catch (e) {
    if (e.code === 'ENOENT') return new Response(null, { status: 404, statusText: 'Not Found' });
    throw e;
  }
}

function isNetworkError(e) {
  return e instanceof TypeError || /network error|fetch failed|cannot be fetched/.test(String(e?.message));
}

// A cache that remembers what this load stored, so a failed load can take it back.
function trackPuts(cache) {
  const added = [];
  return {
    get: (url) => cache?.get(url) ?? null,
    put: async (url, bytes) => {
      if (!cache) return;
      await cache.put(url, bytes);
      added.push(url);
    },
    delete: (url) => cache?.delete(url) ?? false,
    keys: () => cache?.keys() ?? [],
    rollback: async () => {
      for (const url of added.splice(0)) await cache.delete(url).catch(() => {});
    },
  };
}

// In Node (NODERAWFS) the module's file system is the real one: a fresh temporary folder. In a
// browser, Emscripten's in-memory one.
let dirCount = 0;
async function makeModelDir(module, base) {
  if (isNode) {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    return mkdtempSync(`${tmpdir()}/websd-model-`);
  }
  const dir = `/models/${dirCount++}-${base.host.replace(/[^A-Za-z0-9.-]/g, '_')}`;
  mkdirs(module.FS, dir);
  return dir;
}

function writeModuleFile(module, path, bytes) {
  const fs = module.FS;
  mkdirs(fs, path.slice(0, path.lastIndexOf('/')));
  fs.writeFile(path, bytes);
}

function removeModuleDir(module, dir) {
  const fs = module.FS;
  const remove = (path) => {
    if (fs.isDir(fs.stat(path).mode)) {
      for (const entry of fs.readdir(path)) if (entry !== '.' && entry !== '..') remove(`${path}/${entry}`);
      fs.rmdir(path);
    } else {
      fs.unlink(path);
    }
  };
  try {
    remove(dir);
  } catch {
    // Already gone: nothing to free.
  }
}

function mkdirs(fs, dir) {
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += `/${part}`;
    if (!fs.analyzePath(path).exists) fs.mkdir(path);
  }
}
