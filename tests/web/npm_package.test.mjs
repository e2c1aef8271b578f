// The npm package as a user gets it: scripts/npm_pack.sh's tarball installed into an empty folder
// with Dawn (`webgpu`), running docs/api.md's package example unchanged on tiny-shapes' artifacts
// (WebGPU on SwiftShader here). Its picture must be the CPU backend's for the same settings, and
// its PNG must carry those settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadModel } from '../../web/lib/index.mjs';
import { loadWebsd } from '../../web/lib/websd.mjs';
import { decodePng } from './png.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const model = path.join(root, process.env.WEBSD_BUILD ?? 'build', 'artifacts/tiny-shapes');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// The first ```js block after the marker comment in docs/api.md.
function packageExample() {
  const doc = readFileSync(path.join(root, 'docs/api.md'), 'utf8');
  const at = doc.indexOf('<!-- tests/web/npm_package.test.mjs');
  assert.ok(at >= 0, 'docs/api.md has the package example');
  const block = /```js\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(block, 'the marker is followed by a js block');
  return block[1];
}

test('the npm package installs into an empty folder and runs the README example with Dawn', { timeout: 900_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'websd-npm-'));
  try {
    const tarball = execFileSync(path.join(root, 'scripts/npm_pack.sh'), [path.join(dir, 'pack')], { encoding: 'utf8' }).trim();
    const app = path.join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(path.join(app, 'package.json'), '{ "type": "module", "private": true }\n');
    const webgpu = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies.webgpu;
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `webgpu@${webgpu}`],
      { cwd: app, stdio: 'pipe' });
    writeFileSync(path.join(app, 'example.mjs'), packageExample());
    const out = execFileSync(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8',
      env: { ...process.env, WEBSD_MODEL: model, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD } });
    assert.match(out, /WebGPU: /);
    assert.match(out, /step 4\/5: \d+ ms/);  // PNDM: steps + 1 UNet calls
    assert.match(out, /128×128, seed 0, on webgpu/);

    const png = readFileSync(path.join(app, 'red-circle.png'));
    const websd = await loadWebsd();
    const settings = websd.parseParameters(websd.pngParameters(png));
    assert.deepEqual({ prompt: settings.prompt, steps: settings.steps, seed: settings.seed, width: settings.width,
      model: settings.model }, { prompt: 'a red circle on a white background', steps: 4, seed: 0, width: 128, model: 'tiny-shapes' });

    const cpu = await loadModel(model, { device: 'cpu' });
    const want = await cpu.generate({ prompt: 'a red circle on a white background', steps: 4, seed: 0 });
    cpu.dispose();
    const got = decodePng(png);
    assert.deepEqual([got.width, got.height, got.channels], [128, 128, 3]);
    let worst = 0;
    for (let p = 0; p < 128 * 128; p++) {
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(got.data[3 * p + c] - want.image.data[4 * p + c]));
    }
    assert.ok(worst <= 1, `the WebGPU picture is the CPU backend's within a rounding step (worst ${worst})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
