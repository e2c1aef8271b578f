// Tests of web/lib/model_cache.mjs: the folder cache (Node) in a temp folder, the Cache-API branch
// against an in-memory CacheStorage, quota errors, and isCached/purge on a small fake model.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile, utimes, truncate, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { openModelCache, isCached, purge, asQuotaError, CACHE_NAME } from '../../../web/lib/model_cache.mjs';

const MODEL = 'http://127.0.0.1:9/models/tiny';
const OTHER = 'http://127.0.0.1:9/models/tiny2';

async function tempDir(t) {
  const dir = await mkdtemp(path.join(tmpdir(), 'websd-cache-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const text = (s) => new TextEncoder().encode(s);

// A minimal in-memory CacheStorage: what the Cache-API branch calls, with Requests as keys().
class FakeCache {
  constructor(putError) {
    this.entries = new Map();
    this.putError = putError;
  }
  async match(request) {
    const bytes = this.entries.get(new Request(request).url);
    return bytes ? new Response(bytes.slice()) : undefined;
  }
  async put(request, response) {
    if (this.putError) throw this.putError;
    this.entries.set(new Request(request).url, new Uint8Array(await response.arrayBuffer()));
  }
  async delete(request) {
    return this.entries.delete(new Request(request).url);
  }
  async keys() {
    return [...this.entries.keys()].map((url) => new Request(url));
  }
}

class FakeCacheStorage {
  constructor(putError) {
    this.putError = putError;
    this.opened = new Map();
  }
  async open(name) {
    if (!this.opened.has(name)) this.opened.set(name, new FakeCache(this.putError));
    return this.opened.get(name);
  }
}

// Fills the cache with a model: model.json listing two config files, ndarray-cache.json with two
// shards, and the four files themselves.
async function putModel(cache, base) {
  const model = { files: ['config.json', 'tokenizer/vocab.json'] };
  const ndarrays = { records: [{ dataPath: 'unet-00.bin', nbytes: 4 }, { dataPath: 'unet-01.bin', nbytes: 4 }] };
  await cache.put(`${base}/model.json`, text(JSON.stringify(model)));
  await cache.put(`${base}/ndarray-cache.json`, text(JSON.stringify(ndarrays)));
  await cache.put(`${base}/config.json`, text('{}'));
  await cache.put(`${base}/tokenizer/vocab.json`, text('{}'));
  await cache.put(`${base}/unet-00.bin`, new Uint8Array([1, 2, 3, 4]));
  await cache.put(`${base}/unet-01.bin`, new Uint8Array([5, 6, 7, 8]));
}

test('folder cache: put, get, keys, delete, and entries survive a reopen', async (t) => {
  const dir = await tempDir(t);
  const cache = await openModelCache({ dir });
  assert.equal(cache.kind, 'folder');
  assert.equal(cache.where, path.resolve(dir));
  const url = 'http://127.0.0.1:9/m/a.bin';
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);

  assert.equal(await cache.get(url), null);
  await cache.put(url, bytes);
  await cache.put(new URL('http://127.0.0.1:9/m/b.bin'), text('b'));
  assert.deepEqual(await cache.get(url), bytes);
  assert.deepEqual((await cache.keys()).sort(), [url, 'http://127.0.0.1:9/m/b.bin']);

  // One file per entry, named by the URL's SHA-256, and no temp file left behind.
  const files = (await readdir(dir)).sort();
  const hash = (u) => createHash('sha256').update(u).digest('hex') + '.entry';
  assert.deepEqual(files, [hash(url), hash('http://127.0.0.1:9/m/b.bin')].sort());

  const reopened = await openModelCache({ dir });
  assert.deepEqual(await reopened.get(url), bytes);
  const smaller = text('replaced');
  await reopened.put(url, smaller);
  assert.deepEqual(await cache.get(url), smaller);

  assert.equal(await cache.delete(url), true);
  assert.equal(await cache.delete(url), false);
  assert.equal(await cache.get(url), null);
  assert.deepEqual(await cache.keys(), ['http://127.0.0.1:9/m/b.bin']);
});

test('folder cache: a cut-short entry reads as absent, stray temp files are not entries', async (t) => {
  const dir = await tempDir(t);
  const cache = await openModelCache({ dir });
  const url = 'http://127.0.0.1:9/m/a.bin';
  await cache.put(url, new Uint8Array(1000).fill(9));
  const [entry] = await readdir(dir);
  await truncate(path.join(dir, entry), (await stat(path.join(dir, entry))).size - 1);
  assert.equal(await cache.get(url), null);
  assert.deepEqual(await cache.keys(), []);

  // What a killed put leaves: a temp file. A fresh one is kept (a live writer may own it), a day-old
  // one is removed when the cache is next opened.
  const fresh = path.join(dir, '.aaaa.1.tmp');
  const stale = path.join(dir, '.bbbb.2.tmp');
  await writeFile(fresh, 'partial');
  await writeFile(stale, 'partial');
  const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  await utimes(stale, old, old);
  const reopened = await openModelCache({ dir });
  assert.deepEqual(await reopened.keys(), []);
  assert.deepEqual((await readdir(dir)).sort(), ['.aaaa.1.tmp', entry]);
});

// A process killed while it writes an entry (SIGKILL: nothing of it runs after): no entry, nothing
// half-written listed or read back, and the next put and get of the same URL work.
test('folder cache: a process killed in the middle of a put leaves no entry, and the cache works after it', async (t) => {
  const dir = await tempDir(t);
  const url = 'http://127.0.0.1:9/m/killed.bin';
  const moduleUrl = new URL('../../../web/lib/model_cache.mjs', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { openModelCache } from ${JSON.stringify(moduleUrl)};
    const cache = await openModelCache({ dir: ${JSON.stringify(dir)} });
    await cache.put(${JSON.stringify(url)}, new Uint8Array(2 ** 30).fill(7));
    console.log('put done');`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  // Killed once its temp file appears: a GiB takes it a second or more to write and sync.
  let seen = [];
  while (child.exitCode === null && !seen.some((f) => f.endsWith('.tmp'))) {
    seen = await readdir(dir);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(output, '', 'killed before the put finished');
  assert.ok(seen.some((f) => f.endsWith('.tmp')), `the put had begun: ${seen}`);
  const cache = await openModelCache({ dir });
  assert.equal(await cache.get(url), null);
  assert.deepEqual(await cache.keys(), []);
  await cache.put(url, text('whole'));
  assert.deepEqual(await cache.get(url), text('whole'));
  assert.deepEqual(await cache.keys(), [url]);
});

test('folder cache: default folder from WEBSD_CACHE, then XDG_CACHE_HOME, then ~/.cache', async (t) => {
  const dir = await tempDir(t);
  const saved = { WEBSD_CACHE: process.env.WEBSD_CACHE, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
    HOME: process.env.HOME };
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.WEBSD_CACHE = path.join(dir, 'explicit');
  process.env.XDG_CACHE_HOME = path.join(dir, 'xdg');
  process.env.HOME = path.join(dir, 'home');
  assert.equal((await openModelCache()).where, path.join(dir, 'explicit'));
  delete process.env.WEBSD_CACHE;
  assert.equal((await openModelCache()).where, path.join(dir, 'xdg', 'websd'));
  delete process.env.XDG_CACHE_HOME;
  assert.equal((await openModelCache()).where, path.join(dir, 'home', '.cache', 'websd'));
  // `dir` wins over the environment.
  process.env.WEBSD_CACHE = path.join(dir, 'explicit');
  assert.equal((await openModelCache({ dir: path.join(dir, 'given') })).where, path.join(dir, 'given'));
});

test('Cache API: one cache named websd-models-v1, keyed by absolute URL', async () => {
  const storage = new FakeCacheStorage();
  const cache = await openModelCache({ caches: storage });
  assert.equal(cache.kind, 'cache-api');
  assert.equal(cache.where, CACHE_NAME);
  assert.deepEqual([...storage.opened.keys()], ['websd-models-v1']);

  const url = 'http://127.0.0.1:9/m/a.bin';
  assert.equal(await cache.get(url), null);
  await cache.put(url, new Uint8Array([1, 2, 3]));
  await cache.put(new URL('http://127.0.0.1:9/m/b.bin'), new Uint8Array([4]));
  const got = await cache.get(url);
  assert.ok(got instanceof Uint8Array);
  assert.deepEqual(got, new Uint8Array([1, 2, 3]));
  assert.deepEqual(await cache.keys(), [url, 'http://127.0.0.1:9/m/b.bin']);
  assert.deepEqual([...storage.opened.get(CACHE_NAME).entries.keys()], [url, 'http://127.0.0.1:9/m/b.bin']);
  assert.equal(await cache.delete(url), true);
  assert.equal(await cache.delete(url), false);
  assert.deepEqual(await cache.keys(), ['http://127.0.0.1:9/m/b.bin']);
});

test('Cache API: globalThis.caches is used when no dir is given', async (t) => {
  const storage = new FakeCacheStorage();
  globalThis.caches = storage;
  t.after(() => delete globalThis.caches);
  const cache = await openModelCache();
  assert.equal(cache.kind, 'cache-api');
  await cache.put('http://127.0.0.1:9/x', new Uint8Array([7]));
  assert.deepEqual([...storage.opened.get(CACHE_NAME).entries.keys()], ['http://127.0.0.1:9/x']);
  const dir = await tempDir(t);
  assert.equal((await openModelCache({ dir })).kind, 'folder');
});

test('quota: a QuotaExceededError from the Cache API becomes one Error saying what to do', async () => {
  const cache = await openModelCache({ caches: new FakeCacheStorage(new DOMException('full', 'QuotaExceededError')) });
  const url = 'http://127.0.0.1:9/m/big.bin';
  const error = await cache.put(url, new Uint8Array(12345)).then(() => null, (e) => e);
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'QuotaExceededError');
  assert.equal(error.message, `not enough storage to cache ${url}: 12345 bytes needed; free some space ` +
    'or remove a cached model with purge(modelUrl)');
  assert.equal(error.cause.name, 'QuotaExceededError');

  // Other failures pass through unchanged.
  const other = new TypeError('bad request');
  const plain = await openModelCache({ caches: new FakeCacheStorage(other) });
  assert.equal(await plain.put(url, new Uint8Array(1)).then(() => null, (e) => e), other);
});

test('quota: ENOSPC and EDQUOT from Node map to QuotaExceededError, other codes do not', () => {
  for (const code of ['ENOSPC', 'EDQUOT']) {
    const nodeError = Object.assign(new Error(`${code}: no space left on device, write`), { code });
    const error = asQuotaError(nodeError, 'http://h/m/a.bin', 99);
    assert.equal(error.name, 'QuotaExceededError');
    assert.match(error.message,
      /^not enough storage to cache http:\/\/h\/m\/a\.bin: 99 bytes needed; .*purge\(modelUrl\)/);
    assert.equal(error.cause, nodeError);
  }
  assert.equal(asQuotaError(Object.assign(new Error('x'), { code: 'EACCES' }), 'u', 1), null);
  assert.equal(asQuotaError(undefined, 'u', 1), null);
});

test('quota: a disk that fills up mid-put leaves no entry and no temp file', async (t) => {
  const dir = await tempDir(t);
  const cache = await openModelCache({ dir });
  // Only files opened for writing fail, after part of the data is on disk, as a full disk would.
  const realOpen = fs.promises.open;
  fs.promises.open = async (file, flags, ...rest) => {
    const handle = await realOpen(file, flags, ...rest);
    if (flags === 'w') {
      const realWrite = handle.writeFile.bind(handle);
      handle.writeFile = async (data) => {
        if (data.byteLength < 1000) return realWrite(data);
        await realWrite(data.subarray(0, 500));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
    }
    return handle;
  };
  syncBuiltinESMExports();
  t.after(() => {
    fs.promises.open = realOpen;
    syncBuiltinESMExports();
  });
  const url = 'http://127.0.0.1:9/m/big.bin';
  const error = await cache.put(url, new Uint8Array(5000)).then(() => null, (e) => e);
  assert.equal(error?.name, 'QuotaExceededError');
  // The header (magic, sizes, URL) counts too.
  const needed = 5000 + 16 + url.length;
  assert.match(error.message, new RegExp(`^not enough storage to cache ${url}: ${needed} bytes needed`));
  assert.equal(error.cause.code, 'ENOSPC');
  assert.deepEqual(await readdir(dir), []);
  assert.equal(await cache.get(url), null);
});

for (const backend of ['folder', 'cache-api']) {
  test(`isCached and purge on a small model (${backend})`, async (t) => {
    const options = backend === 'folder' ? { dir: await tempDir(t) } : { caches: new FakeCacheStorage() };
    const cache = await openModelCache(options);
    assert.equal(await isCached(MODEL, { cache }), false);
    await putModel(cache, MODEL);
    await putModel(cache, OTHER);
    assert.equal(await isCached(MODEL, { cache }), true);
    assert.equal(await isCached(MODEL + '/', options), true);

    // Each missing piece makes it false: a shard, a listed file, the index itself.
    for (const missing of ['unet-01.bin', 'tokenizer/vocab.json', 'ndarray-cache.json', 'model.json']) {
      const url = `${MODEL}/${missing}`;
      const bytes = await cache.get(url);
      assert.equal(await cache.delete(url), true);
      assert.equal(await isCached(MODEL, { cache }), false, missing);
      await cache.put(url, bytes);
    }
    assert.equal(await isCached(MODEL, { cache }), true);

    // The trailing slash keeps models/tiny from taking models/tiny2 with it.
    assert.equal(await purge(MODEL, { cache }), 6);
    assert.equal(await isCached(MODEL, { cache }), false);
    assert.equal(await isCached(OTHER, { cache }), true);
    assert.equal((await cache.keys()).filter((k) => k.startsWith(OTHER + '/')).length, 6);
    assert.equal((await cache.keys()).length, 6);
    assert.equal(await purge(MODEL, options), 0);
    assert.equal(await purge(OTHER + '/', options), 6);
    assert.deepEqual(await cache.keys(), []);
  });
}

test('isCached is false when model.json is not JSON', async (t) => {
  const cache = await openModelCache({ dir: await tempDir(t) });
  await putModel(cache, MODEL);
  await cache.put(`${MODEL}/model.json`, text('{ not json'));
  assert.equal(await isCached(MODEL, { cache }), false);
});
