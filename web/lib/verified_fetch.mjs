// Downloads of content-hashed files whose bytes are checked before anyone sees them: each file
// comes from the cache (model_cache.mjs) or the network, and is returned only when its size and
// SHA-256 match what the publisher listed (ndarray-cache.json's nbytes and SRI `integrity`).
// forEachShard runs many such downloads at once while bounding the bytes held in memory.
//
//   const { bytes, fromCache } = await fetchVerified(url, { integrity, nbytes, cache, onProgress });
//   await forEachShard(records, (r) => fetchVerified(...).then((x) => x.bytes), (bytes, r) => use(bytes));
//
// Generic on purpose: nothing here knows what the files are for.

const INTEGRITY = /^sha256-[A-Za-z0-9+/]{43}=$/;

/**
 * The Subresource-Integrity string of the bytes: 'sha256-' + base64(SHA-256).
 * @param {ArrayBufferView | ArrayBuffer} bytes
 * @returns {Promise<string>}
 */
export async function sha256Integrity(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return 'sha256-' + btoa(String.fromCharCode(...digest));
}

// A failure of one download attempt that a retry may cure; anything else (a bad argument, a
// throwing onProgress, a full cache) is not retried.
class AttemptError extends Error {}

/**
 * @typedef {object} FetchVerifiedOptions
 * @property {string} integrity the expected 'sha256-<base64>'
 * @property {number} nbytes the expected size in bytes
 * @property {import('./model_cache.mjs').ModelCache} [cache] read before the network, written after
 *   a verified download
 * @property {typeof fetch} [fetch] the fetch to use
 * @property {(p: { loaded: number, total: number }) => void} [onProgress] called as bytes arrive
 *   (total is nbytes; a retry starts again from 0), and once with loaded = total on a cache hit
 * @property {number} [retries] further attempts after a failed download (default 1)
 * @property {string} [name] the file's name in error messages (default: the URL)
 */

/**
 * The file's bytes, checked against nbytes and integrity, from the cache when a valid copy is there
 * (an invalid one is deleted), else from the network (then cached). Rejects with one Error
 * '<name>: <what was wrong>' after the last attempt; a quota error from the cache is passed on as is.
 * @param {string | URL} url
 * @param {FetchVerifiedOptions} options
 * @returns {Promise<{ bytes: Uint8Array, fromCache: boolean }>}
 */
export async function fetchVerified(url, { integrity, nbytes, cache, fetch: get = globalThis.fetch, onProgress,
  retries = 1, name } = /** @type {FetchVerifiedOptions} */ ({})) {
  const label = name ?? String(url);
  if (typeof integrity !== 'string' || !INTEGRITY.test(integrity)) {
    throw new TypeError(`${label}: integrity must be 'sha256-<base64>', got ${JSON.stringify(integrity)}`);
  }
  if (!Number.isSafeInteger(nbytes) || nbytes < 0) throw new TypeError(`${label}: bad nbytes ${nbytes}`);
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`${label}: bad retries ${retries}`);

  if (cache) {
    const cached = await cache.get(url);
    if (cached) {
      if (cached.byteLength === nbytes && await sha256Integrity(cached) === integrity) {
        onProgress?.({ loaded: nbytes, total: nbytes });
        return { bytes: cached, fromCache: true };
      }
      // A damaged entry (disk corruption, an old version under the same URL): replace it.
      await cache.delete(url);
    }
  }

  let failure;
  for (let attempt = 0; attempt <= retries; attempt++) {
    try {
      const bytes = await download(url, get, integrity, nbytes, onProgress);
      if (cache) await cache.put(url, bytes);
      return { bytes, fromCache: false };
    } catch (e) {
      if (!(e instanceof AttemptError)) throw e;
      failure = e;
    }
  }
  const error = new Error(`${label}: ${failure.message}`, { cause: failure.cause });
  error.attempts = retries + 1;
  throw error;
}

