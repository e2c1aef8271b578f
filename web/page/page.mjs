// The page's thread: reads the form, runs the model through the package's API (web/lib/index.mjs,
// whose engine runs in a Web Worker of its own) and shows what comes back — download progress,
// progress per step with a preview, the picture, timings, notices and errors.
//
// For tests and scripts, the outcome of the last run is also kept on the page:
// document.body.dataset.state is 'loading' (the model list, the history) | 'idle' | 'running' | 'done' | 'error', and window.websdPage is
// { state, backend, image: { width, height, channels: 4, data } (RGBA bytes), timings, stages, model:
// { downloaded, cached, bytes } (files loaded by the last run that loaded any: a new model, or the
// model again onto a new GPU device), previews (how many step previews the run drew), error,
// failedModel (the model URL whose load failed, which Retry and Purge act on), gpu (the GPU host's
// counters after the run: buffers, bytesAllocated, pipelines, …; null on the CPU), history (the
// kept pictures' settings, newest first) }.

import { addPicture, clearPictures, deletePicture, listPictures } from './history.mjs';
import { loadModel, purge, readPngSettings } from '../lib/index.mjs';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);

// The embedded tiny-shapes model as artifacts (`make` converts it into build/artifacts), served from
// the repository next to web/.
$('model').value = params.get('model') ?? new URL('../../build/artifacts/tiny-shapes/', location.href).href;
if (params.has('backend')) $('backend').value = params.get('backend');
// Under `websd serve DIST`, the models it serves (/models.json) are offered in the model field,
// the first one chosen unless the URL names another. The page says 'idle' (ready) once that is known.
const modelsListed = fetch(new URL('/models.json', location.href)).then((r) => (r.ok ? r.json() : [])).then((models) => {
  for (const m of models) {
    const option = document.createElement('option');
    option.value = new URL(m.url, location.href).href;
    option.label = `${m.name} (${m.family}, ${m.width}×${m.height})`;
    $('models').append(option);
  }
  if (models.length && !params.has('model')) $('model').value = new URL(models[0].url, location.href).href;
}).catch(() => {});
// undefined: websd.mjs's default build.
const moduleUrl = params.has('module') ? new URL(params.get('module'), location.href).href : undefined;

let model = null;  // { key, loading: Promise<the model> }: the last run's, kept for the next
let controller = null;  // the run under way's AbortController
let files = { downloaded: 0, cached: 0 };  // model files loaded during the run under way
let started = 0;
let stepTimes = [];  // this run's UNet steps, ms

window.websdPage = {};
setState('loading');
Promise.allSettled([modelsListed, showHistory()]).then(() => setState('idle'));

$('form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (window.websdPage.state === 'running') return;
  let options;
  try {
    options = readOptions();
  } catch (e) {
    fail(e.message);
    return;
  }
  setState('running');
  $('notice').hidden = true;
  $('error').hidden = true;
  $('load-failed').hidden = true;
  $('timings').replaceChildren();
  $('progress').removeAttribute('value');  // indeterminate until the first step
  started = performance.now();
  stepTimes = [];
  window.websdPage.previews = 0;
  generate($('model').value.trim(), $('backend').value, options);
});

