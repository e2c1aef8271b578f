// Artifact models through the JS loader (web/lib/artifact_loader.mjs) on the WebAssembly build:
// tiny-sd15, tiny-sdxl and tiny-shapes converted by the native `websd convert`, served by a local
// HTTP server, loaded with the CPU backend (and with WebGPU on Node + Dawn) give the same pictures as
// their diffusers folders; the cache then loads them with the server gone; and every kind
// of bad artifact is refused with an error naming the file, shard or tensor, leaving nothing cached.
// Needs `make build wasm` and the web host's npm packages.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { isCached, loadWebsd, purge } from '../../web/lib/websd.mjs';
import { openModelCache } from '../../web/lib/model_cache.mjs';
import { createGpuHost } from '../../web/host/gpu_host.mjs';
import { nodeGpu } from '../../web/host/node_gpu.mjs';
import { serveArtifacts } from './artifact_server.mjs';
import { diff } from './safetensors.mjs';
import { componentWithinLimits, imageWithinLimits, latentsWithinLimits } from './tolerances.mjs';

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(root, process.env.WEBSD_BUILD ?? 'build', 'websd');
const MODELS = {
  'tiny-sd15': path.join(root, 'tests/fixtures/tiny-sd15/model'),
  'tiny-sdxl': path.join(root, 'tests/fixtures/tiny-sdxl/model'),
  'tiny-shapes': path.join(root, 'assets/tiny-shapes/model'),
};
const SETTINGS = { prompt: 'a red circle on a white background', steps: 2, seed: 3, cfgScale: 7.5 };

let websd, work, server, cache;

