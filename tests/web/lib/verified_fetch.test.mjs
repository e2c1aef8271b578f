// Tests of web/lib/verified_fetch.mjs against a local HTTP server that can misbehave on purpose
// (corrupt, short, missing, flaky, oversized, endless, cut-off responses) and counts requests, with
// a temp-folder cache; and of forEachShard's ordering, memory bound and error handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fetchVerified, forEachShard, sha256Integrity } from '../../../web/lib/verified_fetch.mjs';
import { openModelCache } from '../../../web/lib/model_cache.mjs';

const SIZE = 300_000;
const DATA = new Uint8Array(SIZE).map((_, i) => (i * 31 + (i >> 8)) & 255);
const INTEGRITY = 'sha256-' + createHash('sha256').update(DATA).digest('base64');
const CHUNK = 16 * 1024;
const ENDLESS_CAP = 64 * 2 ** 20;

// Serves DATA at /<mode>.bin, misbehaving as the mode says; anything else is a 404.
async function startServer() {
  const counts = new Map();
  const endless = { sent: 0, closed: false };
  const server = http.createServer(async (req, res) => {
    const mode = new URL(req.url, 'http://x').pathname.replace(/^\/(.*)\.bin$/, '$1');
    counts.set(mode, (counts.get(mode) ?? 0) + 1);
    const send = async (body, length = body.byteLength) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(length) });
      // Several chunks, each flushed on its own, so that the client sees progress.
      for (let at = 0; at < body.byteLength; at += CHUNK) {
        res.write(body.subarray(at, at + CHUNK));
        await new Promise((r) => setImmediate(r));
      }
    };
    switch (mode) {
      case 'good':
        await send(DATA);
        res.end();
        return;
      case 'corrupt': {
        const bad = DATA.slice();
        bad[12345] ^= 1;
        await send(bad);
        res.end();
        return;
      }
      case 'truncated':
        await send(DATA.subarray(0, SIZE - 1000));
        res.end();
        return;
      case 'oversized':
        await send(new Uint8Array(SIZE + 1000));
        res.end();
        return;
      case 'flaky':
        if (counts.get(mode) === 1) {
          res.writeHead(503, 'Service Unavailable').end();
        } else {
          await send(DATA);
          res.end();
        }
        return;
      case 'cut':
        await send(DATA.subarray(0, SIZE / 2), SIZE);
        res.destroy();
        return;
      case 'endless': {
        // No content-length, no end: only the client hanging up (or the cap) stops it.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.on('close', () => { endless.closed = true; });
        const chunk = new Uint8Array(CHUNK);
        while (!endless.closed && endless.sent < ENDLESS_CAP) {
          if (!res.write(chunk)) await drainedOrClosed(res);
          endless.sent += CHUNK;
        }
        res.end();
        return;
      }
      default:
        res.writeHead(404, 'Not Found').end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: (mode) => `http://127.0.0.1:${port}/${mode}.bin`,
    count: (mode) => counts.get(mode) ?? 0,
    endless,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve(undefined));
    }),
  };
}

