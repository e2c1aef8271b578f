#!/usr/bin/env node
// The native `websd` CLI's generate, tokenize, info and serve, run by the WebAssembly build under Node: same
// flags, same outputs (PNG, --save-tensors and --report written the same way, the same per-stage
// report line), same exit codes (2 for a bad command line, 1 for an error). `--backend webgpu`
// runs on Dawn (the npm package `webgpu`); WEBSD_SWIFTSHADER=1 picks SwiftShader's CPU Vulkan. The
// native CLI hands `generate --backend webgpu` to this script.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { loadWebsd } from '../lib/websd.mjs';
import { formatProfile, formatRuns, formatStages, stagesJson } from './stage_report.mjs';
import { serveStatic } from './static_server.mjs';

const PRESETS = ['pndm', 'dpm++2m', 'dpm++2m-karras', 'euler', 'euler-karras', 'ddim', 'lcm'];
const BACKENDS = ['cpu', 'webgpu'];
// webgpu: 'auto' multiplies on the tensor cores in float16 where the GPU has them; 'f32' never.
const PRECISIONS = ['auto', 'f32'];
const USAGE = `usage:
  websd-node.mjs generate --model DIR|FILE|URL [--config DIR] --prompt TEXT [--negative-prompt TEXT] [--steps N] [--cfg-scale G]
                 [--seed S] [--width W] [--height H] [--clip-skip N]
                 [--vae-tiling] [--vae-tile-size N] [--vae-memory-budget MIB]
                 [--scheduler ${PRESETS.join('|')} | --scheduler-config FILE]
                 [--backend cpu|webgpu] [--precision auto|f32] [--profile] [--random-weights SEED] -o OUT.png
                 [--save-tensors OUT.safetensors] [--report STAGES.json] [--runs N]
  websd-node.mjs tokenize --tokenizer DIR [--pad-token TOKEN] TEXT
  websd-node.mjs info --model DIR|FILE [--config DIR]
  websd-node.mjs serve DIST [--port N] [--host ADDRESS]`;

const COMMANDS = {
  generate: {
    options: {
      model: { type: 'string' }, config: { type: 'string' }, prompt: { type: 'string' }, 'negative-prompt': { type: 'string' },
      steps: { type: 'string' }, 'cfg-scale': { type: 'string' }, seed: { type: 'string' },
      width: { type: 'string' }, height: { type: 'string' }, 'clip-skip': { type: 'string' }, scheduler: { type: 'string' },
      'scheduler-config': { type: 'string' }, backend: { type: 'string' }, precision: { type: 'string' },
      profile: { type: 'boolean' }, 'vae-tiling': { type: 'boolean' }, 'vae-tile-size': { type: 'string' },
      'vae-memory-budget': { type: 'string' },
      'random-weights': { type: 'string' }, output: { type: 'string', short: 'o' },
      'save-tensors': { type: 'string' }, report: { type: 'string' }, runs: { type: 'string' },
    },
    required: ['model', 'prompt', 'output'],
    run: generate,
  },
  tokenize: {
    options: { tokenizer: { type: 'string' }, 'pad-token': { type: 'string' } },
    required: ['tokenizer'],
    positionals: 1,
    run: tokenize,
  },
  info: {
    options: { model: { type: 'string' }, config: { type: 'string' } },
    required: ['model'],
    run: info,
  },
  serve: {
    options: { port: { type: 'string' }, host: { type: 'string' } },
    required: [],
    positionals: 1,
    run: serve,
  },
};

class UsageError extends Error {}

