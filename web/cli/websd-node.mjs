#!/usr/bin/env node
// The native `websd` CLI's generate and tokenize, run by the WebAssembly build under Node: same
// flags, same outputs (PNG and --save-tensors written by the same C++ writers), same exit codes
// (2 for a bad command line, 1 for an error).
import { parseArgs } from 'node:util';

import { loadWebsd } from '../lib/websd.mjs';

const PRESETS = ['pndm', 'dpm++2m', 'dpm++2m-karras', 'euler', 'euler-karras', 'ddim', 'lcm'];
const USAGE = `usage:
  websd-node.mjs generate --model DIR --prompt TEXT [--negative-prompt TEXT] [--steps N] [--cfg-scale G]
                 [--seed S] [--width W] [--height H]
                 [--scheduler ${PRESETS.join('|')} | --scheduler-config FILE]
                 [--backend cpu] -o OUT.png [--save-tensors OUT.safetensors]
  websd-node.mjs tokenize --tokenizer DIR [--pad-token TOKEN] TEXT`;

const COMMANDS = {
  generate: {
    options: {
      model: { type: 'string' }, prompt: { type: 'string' }, 'negative-prompt': { type: 'string' },
      steps: { type: 'string' }, 'cfg-scale': { type: 'string' }, seed: { type: 'string' },
      width: { type: 'string' }, height: { type: 'string' }, scheduler: { type: 'string' },
      'scheduler-config': { type: 'string' }, backend: { type: 'string' },
      output: { type: 'string', short: 'o' }, 'save-tensors': { type: 'string' },
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
  if (v.backend !== undefined && v.backend !== 'cpu') throw new UsageError(`--backend: '${v.backend}' is not one of cpu`);
  if (v.seed !== undefined && !/^\d+$/.test(v.seed)) throw new UsageError(`--seed: '${v.seed}' is not an unsigned integer`);
  return {
    prompt: v.prompt,
    negativePrompt: v['negative-prompt'],
    steps: v.steps === undefined ? 50 : integer(v.steps, '--steps', { min: 1 }),
    cfgScale: v['cfg-scale'] === undefined ? 7.5 : number(v['cfg-scale'], '--cfg-scale'),
    seed: v.seed === undefined ? 0 : BigInt(v.seed),
    width: v.width === undefined ? 0 : integer(v.width, '--width'),
    height: v.height === undefined ? 0 : integer(v.height, '--height'),
    scheduler: v.scheduler,
    schedulerConfig: v['scheduler-config'],
  };
}

async function generate(v) {
  const options = generateOptions(v);
  const websd = await loadWebsd();
  const pipe = websd.loadPipeline(v.model, { backend: v.backend ?? 'cpu' });
  const start = performance.now();
  const progress = process.stderr.isTTY
    ? (step, total) => process.stderr.write(`\rgenerating ${step}/${total}  ${((performance.now() - start) / 1000).toFixed(1)}s`)
    : null;
  const r = pipe.generate(options, progress);
  if (progress) process.stderr.write('\n');
  const seconds = (performance.now() - start) / 1000;
  websd.writePng(v.output, r.image);
  if (v['save-tensors'] !== undefined) {
    const tensors = { image: r.image, latents: r.latents, prompt_embeds: r.promptEmbeds, timesteps: r.timesteps };
    if (r.negativePromptEmbeds) tensors.negative_prompt_embeds = r.negativePromptEmbeds;
    websd.writeSafetensors(v['save-tensors'], tensors);
  }
  const [height, width] = r.image.shape;
  console.log(`wrote ${v.output} (${width}x${height}, ${options.steps} steps, ${seconds.toFixed(3)} s, ` +
              `wasm memory ${Math.round(websd.memoryBytes / 2 ** 20)} MiB)`);
}

async function tokenize(v, [text]) {
  const websd = await loadWebsd();
  console.log(`[${websd.tokenize(v.tokenizer, text, { padToken: v['pad-token'] ?? '' }).join(', ')}]`);
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
  console.error(`websd-node: error: ${e.message}`);
  process.exit(1);
}