async function download(url, get, integrity, nbytes, onProgress) {
  let response;
  try {
    response = await get(url);
  } catch (e) {
    throw new AttemptError(`network error: ${describe(e)}`, { cause: e });
  }
  if (!response.ok) {
    // An unread body would keep the connection busy.
    await response.body?.cancel().catch(() => {});
    throw new AttemptError(`HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  // Allocated once at the expected size and filled in place; a longer body is refused as soon as it
  // passes nbytes, so a wrong or endless response costs no more memory than the right one.
  const bytes = new Uint8Array(nbytes);
  let loaded = 0;
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw new AttemptError(`download failed after ${loaded} of ${nbytes} bytes: ${describe(e)}`, { cause: e });
        }
        if (chunk.done) break;
        const size = chunk.value.byteLength;
        if (loaded + size > nbytes) throw new AttemptError(`too large (more than the expected ${nbytes} bytes)`);
        bytes.set(chunk.value, loaded);
        loaded += size;
        onProgress?.({ loaded, total: nbytes });
      }
    } catch (e) {
      await reader.cancel().catch(() => {});
      throw e;
    }
  }
  if (loaded < nbytes) throw new AttemptError(`truncated (got ${loaded} of ${nbytes} bytes)`);
  const got = await sha256Integrity(bytes);
  if (got !== integrity) throw new AttemptError(`SHA-256 mismatch (expected ${integrity}, got ${got})`);
  return bytes;
}

// Node's fetch says only 'fetch failed'; the reason (ECONNREFUSED, ...) is in its cause.
function describe(e) {
  const cause = e?.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? e);
}

/**
 * Fetches many shards at once and consumes them one at a time in index order. At most
 * maxConcurrent fetches run together, and the nbytes of the shards fetched or fetching but not yet
 * consumed stay within maxBytesInFlight (a shard bigger than that runs alone). A shard's budget is
 * released when its consume returns. On the first error no fetch starts, nothing more is consumed,
 * the fetches under way settle, and that error is thrown.
 * @template {{ nbytes: number }} S
 * @param {S[]} shards
 * @param {(shard: S, index: number) => Promise<Uint8Array>} fetchOne
 * @param {(bytes: Uint8Array, shard: S, index: number) => unknown} consume may return a Promise
 * @param {{ maxBytesInFlight?: number, maxConcurrent?: number }} [options]
 * @returns {Promise<void>}
 */
export async function forEachShard(shards, fetchOne, consume, { maxBytesInFlight = 256 * 2 ** 20,
  maxConcurrent = 4 } = {}) {
  if (!(maxConcurrent >= 1)) throw new TypeError(`bad maxConcurrent ${maxConcurrent}`);
  if (!(maxBytesInFlight >= 0)) throw new TypeError(`bad maxBytesInFlight ${maxBytesInFlight}`);
  const sizes = shards.map((s, i) => {
    if (!Number.isFinite(s?.nbytes) || s.nbytes < 0) throw new TypeError(`shard ${i}: bad nbytes ${s?.nbytes}`);
    return s.nbytes;
  });

  const fetches = new Map(); // index → Promise<{ bytes } | { error }>, never rejecting
  let next = 0; // the next shard to start
  let running = 0; // fetches not yet settled
  let held = 0; // nbytes of shards started and not yet consumed
  let failed = false;
  let firstError;
  const fail = (error) => {
    if (!failed) {
      failed = true;
      firstError = error;
    }
  };

  // Shards start in index order, so the next one to consume is always started before any later
  // one holds budget: the bound can never block the shard everyone waits for.
  const fill = () => {
    while (!failed && next < shards.length && running < maxConcurrent &&
           (held === 0 || held + sizes[next] <= maxBytesInFlight)) {
      const i = next++;
      held += sizes[i];
      running++;
      const settled = Promise.resolve()
        .then(() => fetchOne(shards[i], i))
        .then((bytes) => ({ bytes }), (error) => ({ error }));
      fetches.set(i, settled);
      settled.then((result) => {
        running--;
        if ('error' in result) fail(result.error);
        fill();
      });
    }
  };

  try {
    for (let i = 0; i < shards.length; i++) {
      fill();
      if (failed) break;
      const result = await fetches.get(i);
      fetches.delete(i);
      if (failed) break;
      await consume(result.bytes, shards[i], i);
      held -= sizes[i];
    }
  } catch (e) {
    fail(e);
  }
  if (failed) {
    // Fetches still under way settle before the error is thrown, so none outlives the call.
    await Promise.all(fetches.values());
    throw firstError;
  }
}
