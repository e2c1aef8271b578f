// A cache of downloaded model artifacts that survives reloads, so a model is fetched over the
// network once: in browsers the Cache API (one cache, 'websd-models-v1', keyed by URL), in Node a
// folder ($WEBSD_CACHE, else $XDG_CACHE_HOME/websd, else ~/.cache/websd).
//
//   const cache = await openModelCache();           // options: { dir, caches }
//   await cache.put(url, bytes); const bytes = await cache.get(url);   // Uint8Array or null
//   if (await isCached(modelUrl, { cache })) ...;   await purge(modelUrl, { cache });
//
// The cache stores whatever it is given: checking bytes before put and after get is the caller's
// job (verified_fetch.mjs does both). A put that runs out of storage rejects with an Error named
// 'QuotaExceededError' whose message says how much was needed and how to make room.

import { isNode } from './runtime.mjs';

export const CACHE_NAME = 'websd-models-v1';

/**
 * @typedef {object} ModelCache
 * @property {'cache-api' | 'folder'} kind
 * @property {string} where the cache's name (Cache API) or the folder's path
 * @property {(url: string | URL) => Promise<Uint8Array | null>} get
 * @property {(url: string | URL, bytes: Uint8Array) => Promise<void>} put
 * @property {(url: string | URL) => Promise<boolean>} delete
 * @property {() => Promise<string[]>} keys absolute URLs
 */

/**
 * @typedef {object} OpenOptions
 * @property {string} [dir] a folder to use (Node); picks the folder cache even where the Cache API exists
 * @property {CacheStorage} [caches] a CacheStorage to use instead of globalThis.caches
 */

/**
 * Opens the cache: the Cache API when `caches` is passed, else a folder when `dir` is passed, else
 * globalThis.caches where it exists, else (Node) the default folder.
 * @param {OpenOptions} [options]
 * @returns {Promise<ModelCache>}
 */
export async function openModelCache({ dir, caches: cacheStorage } = {}) {
  if (cacheStorage) return openCacheApi(cacheStorage);
  if (dir == null && globalThis.caches) return openCacheApi(globalThis.caches);
  if (isNode) return openFolder(dir ?? await defaultFolder());
  // Browsers hide the Cache API outside secure contexts (plain http on a host other than localhost).
  throw new Error('no Cache API here (the page must be served over https or from localhost)');
}

/**
 * Whether every artifact of the model is in the cache: model.json, ndarray-cache.json, the files
 * listed in model.json's `files` and every shard of ndarray-cache.json. Presence only: the bytes
 * are checked when they are read.
 * @param {string | URL} modelUrl the model's folder
 * @param {{ cache?: ModelCache } & OpenOptions} [options]
 * @returns {Promise<boolean>}
 */
export async function isCached(modelUrl, options = {}) {
  const cache = options.cache ?? await openModelCache(options);
  const base = folderUrl(modelUrl);
  const model = await readJson(cache, new URL('model.json', base).href);
  const ndarrays = await readJson(cache, new URL('ndarray-cache.json', base).href);
  if (!model || !ndarrays) return false;
  const files = Array.isArray(model.files) ? model.files : [];
  const records = Array.isArray(ndarrays.records) ? ndarrays.records : [];
  const wanted = [
    ...files.map((f) => (typeof f === 'string' ? f : f?.path)),
    ...records.map((r) => r?.dataPath),
  ];
  if (wanted.some((p) => typeof p !== 'string')) return false;
  // keys() rather than get(): reading every shard just to see that it exists would cost gigabytes.
  const present = new Set(await cache.keys());
  return wanted.every((p) => present.has(new URL(p, base).href));
}

/**
 * Deletes every entry whose URL starts with the model's folder URL.
 * @param {string | URL} modelUrl the model's folder
 * @param {{ cache?: ModelCache } & OpenOptions} [options]
 * @returns {Promise<number>} how many entries were removed
 */
export async function purge(modelUrl, options = {}) {
  const cache = options.cache ?? await openModelCache(options);
  const base = folderUrl(modelUrl);
  let removed = 0;
  for (const key of await cache.keys()) {
    if (key.startsWith(base) && await cache.delete(key)) removed++;
  }
  return removed;
}

/**
 * The Error a put rejects with when storage ran out, or null when `error` is some other failure.
 * @param {unknown} error what the storage threw (a DOMException, or a Node error with a code)
 * @param {string} url the entry being written
 * @param {number} nbytes its size
 * @returns {Error | null}
 */
export function asQuotaError(error, url, nbytes) {
  const e = /** @type {{ name?: string, code?: string }} */ (error);
  if (e?.name !== 'QuotaExceededError' && e?.code !== 'ENOSPC' && e?.code !== 'EDQUOT') return null;
  const quota = new Error(`not enough storage to cache ${url}: ${nbytes} bytes needed; free some space ` +
    'or remove a cached model with purge(modelUrl)', { cause: error });
  quota.name = 'QuotaExceededError';
  return quota;
}

function folderUrl(modelUrl) {
  const href = absoluteUrl(modelUrl);
  return href.endsWith('/') ? href : href + '/';
}

// Keys are absolute URLs so that the same file reached by two spellings is one entry; relative
// ones resolve against the page, as fetch would.
function absoluteUrl(url) {
  return new URL(String(url), globalThis.location?.href).href;
}

