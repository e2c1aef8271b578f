// web/page/model_files.mjs under Node, against a fake server and a fake file system: which files
// are fetched, that 404 on optional files is fine, sharded weights, and errors naming the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { fetchModel } from '../../../web/page/model_files.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = 'http://models.test/m/';

// files: { relPath: string | Uint8Array }; records every URL asked for.
function fakeServer(files) {
  const asked = [];
  const fetch = async (url) => {
    const rel = String(url).slice(BASE.length);
    asked.push(rel);
    if (!(rel in files)) return new Response(null, { status: 404, statusText: 'Not Found' });
    return new Response(files[rel]);
  };
  return { fetch, asked };
}

// The part of Emscripten's FS that fetchModel uses; files end up in a Map.
function fakeFs() {
  const dirs = new Set(['/']);
  const files = new Map();
  return {
    files,
    analyzePath: (p) => ({ exists: dirs.has(p) || files.has(p) }),
    mkdir: (p) => {
      assert.ok(dirs.has(path.posix.dirname(p)), `mkdir ${p}: no parent`);
      dirs.add(p);
    },
    open: (p, flags) => {
      assert.equal(flags, 'w');
      assert.ok(dirs.has(path.posix.dirname(p)), `open ${p}: no parent folder`);
      return { path: p };
    },
    write: (stream, data, offset, length, position, canOwn) => {
      assert.equal(canOwn, true);
      files.set(stream.path, data.subarray(offset, offset + length));
      return length;
    },
    close: () => {},
  };
}

// Every file of a local folder, as the fake server's table.
function folderFiles(dir, prefix = '') {
  const out = {};
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) Object.assign(out, folderFiles(full, `${prefix}${name}/`));
    else out[`${prefix}${name}`] = new Uint8Array(readFileSync(full));
  }
  return out;
}

test('the tiny-shapes folder arrives whole; absent optional files are only asked for', async () => {
  const served = folderFiles(path.join(ROOT, 'assets/tiny-shapes/model'));
  const { fetch, asked } = fakeServer(served);
  const fs = fakeFs();
  const seen = [];
  const r = await fetchModel(BASE.slice(0, -1), fs, '/models/0', { fetch, onFile: ({ path: p }) => seen.push(p) });
  assert.deepEqual([...fs.files.keys()].sort(), Object.keys(served).map((p) => `/models/0/${p}`).sort());
  for (const [p, data] of Object.entries(served)) assert.deepEqual(fs.files.get(`/models/0/${p}`), data);
  assert.equal(r.files, Object.keys(served).length);
  assert.equal(r.bytes, Object.values(served).reduce((n, d) => n + d.byteLength, 0));
  assert.deepEqual(seen.sort(), Object.keys(served).sort());
  // The text encoder's model.safetensors is asked for first, so no 404 there.
  assert.ok(!asked.includes('text_encoder/diffusion_pytorch_model.safetensors'));
  assert.ok(asked.includes('tokenizer/tokenizer.json'));
});

test('sharded weights: the index and each shard it names', async () => {
  const index = { weight_map: { a: 'unet-1.safetensors', b: 'unet-2.safetensors', c: 'unet-1.safetensors' } };
  const { fetch, asked } = fakeServer({
    'model_index.json': JSON.stringify({ unet: ['diffusers', 'UNet2DConditionModel'], safety_checker: [null, null] }),
    'unet/config.json': '{}',
    'unet/diffusion_pytorch_model.safetensors.index.json': JSON.stringify(index),
    'unet/unet-1.safetensors': 'one',
    'unet/unet-2.safetensors': 'two',
  });
  const fs = fakeFs();
  await fetchModel(BASE, fs, '/m', { fetch });
  assert.deepEqual([...fs.files.keys()].sort(), ['/m/model_index.json', '/m/unet/config.json',
    '/m/unet/diffusion_pytorch_model.safetensors.index.json', '/m/unet/unet-1.safetensors', '/m/unet/unet-2.safetensors']);
  assert.equal(asked.filter((p) => p === 'unet/unet-1.safetensors').length, 1);
});

test('missing files are errors that name the URL', async () => {
  const index = JSON.stringify({ vae: ['diffusers', 'AutoencoderKL'] });
  await assert.rejects(fetchModel(BASE, fakeFs(), '/m', fakeServer({})),
    { message: `${BASE}model_index.json: HTTP 404 Not Found` });
  await assert.rejects(fetchModel(BASE, fakeFs(), '/m', fakeServer({ 'model_index.json': index, 'vae/config.json': '{}' })),
    { message: /^http:\/\/models\.test\/m\/vae\/: no diffusion_pytorch_model\.safetensors or model\.safetensors/ });
  await assert.rejects(fetchModel(BASE, fakeFs(), '/m', fakeServer({ 'model_index.json': index })),
    { message: `${BASE}vae/config.json: HTTP 404 Not Found` });
  const down = async () => {
    throw new TypeError('Failed to fetch');
  };
  await assert.rejects(fetchModel(BASE, fakeFs(), '/m', { fetch: down }),
    { message: `${BASE}model_index.json: fetch failed (Failed to fetch)` });
});
