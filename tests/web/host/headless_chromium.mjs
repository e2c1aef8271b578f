// Headless Chromium for the browser tests: the system's /usr/bin/chromium (never a downloaded
// browser) driven by playwright-core, with WebGPU on — SwiftShader where there is no GPU.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { WORKGROUP_INIT_OFF } from '../../../web/host/node_gpu.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const WEBGPU_FLAG = '--enable-unsafe-webgpu';
// --enable-unsafe-webgpu is the flag WebGPU needs on Linux; with no GPU Chromium then falls back to
// SwiftShader by itself. The rest keep a test browser quiet. Playwright adds its own defaults
// (including --headless and --enable-unsafe-swiftshader); extra flags: WEBSD_CHROMIUM_FLAGS.
// Dawn's zeroing of workgroup memory is off, as in Node (web/host/node_gpu.mjs says why).
const CHROMIUM_FLAGS = ['--no-sandbox', WEBGPU_FLAG, `--enable-dawn-features=${WORKGROUP_INIT_OFF}`,
  '--disable-background-networking', '--disable-component-update', '--no-first-run',
  ...(process.env.WEBSD_CHROMIUM_FLAGS ?? '').split(' ').filter(Boolean)];

/**
 * A browser with a profile of its own; close() also removes the profile. webgpu: false launches
 * it without WebGPU (Chromium on Linux then gives no adapter).
 */
export async function launchChromium({ webgpu = true } = {}) {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'websd-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true,
    args: CHROMIUM_FLAGS.filter((f) => webgpu || f !== WEBGPU_FLAG) });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The page's console messages and uncaught errors as they come, for failure messages. */
export function pageLogs(page) {
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  return logs;
}