before(async () => {
  websd = await loadWebsd();
  work = mkdtempSync(path.join(tmpdir(), 'websd-artifacts-'));
  for (const [name, model] of Object.entries(MODELS)) {
    execFileSync(cli, ['convert', '--model', model, '-o', path.join(work, 'dist', name), '--shard-mib', '2']);
  }
  server = await serveArtifacts(path.join(work, 'dist'));
  cache = await openModelCache({ dir: path.join(work, 'cache') });
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

async function generate(pipe, settings = SETTINGS) {
  try {
    return await pipe.generate(settings);
  } finally {
    pipe.dispose();
  }
}

function assertSame(got, want, what) {
  for (const key of ['image', 'latents', 'promptEmbeds']) {
    assert.deepEqual(got[key].shape, want[key].shape, `${what}: ${key} shape`);
    assert.ok(diff(got[key].data, want[key].data).max <= 1e-6, `${what}: ${key} differs by ${diff(got[key].data, want[key].data).max}`);
  }
}

for (const name of Object.keys(MODELS)) {
  test(`${name}: artifacts over HTTP on the CPU backend = the diffusers folder; then offline from the cache`, async () => {
    const want = await generate(websd.loadPipeline(MODELS[name], { backend: 'cpu' }));
    const url = `${server.url}/${name}/`;
    const events = [];
    const pipe = await websd.loadModel(url, { backend: 'cpu', cache, onProgress: (e) => events.push(e) });
    assert.equal(pipe.info.family, name === 'tiny-sdxl' ? 'sdxl' : 'sd');
    assertSame(await generate(pipe), want, name);
    assert.ok(await isCached(url, { cache }), 'cached after a complete load');
    // Progress in transformers.js' shape, ending at the whole model's size.
    assert.equal(events.at(-1).status, 'ready');
    assert.equal(events.at(-1).loadedBytes, pipe.info.totalBytes);
    const done = events.filter((e) => e.status === 'done');
    assert.ok(done.length > 3 && done.every((e) => e.fromCache === false));
    for (let i = 1; i < events.length; i++) assert.ok(events[i].loadedBytes >= events[i - 1].loadedBytes);

    // Offline: no request reaches a server.
    const offline = await websd.loadModel(`http://127.0.0.1:9/${name}/`, { backend: 'cpu', cache: await cacheFor(url, name) });
    assertSame(await generate(offline), want, `${name} offline`);
  });
}

// The cache keyed by a URL nothing answers at: the entries of `url` copied under it.
async function cacheFor(url, name) {
  const copy = await openModelCache({ dir: path.join(work, `cache-offline-${name}`) });
  for (const key of await cache.keys()) {
    if (key.startsWith(url)) await copy.put(key.replace(url, `http://127.0.0.1:9/${name}/`), await cache.get(key));
  }
  return copy;
}

// Against the folders on the CPU backend (the float32 limits), not on WebGPU: a shard staged at a
// wrong offset is far outside them, and on SwiftShader each WebGPU generation costs a minute.
test('artifacts on WebGPU (Node + Dawn) = the diffusers folders on the CPU backend; shards staged straight into GPU buffers',
  async () => {
    const host = createGpuHost(await nodeGpu({ swiftshader: process.env.WEBSD_SWIFTSHADER !== '0' }), { mapTimeoutMs: 300000 });
    await host.init();
    try {
      // One step, 64×64 pixels (8×8 latents, the least the four levels of tiny-sd15 take): SwiftShader
      // runs the kernels on this machine's CPU. A misplaced shard changes any picture.
      const settings = { ...SETTINGS, steps: 1, width: 64, height: 64 };
      for (const [name, folder] of Object.entries(MODELS)) {
        const want = await generate(websd.loadPipeline(folder, { backend: 'cpu' }), settings);
        const pipe = await websd.loadModel(`${server.url}/${name}/`, { backend: 'webgpu', gpuHost: host, cache });
        const got = await generate(pipe, settings);
        assert.ok(imageWithinLimits(diff(got.image.data, want.image.data)), `${name} webgpu: image differs`);
        assert.ok(componentWithinLimits(diff(got.promptEmbeds.data, want.promptEmbeds.data)), `${name} webgpu: prompt embeddings differ`);
        assert.ok(latentsWithinLimits(diff(got.latents.data, want.latents.data), want.latents.data), `${name} webgpu: latents differ`);
      }
      // The weights never enter wasm memory on webgpu: fresh modules loading the same artifacts, one
      // per backend, differ by about the CPU backend's float32 weights (26 MB).
      const memory = async (backend) => {
        const fresh = await loadWebsd();
        (await fresh.loadModel(`${server.url}/tiny-sd15/`, { backend, gpuHost: host, cache })).dispose();
        return fresh.memoryBytes;
      };
      const [cpu, gpu] = [await memory('cpu'), await memory('webgpu')];
      console.log(`wasm memory after loading tiny-sd15 artifacts: cpu ${cpu >> 20} MiB, webgpu ${gpu >> 20} MiB`);
      assert.ok(gpu <= cpu - 16 * 2 ** 20, `webgpu ${gpu} bytes, cpu ${cpu} bytes of wasm memory`);
    } finally {
      host.destroy();
    }
  });

test('a local artifact folder loads in Node (verified, not cached)', async () => {
  const want = await generate(websd.loadPipeline(MODELS['tiny-shapes'], { backend: 'cpu' }));
  assertSame(await generate(await websd.loadModel(path.join(work, 'dist/tiny-shapes'), { backend: 'cpu' })), want, 'local');
});

// A copy of tiny-sd15's artifacts with `edit` applied to its manifest (model.json updated to match,
// so only the engine's checks can catch it) or to its files.
function variant(name, { manifest, files }) {
  const dir = path.join(work, 'dist', name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(work, 'dist/tiny-sd15'), dir, { recursive: true });
  const model = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
  if (manifest) {
    const file = path.join(dir, 'ndarray-cache.json');
    const text = manifest(JSON.parse(readFileSync(file, 'utf8')));
    writeFileSync(file, text);
    const entry = model.files.find((f) => f.path === 'ndarray-cache.json');
    entry.nbytes = Buffer.byteLength(text);
    entry.integrity = `sha256-${createHash('sha256').update(text).digest('base64')}`;
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model));
  }
  files?.(dir);
  return `${server.url}/${name}/`;
}

const shardOf = (dir, i = 0) => readdirSync(dir).filter((f) => f.endsWith('.bin')).sort()[i];
const json = (m) => JSON.stringify(m);