// One run: the model (the last run's where the URL and backend are the same), then the picture.
// A cancelled run's late answers change nothing.
async function generate(modelUrl, backend, options) {
  controller = new AbortController();
  const { signal } = controller;
  files = { downloaded: 0, cached: 0 };
  const timings = {};
  let t = performance.now();
  const lap = (name) => {
    const now = performance.now();
    timings[name] = now - t;
    t = now;
  };
  let sd;
  try {
    sd = await open(modelUrl, backend);
  } catch (e) {
    if (signal.aborted) return;
    fail(messageOf(e));
    // Loading the model failed: Retry runs again (what is cached stays), Purge drops its cached files.
    $('load-failed').hidden = false;
    window.websdPage.failedModel = modelUrl;
    return;
  }
  if (signal.aborted) return;
  lap('load');
  // Every run that falls back says so, not only the one that found out.
  if (sd.notice) notice(sd.notice);
  $('status').textContent = `generating (${sd.device} backend)`;
  let result;
  try {
    // A preview of every step: a few hundred multiply-adds per latent pixel, nothing to the step.
    result = await sd.generate({ ...options, signal, previewEvery: 1, onStep: (info) => signal.aborted || showStep(info) });
  } catch (e) {
    if (!signal.aborted) fail(messageOf(e));
    return;
  }
  lap('generate');
  // A GPU device lost since the last run was replaced, the model loaded onto the new one.
  if (result.notice && result.notice !== sd.notice) notice(result.notice);
  const loaded = files.downloaded + files.cached > 0 ? { ...files, bytes: sd.info.totalBytes } : null;
  const png = sd.png(result);
  draw(result.image);
  offerPng(png, result.parameters);
  showTimings(timings, result.stages);
  const source = loaded ? `; model: ${loaded.downloaded} files downloaded, ${loaded.cached} from the cache` : '';
  $('status').textContent = `done in ${formatMs(performance.now() - started)} on the ${result.device} backend${source}`;
  Object.assign(window.websdPage, { backend: result.device, image: result.image, timings, stages: result.stages,
    model: loaded ?? window.websdPage.model, gpu: result.gpu, error: null });
  keep(png, result.parameters);
  setState('done');
}

// The model for a URL and backend: the one loaded before, or a new one (the previous one freed). A
// failed load is tried afresh by the next run; a cancelled one goes on and serves the next run.
function open(modelUrl, backend) {
  const key = `${modelUrl}\n${backend}`;
  if (model?.key === key) return model.loading;
  model?.loading.then((sd) => sd.dispose(), () => {});
  $('status').textContent = `loading ${modelUrl} (${backend} backend)`;
  const loading = loadModel(modelUrl, { device: backend, moduleUrl, progressCallback: showDownload });
  model = { key, loading };
  loading.catch(() => {
    if (model?.loading === loading) model = null;
  });
  return loading;
}

// transformers.js-shaped events of a model's files (web/lib/index.mjs), also when a new GPU device
// takes the model again.
function showDownload(event) {
  if (event.status === 'done') files[event.fromCache ? 'cached' : 'downloaded']++;
  if ((event.status !== 'progress' && event.status !== 'done') || window.websdPage.state !== 'running') return;
  $('progress').max = event.totalBytes;
  $('progress').value = event.loadedBytes;
  $('status').textContent = `loading the model: ${formatMiB(event.loadedBytes)} of ${formatMiB(event.totalBytes)} ` +
    `(${event.file}${event.fromCache ? ', from the cache' : ''})`;
}

function showStep({ step, total, ms, preview }) {
  $('progress').max = total;
  $('progress').value = step;
  if (preview) {
    draw(preview);  // the canvas keeps its displayed size: the preview is scaled up to it
    window.websdPage.previews = (window.websdPage.previews ?? 0) + 1;
  }
  stepTimes.push(ms);
  // The first step compiles kernels and allocates: the later ones' mean, once there are some.
  const later = stepTimes.length > 1 ? stepTimes.slice(1) : stepTimes;
  const left = (total - step) * later.reduce((sum, v) => sum + v, 0) / later.length;
  $('status').textContent = `step ${step}/${total} (${formatMs(ms)}` + (step < total ? `, about ${formatMs(left)} left)` : ')');
}

// A run's notices pile up (a lost device, then the software adapter's), one per line.
function notice(text) {
  $('notice').textContent = $('notice').hidden ? text : `${$('notice').textContent}\n${text}`;
  $('notice').hidden = false;
}

const messageOf = (e) => (e instanceof Error ? e.message : String(e));

// Ctrl+Enter (⌘+Enter) anywhere generates; Escape cancels a run.
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    if (window.websdPage.state !== 'running') $('form').requestSubmit();
  } else if (event.key === 'Escape' && window.websdPage.state === 'running') {
    cancel();
  }
});

$('dice').addEventListener('click', () => {
  $('seed').value = String(Math.floor(Math.random() * 2 ** 32));
});

// Generate turns into Cancel while a run goes on: a plain button then (setState), so that Enter in
// a field, which clicks a form's submit button, cannot cancel.
$('generate').addEventListener('click', (event) => {
  if (window.websdPage.state !== 'running') return;
  event.preventDefault();  // cancel() makes it a submit button again, which this click must not press
  cancel();
});