function drainedOrClosed(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve(undefined);
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function setup(t) {
  const server = await startServer();
  const dir = await mkdtemp(path.join(tmpdir(), 'websd-fetch-test-'));
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { server, dir, cache: await openModelCache({ dir }) };
}

// fetch, counting calls: proves when the network was not touched.
function countingFetch() {
  const counted = (url) => {
    counted.calls++;
    return fetch(url);
  };
  counted.calls = 0;
  return counted;
}

const rejection = (promise) => promise.then(() => assert.fail('expected a rejection'), (e) => e);

test('sha256Integrity gives the SRI form', async () => {
  assert.equal(await sha256Integrity(new TextEncoder().encode('abc')),
    'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
  assert.equal(await sha256Integrity(new Uint8Array(0)), 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  assert.equal(await sha256Integrity(DATA), INTEGRITY);
  // A view into a larger buffer hashes only its own bytes.
  const padded = new Uint8Array(SIZE + 10);
  padded.set(DATA, 5);
  assert.equal(await sha256Integrity(padded.subarray(5, 5 + SIZE)), INTEGRITY);
});

test('a verified download is returned and cached; later reads need no network', async (t) => {
  const { server, cache, dir } = await setup(t);
  const url = server.url('good');
  const first = await fetchVerified(url, { integrity: INTEGRITY, nbytes: SIZE, cache });
  assert.equal(first.fromCache, false);
  assert.deepEqual(first.bytes, DATA);
  assert.equal(server.count('good'), 1);
  assert.deepEqual(await cache.keys(), [url]);
  assert.deepEqual(await cache.get(url), DATA);

  await server.close();
  const get = countingFetch();
  const reopened = await openModelCache({ dir });
  const second = await fetchVerified(url, { integrity: INTEGRITY, nbytes: SIZE, cache: reopened, fetch: get });
  assert.equal(second.fromCache, true);
  assert.deepEqual(second.bytes, DATA);
  assert.equal(get.calls, 0);
});

test('a corrupted cache entry is refetched and replaced', async (t) => {
  const { server, cache } = await setup(t);
  const url = server.url('good');
  const damaged = DATA.slice();
  damaged[0] ^= 0xff;
  for (const bad of [damaged, DATA.subarray(0, SIZE - 1)]) {
    await cache.put(url, bad);
    const before = server.count('good');
    const result = await fetchVerified(url, { integrity: INTEGRITY, nbytes: SIZE, cache });
    assert.equal(result.fromCache, false);
    assert.deepEqual(result.bytes, DATA);
    assert.equal(server.count('good'), before + 1);
    assert.deepEqual(await cache.get(url), DATA);
  }
});

test('one flipped byte: an error naming the shard and both hashes, nothing cached', async (t) => {
  const { server, cache } = await setup(t);
  const bad = DATA.slice();
  bad[12345] ^= 1;
  const got = await sha256Integrity(bad);
  const error = await rejection(fetchVerified(server.url('corrupt'),
    { integrity: INTEGRITY, nbytes: SIZE, cache, name: 'unet-00-ab12.bin' }));
  assert.equal(error.message, `unet-00-ab12.bin: SHA-256 mismatch (expected ${INTEGRITY}, got ${got})`);
  assert.equal(error.attempts, 2);
  assert.equal(server.count('corrupt'), 2); // the default retries = 1
  assert.deepEqual(await cache.keys(), []);
});

test('a truncated body: an error with the sizes, nothing cached', async (t) => {
  const { server, cache, dir } = await setup(t);
  const url = server.url('truncated');
  const error = await rejection(fetchVerified(url, { integrity: INTEGRITY, nbytes: SIZE, cache, retries: 0 }));
  assert.equal(error.message, `${url}: truncated (got ${SIZE - 1000} of ${SIZE} bytes)`);
  assert.equal(server.count('truncated'), 1);
  assert.deepEqual(await cache.keys(), []);
  assert.deepEqual(await readdir(dir), []);
});

test('a connection cut mid-body: an error saying how far it got', async (t) => {
  const { server, cache } = await setup(t);
  const error = await rejection(fetchVerified(server.url('cut'),
    { integrity: INTEGRITY, nbytes: SIZE, cache, name: 'cut.bin', retries: 2 }));
  assert.match(error.message, /^cut\.bin: download failed after \d+ of 300000 bytes: /);
  assert.equal(server.count('cut'), 3);
  assert.deepEqual(await cache.keys(), []);
});

test('404: an error naming the file and the status', async (t) => {
  const { server, cache } = await setup(t);
  const error = await rejection(fetchVerified(server.url('missing'),
    { integrity: INTEGRITY, nbytes: SIZE, cache, name: 'vae-03.bin' }));
  assert.equal(error.message, 'vae-03.bin: HTTP 404 Not Found');
  assert.equal(server.count('missing'), 2);
  assert.deepEqual(await cache.keys(), []);
});

test('no server: a network error', async (t) => {
  const { server } = await setup(t);
  const url = server.url('good');
  await server.close();
  const error = await rejection(fetchVerified(url, { integrity: INTEGRITY, nbytes: SIZE, name: 'a.bin' }));
  assert.match(error.message, /^a\.bin: network error: fetch failed \(.*ECONNREFUSED.*\)$/);
});

test('a flaky server that fails once: the retry succeeds, exactly 2 requests', async (t) => {
  const { server, cache } = await setup(t);
  const result = await fetchVerified(server.url('flaky'), { integrity: INTEGRITY, nbytes: SIZE, cache });
  assert.equal(result.fromCache, false);
  assert.deepEqual(result.bytes, DATA);
  assert.equal(server.count('flaky'), 2);
  assert.deepEqual(await cache.get(server.url('flaky')), DATA);

  // With retries: 0 the first failure is final.
  const { server: again } = await setup(t);
  const error = await rejection(fetchVerified(again.url('flaky'), { integrity: INTEGRITY, nbytes: SIZE, retries: 0 }));
  assert.equal(error.message, `${again.url('flaky')}: HTTP 503 Service Unavailable`);
  assert.equal(again.count('flaky'), 1);
});

test('a body longer than nbytes is refused, an endless one without reading it all', async (t) => {
  const { server, cache } = await setup(t);
  const error = await rejection(fetchVerified(server.url('oversized'),
    { integrity: INTEGRITY, nbytes: SIZE, cache, name: 'big.bin', retries: 0 }));
  assert.equal(error.message, `big.bin: too large (more than the expected ${SIZE} bytes)`);

  let loaded = 0;
  const endless = await rejection(fetchVerified(server.url('endless'), { integrity: INTEGRITY, nbytes: SIZE, cache,
    name: 'endless.bin', retries: 0, onProgress: (p) => { loaded = p.loaded; } }));
  assert.equal(endless.message, `endless.bin: too large (more than the expected ${SIZE} bytes)`);
  assert.ok(loaded <= SIZE);
  // The client hung up: the server stops well before its cap.
  for (let i = 0; i < 200 && !server.endless.closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.endless.closed, true);
  assert.ok(server.endless.sent < ENDLESS_CAP / 4, `server sent ${server.endless.sent} bytes`);
  assert.deepEqual(await cache.keys(), []);
});

test('progress: increasing, ending at total; a cache hit reports once', async (t) => {
  const { server, cache } = await setup(t);
  const events = [];
  await fetchVerified(server.url('good'),
    { integrity: INTEGRITY, nbytes: SIZE, cache, onProgress: (p) => events.push(p) });
  assert.ok(events.length >= 2, `${events.length} events`);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].loaded > events[i - 1].loaded);
  assert.ok(events.every((e) => e.total === SIZE));
  assert.equal(events.at(-1).loaded, SIZE);

  const hit = [];
  const result = await fetchVerified(server.url('good'), { integrity: INTEGRITY, nbytes: SIZE, cache,
    onProgress: (p) => hit.push(p) });
  assert.equal(result.fromCache, true);
  assert.deepEqual(hit, [{ loaded: SIZE, total: SIZE }]);
});

test('a quota error from the cache propagates and is not retried', async (t) => {
  const { server } = await setup(t);
  const storage = {
    async open() {
      return {
        match: async () => undefined,
        put: async () => { throw new DOMException('full', 'QuotaExceededError'); },
        delete: async () => false,
        keys: async () => [],
      };
    },
  };
  const cache = await openModelCache({ caches: storage });
  const error = await rejection(fetchVerified(server.url('good'), { integrity: INTEGRITY, nbytes: SIZE, cache }));
  assert.equal(error.name, 'QuotaExceededError');
  assert.match(error.message, new RegExp(`^not enough storage to cache ${server.url('good')}: ${SIZE} bytes needed`));
  assert.equal(server.count('good'), 1);
});

test('bad arguments are refused before any request', async () => {
  const get = countingFetch();
  const e1 = await rejection(fetchVerified('http://127.0.0.1:9/a.bin', { integrity: 'md5-x', nbytes: 1, fetch: get }));
  assert.equal(e1.name, 'TypeError');
  assert.equal(e1.message, 'http://127.0.0.1:9/a.bin: integrity must be \'sha256-<base64>\', got "md5-x"');
  const e2 = await rejection(fetchVerified('http://127.0.0.1:9/a.bin', { integrity: INTEGRITY, fetch: get }));
  assert.equal(e2.message, 'http://127.0.0.1:9/a.bin: bad nbytes undefined');
  assert.equal(get.calls, 0);
});

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs forEachShard with fetches of random duration, watching what it holds and how many it runs.
async function watchedRun(sizes, options, { failAt = -1, failConsumeAt = -1 } = {}) {
  const shards = sizes.map((nbytes, i) => ({ nbytes, id: i }));
  const log = { started: [], settled: 0, consumed: [], maxHeld: 0, maxRunning: 0, maxConsuming: 0,
    heldAtStart: [] };
  let held = 0;
  let running = 0;
  let consuming = 0;
  const fetchOne = async (shard, index) => {
    assert.equal(shard, shards[index]);
    log.started.push(index);
    held += shard.nbytes;
    running++;
    log.heldAtStart[index] = held;
    log.maxHeld = Math.max(log.maxHeld, held);
    log.maxRunning = Math.max(log.maxRunning, running);
    try {
      await delay(Math.random() * 8);
      if (index === failAt) throw new Error(`fetch ${index} failed`);
      return new Uint8Array([index]);
    } finally {
      running--;
      log.settled++;
    }
  };
  const consume = async (bytes, shard, index) => {
    consuming++;
    log.maxConsuming = Math.max(log.maxConsuming, consuming);
    assert.deepEqual(bytes, new Uint8Array([index]));
    assert.equal(shard, shards[index]);
    await delay(Math.random() * 4);
    if (index === failConsumeAt) throw new Error(`consume ${index} failed`);
    log.consumed.push(index);
    held -= shard.nbytes;
    consuming--;
  };
  let error = null;
  try {
    await forEachShard(shards, fetchOne, consume, options);
  } catch (e) {
    error = e;
  }
  log.runningAtEnd = running;
  return { log, error };
}

test('forEachShard: index order, bounded bytes and count, a lone oversize shard', async () => {
  const sizes = [10, 20, 30, 40, 50, 10, 10, 10, 10, 10, 250, 5, 5, 5, 5, 5, 5, 5, 60, 60];
  for (let round = 0; round < 5; round++) {
    const { log, error } = await watchedRun(sizes, { maxBytesInFlight: 100, maxConcurrent: 3 });
    assert.equal(error, null);
    assert.deepEqual(log.consumed, sizes.map((_, i) => i));
    assert.deepEqual(log.started, sizes.map((_, i) => i));
    assert.ok(log.maxRunning <= 3 && log.maxRunning >= 2, `running ${log.maxRunning}`);
    assert.equal(log.maxConsuming, 1);
    // Over 100 only while the 250-byte shard is held, and it is then alone.
    assert.equal(log.heldAtStart[10], 250);
    assert.equal(log.maxHeld, 250);
    const others = log.heldAtStart.filter((_, i) => i !== 10);
    assert.ok(Math.max(...others) <= 100, `held ${Math.max(...others)}`);
  }
});

test('forEachShard: the defaults allow 4 at once within 256 MiB', async () => {
  const MiB = 2 ** 20;
  const { log, error } = await watchedRun(Array(12).fill(32 * MiB).concat([130 * MiB, 130 * MiB, 300 * MiB]));
  assert.equal(error, null);
  assert.equal(log.consumed.length, 15);
  assert.equal(log.maxRunning, 4);
  assert.equal(log.heldAtStart[14], 300 * MiB);
  assert.ok(Math.max(...log.heldAtStart.slice(0, 14)) <= 256 * MiB);
});

test('forEachShard: a failed fetch stops new starts, lets the rest settle, and is rethrown', async () => {
  const sizes = Array(20).fill(10);
  const { log, error } = await watchedRun(sizes, { maxBytesInFlight: 40, maxConcurrent: 4 }, { failAt: 5 });
  assert.equal(error.message, 'fetch 5 failed');
  assert.equal(log.runningAtEnd, 0);
  assert.equal(log.settled, log.started.length);
  // Shard 5 starts only once shard 1 was consumed (40 bytes of budget), so at most 5..8 are
  // fetching when it fails; nothing at or after it is consumed.
  assert.ok(Math.max(...log.started) <= 8, `started ${log.started}`);
  assert.ok(log.consumed.every((i) => i < 5));
  assert.deepEqual(log.consumed, log.consumed.map((_, i) => i));
});

test('forEachShard: a failed consume is rethrown after the fetches settle', async () => {
  const { log, error } = await watchedRun(Array(10).fill(1), { maxConcurrent: 3 }, { failConsumeAt: 2 });
  assert.equal(error.message, 'consume 2 failed');
  assert.deepEqual(log.consumed, [0, 1]);
  assert.equal(log.runningAtEnd, 0);
  assert.equal(log.settled, log.started.length);
});

test('forEachShard: a synchronous throw, an empty list, bad shards', async () => {
  const boom = new Error('sync');
  const error = await rejection(forEachShard([{ nbytes: 1 }], () => { throw boom; }, () => {}));
  assert.equal(error, boom);
  let calls = 0;
  await forEachShard([], () => { calls++; }, () => { calls++; });
  assert.equal(calls, 0);
  const bad = await rejection(forEachShard([{ nbytes: 1 }, {}], async () => new Uint8Array(0), () => {}));
  assert.equal(bad.message, 'shard 1: bad nbytes undefined');
});

test('fetchVerified and forEachShard together: every shard served from the cache', async (t) => {
  const { server, cache } = await setup(t);
  const shards = [0, 1, 2, 3].map((i) => ({ dataPath: 'good.bin', nbytes: SIZE, integrity: INTEGRITY, i }));
  await cache.put(server.url('good'), DATA);
  const seen = [];
  await forEachShard(shards,
    (s) => fetchVerified(server.url('good'), { integrity: s.integrity, nbytes: s.nbytes, cache }).then((r) => r.bytes),
    (bytes, s, index) => { seen.push([index, bytes.byteLength, bytes[SIZE - 1] === DATA[SIZE - 1]]); },
    { maxBytesInFlight: 2 * SIZE, maxConcurrent: 2 });
  assert.deepEqual(seen, [[0, SIZE, true], [1, SIZE, true], [2, SIZE, true], [3, SIZE, true]]);
  assert.equal(server.count('good'), 0);
});