function integer(value, flag, { min = -Infinity } = {}) {
  if (!/^-?\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag}: '${value}' is not an integer${min > -Infinity ? ` ≥ ${min}` : ''}`);
  return Number(value);
}

function number(value, flag) {
  if (value.trim() === '' || !Number.isFinite(Number(value))) throw new UsageError(`${flag}: '${value}' is not a number`);
  return Number(value);
}

function generateOptions(v) {
  if (v.scheduler !== undefined && !PRESETS.includes(v.scheduler))
    throw new UsageError(`--scheduler: '${v.scheduler}' is not one of ${PRESETS.join(', ')}`);
  if (v.scheduler !== undefined && v['scheduler-config'] !== undefined)
    throw new UsageError('--scheduler excludes --scheduler-config');
  if (v.backend !== undefined && !BACKENDS.includes(v.backend))
    throw new UsageError(`--backend: '${v.backend}' is not one of ${BACKENDS.join(', ')}`);
  if (v.precision !== undefined && !PRECISIONS.includes(v.precision))
    throw new UsageError(`--precision: '${v.precision}' is not one of ${PRECISIONS.join(', ')}`);
  for (const flag of ['precision', 'profile'])
    if (v[flag] !== undefined && v.backend !== 'webgpu') throw new UsageError(`--${flag} needs --backend webgpu`);
  for (const flag of ['seed', 'random-weights'])
    if (v[flag] !== undefined && !/^\d+$/.test(v[flag])) throw new UsageError(`--${flag}: '${v[flag]}' is not an unsigned integer`);
  return {
    prompt: v.prompt,
    negativePrompt: v['negative-prompt'],
    steps: v.steps === undefined ? 50 : integer(v.steps, '--steps', { min: 1 }),
    // Omitted: the model family's default (7.5, SDXL 5.0), as in the native CLI.
    cfgScale: v['cfg-scale'] === undefined ? undefined : number(v['cfg-scale'], '--cfg-scale'),
    seed: v.seed === undefined ? 0 : BigInt(v.seed),
    width: v.width === undefined ? 0 : integer(v.width, '--width'),
    height: v.height === undefined ? 0 : integer(v.height, '--height'),
    clipSkip: v['clip-skip'] === undefined ? 0 : integer(v['clip-skip'], '--clip-skip', { min: 0 }),
    vaeTiling: v['vae-tiling'] ?? false,
    vaeTileSize: v['vae-tile-size'] === undefined ? 0 : integer(v['vae-tile-size'], '--vae-tile-size', { min: 1 }),
    vaeMemoryBudgetMiB: v['vae-memory-budget'] === undefined ? 0 : number(v['vae-memory-budget'], '--vae-memory-budget'),
    scheduler: v.scheduler,
    schedulerConfig: v['scheduler-config'],
  };
}

async function generate(v) {
  const options = generateOptions(v);
  const backend = v.backend ?? 'cpu';
  const websd = await loadWebsd();
  // Referenced until the end of the run: Dawn must outlive the device the host holds.
  const gpuHost = backend === 'webgpu' ? await nodeGpuHost(v.precision ?? 'auto', v.profile ?? false) : undefined;
  const randomWeights = v['random-weights'] === undefined ? undefined : BigInt(v['random-weights']);
  const runs = v.runs === undefined ? 1 : integer(v.runs, '--runs', { min: 1 });
  const pipe = await openModel(websd, v, { backend, gpuHost, randomWeights });
  try {
    // Each run is the whole generation again in this process; the outputs are the last run's.
    let r;
    let first;  // the first run's stages: the kernels compile there
    const runSeconds = [];
    const runMemory = [];
    let profile = null;
    for (let run = 0; run < runs; run++) {
      if (v.profile) await gpuHost.profile();  // the last run's kernels only
      const start = performance.now();
      const progress = process.stderr.isTTY
        ? (step, total) => process.stderr.write(`\rgenerating ${step}/${total}  ${((performance.now() - start) / 1000).toFixed(1)}s`)
        : null;
      r = await pipe.generate(options, progress);
      first ??= r.stages;
      if (progress) process.stderr.write('\n');
      runSeconds.push((performance.now() - start) / 1000);
      globalThis.gc?.();  // under node --expose-gc (the soak test): memory still held, not garbage
      const { rss, heapUsed } = process.memoryUsage();
      runMemory.push({ residentBytes: rss, heapBytes: heapUsed, wasmBytes: websd.memoryBytes, gpu: gpuHost?.stats() ?? null });
      if (v.profile) profile = await gpuHost.profile();
    }
    const seconds = runSeconds.at(-1);
    websd.writePng(v.output, r.image, { ...r.parameters, model: websd.modelLabel(v.model) });
    if (v['save-tensors'] !== undefined) {
      const tensors = { image: r.image, latents: r.latents, prompt_embeds: r.promptEmbeds, timesteps: r.timesteps };
      if (r.negativePromptEmbeds) tensors.negative_prompt_embeds = r.negativePromptEmbeds;
      if (r.pooledPromptEmbeds) tensors.pooled_prompt_embeds = r.pooledPromptEmbeds;
      if (r.negativePooledPromptEmbeds) tensors.negative_pooled_prompt_embeds = r.negativePooledPromptEmbeds;
      websd.writeSafetensors(v['save-tensors'], tensors);
    }
    if (v.report !== undefined) writeFileSync(v.report, stagesJson(backend, r.stages, runSeconds, runMemory));
    const [height, width] = r.image.shape;
    console.log(`wrote ${v.output} (${width}x${height}, ${options.steps} steps, ${seconds.toFixed(3)} s, ` +
                `wasm memory ${Math.round(websd.memoryBytes / 2 ** 20)} MiB)`);
    console.log(formatStages(backend, r.stages));
    if (runs > 1) console.log(`first run: ${formatStages(backend, first)}\n${formatRuns(runSeconds)}`);
    if (v.profile) console.log(formatProfile(profile));
  } finally {
    pipe.dispose();
    gpuHost?.destroy();
  }
}

// An artifact model (an http(s) URL, cached in $WEBSD_CACHE, or a local folder with model.json)
// through the verified loader; anything else as the native CLI opens it.
async function openModel(websd, v, { backend, gpuHost, randomWeights }) {
  const url = /^https?:\/\//i.test(v.model);
  if (!url && !existsSync(path.join(v.model, 'model.json')))
    return websd.loadPipeline(v.model, { backend, gpuHost, randomWeights, config: v.config });
  if (randomWeights !== undefined || v.config !== undefined)
    throw new UsageError('--random-weights and --config do not apply to an artifact model');
  const start = performance.now();
  let last = 0;
  const pipe = await websd.loadModel(v.model, {
    backend, gpuHost,
    onProgress: (e) => {
      if (!process.stderr.isTTY || (e.status !== 'progress' && e.status !== 'ready')) return;
      const now = performance.now();
      if (e.status === 'progress' && now - last < 200) return;
      last = now;
      process.stderr.write(`\rloading ${mib(e.loadedBytes)}/${mib(e.totalBytes)} MiB  ${((now - start) / 1000).toFixed(1)}s`);
      if (e.status === 'ready') process.stderr.write('\n');
    },
  });
  console.log(`loaded ${v.model} (${pipe.info.family}, ${mib(pipe.info.totalBytes)} MiB) in ` +
              `${((performance.now() - start) / 1000).toFixed(2)} s`);
  return pipe;
}

const mib = (n) => Math.round(n / 2 ** 20);

// Dawn in Node; a full-size UNet step on SwiftShader takes minutes, hence the long read timeout
// (a lost device is still reported at once).
async function nodeGpuHost(precision, profile) {
  const { nodeGpu } = await import('../host/node_gpu.mjs');
  const { createGpuHost } = await import('../host/gpu_host.mjs');
  const host = createGpuHost(await nodeGpu({ swiftshader: process.env.WEBSD_SWIFTSHADER === '1' }),
    { mapTimeoutMs: 600000, profile });
  const device = await host.init({ precision });
  console.log(`webgpu: ${device.adapterInfo.description || device.adapterInfo.vendor || 'adapter'}, ` +
              (device.tensorCores ? 'tensor cores (float16 products)' : 'float32 kernels'));
  return host;
}

async function info(v) {
  const websd = await loadWebsd();
  process.stdout.write(websd.modelInfo(v.model, { config: v.config ?? '' }));
}

async function tokenize(v, [text]) {
  const websd = await loadWebsd();
  console.log(`[${websd.tokenize(v.tokenizer, text, { padToken: v['pad-token'] ?? '' }).join(', ')}]`);
}

// The page (web/page) with the WebAssembly build it loads (build-wasm, or $WEBSD_WASM_BUILD relative
// to the repository, under /build-wasm/web/ either way), and DIST's artifact models under /models/
// (listed at /models.json for the page's model picker), until interrupted.
async function serve(v, [dist]) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const wasm = path.join(root, process.env.WEBSD_WASM_BUILD ?? 'build-wasm', 'web');
  if (!existsSync(dist) || !statSync(dist).isDirectory()) throw new Error(`${dist}: no such folder (the artifact models to serve)`);
  if (!existsSync(path.join(wasm, 'websd_web.mjs')))
    throw new Error(`the page's WebAssembly build is missing (${wasm}): run \`make wasm\` in ${root}`);
  const port = v.port === undefined ? 8080 : integer(v.port, '--port', { min: 0 });
  const models = async () => ({ type: 'application/json', body: JSON.stringify(await listModels(dist), null, 1) });
  const page = async () => ({ type: 'text/html; charset=utf-8',
    body: '<!doctype html><meta http-equiv="refresh" content="0; url=/web/page/"><a href="/web/page/">websd</a>\n' });
  const server = await serveStatic({ '/web/': path.join(root, 'web'), '/build-wasm/web/': wasm,
    '/models/': dist }, { host: v.host ?? '127.0.0.1', port, routes: { '/': page, '/models.json': models } });
  const list = await listModels(dist);
  console.log(`serving ${server.url}/ (the page; ${list.length} model(s) from ${dist} under ${server.url}/models/)`);
  for (const m of list) console.log(`  ${m.name}: ${server.url}${m.url}`);
}