// The run stops inside the stage under way (its model stays loaded for the next run); the
// page says so at once.
function cancel() {
  controller?.abort();
  fail('cancelled');
}

function readOptions() {
  const prompt = $('prompt').value;
  if (!prompt.trim()) throw new Error('the prompt is empty');
  const seedText = $('seed').value.trim() || '0';
  if (!/^\d+$/.test(seedText)) throw new Error('the seed must be a whole number ≥ 0');
  const seed = BigInt(seedText) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seedText) : BigInt(seedText);
  const options = { prompt, steps: Number($('steps').value), cfgScale: Number($('guidance').value), seed };
  // An empty field means no negative prompt at all (diffusers' None), not the empty string.
  if ($('negative').value !== '') options.negativePrompt = $('negative').value;
  if ($('scheduler').value) options.sampler = $('scheduler').value;
  // Empty: the model's own size.
  for (const side of ['width', 'height']) {
    const text = $(side).value.trim();
    if (text === '') continue;
    if (!/^\d+$/.test(text)) throw new Error(`the ${side} must be a whole number of pixels`);
    options[side] = Number(text);
  }
  return options;
}

$('retry').addEventListener('click', () => $('form').requestSubmit());  // the submit hides the buttons

$('purge').addEventListener('click', async () => {
  const modelUrl = window.websdPage.failedModel;
  $('error').hidden = true;
  $('status').textContent = `removing the cached files of ${modelUrl}`;
  try {
    const removed = await purge(modelUrl);
    $('load-failed').hidden = true;
    $('status').textContent = `removed ${removed} cached files of ${modelUrl}; Generate downloads the model again`;
    setState('idle');
  } catch (e) {
    fail(`removing the cached files of ${modelUrl} failed: ${messageOf(e)}`);
  }
});

// The picture as a PNG carrying its settings, behind the Download link.
function offerPng(png, parameters) {
  const link = $('save');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([png], { type: 'image/png' }));
  link.download = `websd-${parameters.seed}.png`;
  link.hidden = false;
  window.websdPage.parameters = parameters;
}

// The history (history.mjs): every picture made here, newest first; choosing one puts its settings
// back into the form and shows it; × deletes it. A history that cannot be written (storage full,
// IndexedDB off in a private window) is said in the notice and changes nothing else.
async function keep(png, parameters) {
  try {
    await addPicture({ png, parameters });
  } catch (e) {
    $('notice').textContent = `this picture is not kept in the history: ${e?.message ?? e} (Clear the history to make room)`;
    $('notice').hidden = false;
  }
  await showHistory();
}

const thumbnails = [];  // object URLs of the listed pictures, revoked when the list is redrawn

async function showHistory() {
  let pictures = [];
  try {
    pictures = await listPictures();
  } catch {
    // No IndexedDB here: an empty history.
  }
  for (const url of thumbnails.splice(0)) URL.revokeObjectURL(url);
  $('history').replaceChildren(...pictures.map(historyItem));
  $('history-empty').hidden = pictures.length > 0;
  $('clear-history').hidden = pictures.length === 0;
  window.websdPage.history = pictures.map((p) => p.parameters);
}

function historyItem({ id, png, parameters: p }) {
  const url = URL.createObjectURL(png);
  thumbnails.push(url);
  const item = document.createElement('li');
  const pick = document.createElement('button');
  pick.type = 'button';
  pick.className = 'pick';
  const img = document.createElement('img');
  img.src = url;
  img.alt = p.prompt;
  const text = document.createElement('span');
  text.textContent = `${p.prompt} — seed ${p.seed}, ${p.steps} steps, ${p.width}×${p.height}`;
  pick.append(img, text);
  pick.addEventListener('click', async () => {
    restore(p);
    offerPng(await png.arrayBuffer(), p);
    const bitmap = await createImageBitmap(png);
    const canvas = $('picture');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
  });
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = '×';
  remove.setAttribute('aria-label', `delete "${p.prompt}" (seed ${p.seed}) from the history`);
  remove.addEventListener('click', async () => {
    await deletePicture(id);
    await showHistory();
  });
  item.append(pick, remove);
  return item;
}