const BAD = {
  'truncated shard': [{ files: (dir) => { const f = path.join(dir, shardOf(dir)); writeFileSync(f, readFileSync(f).subarray(0, 1000)); } },
    /text_encoder-000-[0-9a-f]+\.bin: truncated/],
  'flipped byte': [{ files: (dir) => { const f = path.join(dir, shardOf(dir)); const b = readFileSync(f); b[77] ^= 1; writeFileSync(f, b); } },
    /text_encoder-000-[0-9a-f]+\.bin: SHA-256 mismatch/],
  'missing shard': [{ files: (dir) => rmSync(path.join(dir, shardOf(dir, 2))) }, /unet-00\d-[0-9a-f]+\.bin: HTTP 404/],
  'dataPath ../': [{ manifest: (m) => { m.records[0].dataPath = '../tiny-sd15/x.bin'; return json(m); } }, /dataPath must stay inside/],
  'absolute dataPath': [{ manifest: (m) => { m.records[0].dataPath = '/etc/passwd'; return json(m); } }, /'\/etc\/passwd': dataPath must stay/],
  'another origin': [{ manifest: (m) => { m.records[0].dataPath = 'https://evil.example/x.bin'; return json(m); } }, /evil\.example\/x\.bin': dataPath/],
  'shard listed twice': [{ manifest: (m) => { m.records.push(m.records[0]); return json(m); } }, /is listed twice/],
  'overlapping tensors': [{ manifest: (m) => {
    m.records.find((r) => r.records.length > 1).records[1].byteOffset = 0;
    return json(m);
  } }, /tensors '.+' and '.+' overlap/],
  'absurd nbytes': [{ manifest: (m) => { m.records[0].nbytes = 1e15; return json(m); } }, /nbytes 1000000000000000 is absurd/],
  'shape against the config': [{ manifest: (m) => {
    const t = m.records.flatMap((r) => r.records).find((r) => r.name === 'text_encoder/embeddings.position_embedding.weight');
    t.shape = [t.shape[1], t.shape[0]];
    return json(m);
  } }, /position_embedding\.weight' has shape \[32, 77\] but config\.json implies \[77, 32\]/],
  'manifest not JSON': [{ manifest: () => '{"records": [' }, /ndarray-cache\.json: not valid JSON/],
};

for (const [what, [edit, message]] of Object.entries(BAD)) {
  test(`bad artifacts: ${what} → a clear error, nothing cached`, async () => {
    const name = `bad-${what.replace(/\W+/g, '-')}`;
    const url = variant(name, edit);
    const bad = await openModelCache({ dir: path.join(work, `cache-${name}`) });
    await assert.rejects(websd.loadModel(url, { backend: 'cpu', cache: bad }), message);
    assert.deepEqual(await bad.keys(), [], 'nothing from the bad model stays cached');
    assert.equal(await isCached(url, { cache: bad }), false);
  });
}

test('a server that corrupts a shard in flight: retried once, then an error, and nothing cached', async () => {
  const url = variant('corrupted-in-flight', {});
  const dir = path.join(work, 'dist/corrupted-in-flight');
  const shard = shardOf(dir, 1);
  server.faults.set(shard, (body) => { const b = Buffer.from(body); b[5] ^= 0xff; return b; });
  const bad = await openModelCache({ dir: path.join(work, 'cache-corrupted') });
  await assert.rejects(websd.loadModel(url, { backend: 'cpu', cache: bad }), new RegExp(`${shard}: SHA-256 mismatch`));
  assert.equal(server.requests.filter((r) => r === `corrupted-in-flight/${shard}`).length, 2, 'one retry');
  assert.deepEqual(await bad.keys(), []);
  server.faults.delete(shard);
});

test('a connection cut once, on model.json and on a shard: each tried again, and the model loads', async () => {
  const url = variant('connection-cut', {});
  const shard = shardOf(path.join(work, 'dist/connection-cut'), 1);
  server.drops.add('model.json').add(shard);
  const fresh = await openModelCache({ dir: path.join(work, 'cache-connection-cut') });
  (await websd.loadModel(url, { backend: 'cpu', cache: fresh })).dispose();
  for (const file of ['model.json', shard]) {
    assert.equal(server.requests.filter((r) => r === `connection-cut/${file}`).length, 2, `${file}: one retry`);
  }
  assert.ok(await isCached(url, { cache: fresh }));
});

// A shard that changes on the server after a load, as a re-published model changes it (its manifest
// and model.json with it) and as a bad deploy does (the bytes alone).
test('a shard that changes on the server between two loads: the new one fetched alone; changed under the old manifest, refused', async () => {
  const url = variant('republished', {});
  const dir = path.join(work, 'dist/republished');
  const shard = readdirSync(dir).filter((f) => f.startsWith('unet-') && f.endsWith('.bin')).sort()[0];
  const mine = await openModelCache({ dir: path.join(work, 'cache-republished') });
  const first = await generate(await websd.loadModel(url, { backend: 'cpu', cache: mine }));

  // Re-published: signs flipped in the UNet's first weights; the manifest and model.json updated.
  const bytes = readFileSync(path.join(dir, shard));
  for (let i = 1; i < 4096; i += 2) bytes[i] ^= 0x80;
  writeFileSync(path.join(dir, shard), bytes);
  const sri = (b) => `sha256-${createHash('sha256').update(b).digest('base64')}`;
  const manifestFile = path.join(dir, 'ndarray-cache.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  manifest.records.find((r) => r.dataPath === shard).integrity = sri(bytes);
  const manifestText = JSON.stringify(manifest);
  writeFileSync(manifestFile, manifestText);
  const model = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
  Object.assign(model.files.find((f) => f.path === 'ndarray-cache.json'), { nbytes: Buffer.byteLength(manifestText), integrity: sri(manifestText) });
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model));

  const before = server.requests.length;
  const second = await generate(await websd.loadModel(url, { backend: 'cpu', cache: mine }));
  const shardsFetched = server.requests.slice(before).filter((r) => r.endsWith('.bin'));
  assert.deepEqual(shardsFetched, [`republished/${shard}`], 'only the changed shard came from the server');
  assert.ok(diff(second.image.data, first.image.data).max > 1e-2, 'the re-published weights drew another picture');
  const whole = await generate(await websd.loadModel(url, { backend: 'cpu', cache: await openModelCache({ dir: path.join(work, 'cache-republished-whole') }) }));
  assertSame(second, whole, 'the updated model, from the cache and one new shard = fetched whole');

  // A bad deploy: the shard's bytes change, the manifest does not. The copy this cache verified is
  // used; a cache without it refuses the shard and keeps nothing.
  bytes[3] ^= 0x80;
  writeFileSync(path.join(dir, shard), bytes);
  assertSame(await generate(await websd.loadModel(url, { backend: 'cpu', cache: mine })), second, 'the verified copy');
  const empty = await openModelCache({ dir: path.join(work, 'cache-republished-empty') });
  await assert.rejects(websd.loadModel(url, { backend: 'cpu', cache: empty }), new RegExp(`${shard}: SHA-256 mismatch`));
  assert.deepEqual(await empty.keys(), []);
});

// A PNG without its tEXt and iTXt chunks.
function withoutTextChunks(bytes) {
  const kept = [bytes.subarray(0, 8)];
  for (let at = 8; at < bytes.length;) {
    const end = at + 12 + bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (type !== 'tEXt' && type !== 'iTXt') kept.push(bytes.subarray(at, end));
    at = end;
  }
  return Buffer.concat(kept);
}

test('the CLIs take an artifact URL: the Node CLI loads it into $WEBSD_CACHE, the native one hands it over', async () => {
  const flags = ['--prompt', SETTINGS.prompt, '--steps', '2', '--seed', '3'];
  const env = { ...process.env, WEBSD_CACHE: path.join(work, 'cli-cache') };
  // Asynchronous: the server answering them runs in this process.
  const node = async (model, out) => (await execFileAsync(process.execPath, [path.join(root, 'web/cli/websd-node.mjs'),
    'generate', '--model', model, ...flags, '-o', path.join(work, out)], { env, encoding: 'utf8' })).stdout;
  await node(MODELS['tiny-shapes'], 'folder.png');
  assert.match(await node(`${server.url}/tiny-shapes/`, 'url.png'), /^loaded http:.+tiny-shapes\/ \(sd, \d+ MiB\)/m);
  await execFileAsync(cli, ['generate', '--model', `${server.url}/tiny-shapes/`, ...flags, '-o', path.join(work, 'native.png')],
    { env });
  const png = (name) => readFileSync(path.join(work, name));
  // The same pixels; the settings differ in the model's name alone (the URL's last segment).
  const pixels = (name) => withoutTextChunks(png(name));
  assert.ok(pixels('url.png').equals(pixels('folder.png')), 'the same PNG from the URL as from the folder');
  assert.ok(png('native.png').equals(png('url.png')), 'and through the native CLI');
  const settings = (name) => websd.pngParameters(png(name));
  assert.equal(settings('url.png'), settings('folder.png').replace(/Model: model$/, 'Model: tiny-shapes'));
  assert.ok(await isCached(`${server.url}/tiny-shapes/`, { dir: env.WEBSD_CACHE }), 'cached in $WEBSD_CACHE');
});

test('purge removes one model from the cache', async () => {
  const url = `${server.url}/tiny-shapes/`;
  assert.ok(await isCached(url, { cache }));
  assert.ok(await purge(url, { cache }) > 3);
  assert.equal(await isCached(url, { cache }), false);
  assert.ok(await isCached(`${server.url}/tiny-sd15/`, { cache }), 'other models stay');
});