// Every artifact folder (a model.json) in dist or one level below: name, URL path, family, size.
async function listModels(dist) {
  const found = [];
  const look = async (rel, depth) => {
    const dir = path.join(dist, rel);
    if (existsSync(path.join(dir, 'model.json'))) {
      const m = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      found.push({ name: rel, url: `/models/${rel}/`, family: m.family, width: m.default_width, height: m.default_height });
      return;
    }
    if (depth === 2) return;
    for (const e of await readdir(dir, { withFileTypes: true }))
      if (e.isDirectory() && !e.name.startsWith('.')) await look(rel ? `${rel}/${e.name}` : e.name, depth + 1);
  };
  await look('', 0);
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

function parse(argv) {
  const [name, ...rest] = argv;
  const command = COMMANDS[name];
  if (!command) throw new UsageError(name ? `unknown command '${name}'` : 'a command is required');
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e.message);
  }
  const missing = command.required.filter((flag) => parsed.values[flag] === undefined);
  if (missing.length) throw new UsageError(`missing ${missing.map((f) => `--${f}`).join(', ')}`);
  if (parsed.positionals.length !== (command.positionals ?? 0))
    throw new UsageError(`expected ${command.positionals ?? 0} positional argument(s), got ${parsed.positionals.length}`);
  return () => command.run(parsed.values, parsed.positionals);
}

let run;
try {
  run = parse(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`websd-node: ${e.message}\n${USAGE}`);
  process.exit(2);
}
try {
  await run();
} catch (e) {
  // Flag values are checked when the command runs; a bad one is still a command-line error.
  if (e instanceof UsageError) {
    console.error(`websd-node: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`websd-node: error: ${e.message}`);
  process.exit(1);
}