async function readJson(cache, url) {
  const bytes = await cache.get(url);
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

async function openCacheApi(cacheStorage) {
  const cache = await cacheStorage.open(CACHE_NAME);
  return {
    kind: 'cache-api',
    where: CACHE_NAME,
    async get(url) {
      const response = await cache.match(absoluteUrl(url));
      return response ? new Uint8Array(await response.arrayBuffer()) : null;
    },
    async put(url, bytes) {
      const href = absoluteUrl(url);
      try {
        await cache.put(href, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }));
      } catch (e) {
        throw asQuotaError(e, href, bytes.byteLength) ?? e;
      }
    },
    delete: (url) => cache.delete(absoluteUrl(url)),
    keys: async () => (await cache.keys()).map((request) => request.url),
  };
}

async function defaultFolder() {
  const path = await import('node:path');
  const { homedir } = await import('node:os');
  const env = process.env;
  if (env.WEBSD_CACHE) return path.resolve(env.WEBSD_CACHE);
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, 'websd');
  return path.join(homedir(), '.cache', 'websd');
}

// One file per entry, named by the SHA-256 of its URL: a header (magic, URL length, data length,
// URL) then the bytes. Keeping the URL inside the entry, rather than in a sidecar, lets a single
// rename publish an entry whole, and lets keys() list URLs back.
const MAGIC = 0x31445357; // 'WSD1' read as a little-endian uint32
const FIXED_HEADER = 16;
const ENTRY_EXT = '.entry';
const STALE_TEMP_MS = 24 * 3600 * 1000;

async function openFolder(dir) {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const { createHash, randomBytes } = await import('node:crypto');
  const where = path.resolve(dir);
  await fs.mkdir(where, { recursive: true });
  await removeStaleTemps(fs, path, where);

  const entryPath = (href) => path.join(where, createHash('sha256').update(href).digest('hex') + ENTRY_EXT);

  // The entry's URL and data length from its header, or null when the file is not a whole entry.
  async function readHeader(handle) {
    const fixed = new Uint8Array(FIXED_HEADER);
    const { bytesRead } = await handle.read(fixed, 0, FIXED_HEADER, 0);
    if (bytesRead < FIXED_HEADER) return null;
    const view = new DataView(fixed.buffer);
    if (view.getUint32(0, true) !== MAGIC) return null;
    const urlLength = view.getUint32(4, true);
    const dataLength = Number(view.getBigUint64(8, true));
    const urlBytes = new Uint8Array(urlLength);
    if ((await handle.read(urlBytes, 0, urlLength, FIXED_HEADER)).bytesRead < urlLength) return null;
    const dataOffset = FIXED_HEADER + urlLength;
    if ((await handle.stat()).size !== dataOffset + dataLength) return null;
    return { url: new TextDecoder().decode(urlBytes), dataOffset, dataLength };
  }

  async function withEntry(file, use) {
    let handle;
    try {
      handle = await fs.open(file, 'r');
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw e;
    }
    try {
      return await use(handle);
    } finally {
      await handle.close();
    }
  }

  return {
    kind: 'folder',
    where,
    async get(url) {
      const href = absoluteUrl(url);
      return withEntry(entryPath(href), async (handle) => {
        const header = await readHeader(handle);
        if (!header || header.url !== href) return null;
        // Read straight into an array of the exact size: shards reach 130 MiB, no spare copy.
        const bytes = new Uint8Array(header.dataLength);
        let done = 0;
        while (done < bytes.byteLength) {
          const { bytesRead } = await handle.read(bytes, done, bytes.byteLength - done, header.dataOffset + done);
          if (bytesRead === 0) return null;
          done += bytesRead;
        }
        return bytes;
      });
    },
    async put(url, bytes) {
      const href = absoluteUrl(url);
      const urlBytes = new TextEncoder().encode(href);
      const header = new Uint8Array(FIXED_HEADER + urlBytes.byteLength);
      const view = new DataView(header.buffer);
      view.setUint32(0, MAGIC, true);
      view.setUint32(4, urlBytes.byteLength, true);
      view.setBigUint64(8, BigInt(bytes.byteLength), true);
      header.set(urlBytes, FIXED_HEADER);
      // A temp file in the same folder, renamed into place once complete: a killed process leaves a
      // stray .tmp (cleaned up by a later open), never a short entry under the real name.
      const temp = path.join(where, `.${randomBytes(8).toString('hex')}.${process.pid}.tmp`);
      try {
        const handle = await fs.open(temp, 'w');
        try {
          // writeFile, unlike write/writev, loops over short writes, so a full disk surfaces as ENOSPC.
          await handle.writeFile(header);
          await handle.writeFile(bytes);
          await handle.datasync();
        } finally {
          await handle.close();
        }
        await fs.rename(temp, entryPath(href));
      } catch (e) {
        await fs.rm(temp, { force: true }).catch(() => {});
        throw asQuotaError(e, href, header.byteLength + bytes.byteLength) ?? e;
      }
    },
    async delete(url) {
      try {
        await fs.unlink(entryPath(absoluteUrl(url)));
        return true;
      } catch (e) {
        if (e.code === 'ENOENT') return false;
        throw e;
      }
    },
    async keys() {
      const urls = [];
      for (const name of await fs.readdir(where)) {
        if (!name.endsWith(ENTRY_EXT)) continue;
        const header = await withEntry(path.join(where, name), readHeader);
        if (header) urls.push(header.url);
      }
      return urls;
    },
  };
}

// Temp files of writes that never finished; a day old means no live process still writes them.
async function removeStaleTemps(fs, path, dir) {
  const now = Date.now();
  for (const name of await fs.readdir(dir)) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
    const file = path.join(dir, name);
    try {
      if (now - (await fs.stat(file)).mtimeMs > STALE_TEMP_MS) await fs.rm(file, { force: true });
    } catch {
      // Another process may have removed or renamed it meanwhile.
    }
  }
}