$('clear-history').addEventListener('click', async () => {
  await clearPictures();
  await showHistory();
});

// A dropped PNG's settings into the form (AUTOMATIC1111's sampler names mapped to websd's).
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', async (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (!file) return;
  try {
    restore(await readPngSettings(await file.arrayBuffer(), { moduleUrl }));
  } catch (e) {
    fail(`reading ${file.name} failed: ${messageOf(e)}`);
  }
});

const SCHEDULERS = { 'PLMS': 'pndm', 'DPM++ 2M': 'dpm++2m', 'DPM++ 2M/Karras': 'dpm++2m-karras', 'Euler': 'euler',
  'Euler/Karras': 'euler-karras', 'DDIM': 'ddim', 'LCM': 'lcm' };

function restore(p) {
  if (!p) {
    fail('that picture carries no settings (no "parameters" text in the PNG)');
    return;
  }
  $('prompt').value = p.prompt;
  $('negative').value = p.negativePrompt;
  $('steps').value = String(p.steps);
  $('guidance').value = String(p.cfgScale);
  $('seed').value = String(p.seed);
  $('width').value = p.width ? String(p.width) : '';
  $('height').value = p.height ? String(p.height) : '';
  const scheduler = SCHEDULERS[p.scheduleType ? `${p.sampler}/${p.scheduleType}` : p.sampler];
  $('scheduler').value = scheduler ?? '';
  const unknown = scheduler === undefined ? ` (its sampler ${p.sampler} is not one websd has: the model's own is chosen)` : '';
  $('notice').textContent = `settings taken from the picture${unknown}`;
  $('notice').hidden = false;
  window.websdPage.restored = p;
}

function fail(message) {
  $('error').textContent = message;
  $('error').hidden = false;
  $('status').textContent = 'failed';
  $('progress').value = 0;
  Object.assign(window.websdPage, { error: message });
  setState('error');
}

function setState(state) {
  window.websdPage.state = state;
  document.body.dataset.state = state;
  $('generate').textContent = state === 'running' ? 'Cancel' : 'Generate';
  $('generate').type = state === 'running' ? 'button' : 'submit';
}

// image: RGBA bytes (a step's preview too, at the latents' size).
function draw({ width, height, data }) {
  const canvas = $('picture');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(new ImageData(data, width, height), 0, 0);
}

// timings: the run's phases in ms. stages: the engine's per-stage report when it gives one,
// [{ name: 'text_encoder' | 'unet_step' | 'vae_decode', ms, kernels, peakBytes }], summed per name.
const PHASES = { load: 'load the model (the engine with it)', generate: 'generate' };
const STAGES = { text_encoder: 'text encoder', unet_step: 'UNet', vae_decode: 'VAE decode' };

function showTimings(timings, stages) {
  const rows = Object.entries(timings).map(([name, ms]) => [PHASES[name] ?? name, formatMs(ms)]);
  if (Array.isArray(stages) && stages.length) {
    rows.push(['engine stages', '']);
    for (const name of new Set(stages.map((s) => s.name))) {
      const of = stages.filter((s) => s.name === name);
      const total = of.reduce((t, s) => t + s.ms, 0);
      const label = STAGES[name] ?? name;
      rows.push(of.length > 1 ? [`${label} (${of.length}×)`, `${formatMs(total)}, ${formatMs(total / of.length)} each`]
        : [label, formatMs(total)]);
    }
    rows.push(['kernels', String(stages.reduce((t, s) => t + (s.kernels ?? 0), 0))]);
    const peak = stages.reduce((m, s) => Math.max(m, s.peakBytes ?? 0), 0);
    rows.push(['peak backend memory', `${(peak / 2 ** 20).toFixed(1)} MiB`]);
  }
  $('timings').replaceChildren(...rows.map(([name, value]) => {
    const tr = document.createElement('tr');
    tr.innerHTML = '<td></td><td class="ms"></td>';
    tr.cells[0].textContent = name;
    tr.cells[1].textContent = value;
    return tr;
  }));
}

function formatMiB(bytes) {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}
