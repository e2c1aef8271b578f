// Fetches a diffusers model folder over HTTP into Emscripten's file system, so the engine reads it
// by path as the native CLI does. Only the files websd reads are fetched; this list is the one place
// that knows them (it mirrors src/pipeline/model_index.cpp, src/models/weights.cpp and
// src/tokenizer/folder_config.cpp).
//
//   await fetchModel('https://host/model/', websd.fs, '/models/0', { onFile });
//
// A URL only says which files exist by answering 404, so optional files are asked for and a 404
// is fine; a missing required file is an Error naming its URL.

// The components a StableDiffusionPipeline folder needs, and the small files of each.
const COMPONENTS = {
  scheduler: { required: ['scheduler_config.json'] },
  // vocab.json + merges.txt, or tokenizer.json (which wins when both are there, as in
  // transformers); the rest are read when present.
  tokenizer: { optional: ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json',
    'special_tokens_map.json', 'added_tokens.json'] },
  text_encoder: { required: ['config.json'], weights: true },
  unet: { required: ['config.json'], weights: true },
  vae: { required: ['config.json'], weights: true },
};

// Weight file names in the order the engine looks for them; text encoders use the second, so they
// are tried in that order there to spare a 404. Each may be one file or an index of shards.
const WEIGHT_NAMES = ['diffusion_pytorch_model.safetensors', 'model.safetensors'];

/**
 * @param {string | URL} modelUrl the folder's URL (a trailing slash is added when missing)
 * @param {any} fs Emscripten's FS (websd.fs)
 * @param {string} dir where the folder goes in fs
 * @param {{ onFile?: (info: { path: string, bytes: number }) => void, fetch?: typeof fetch }} [options]
 * @returns {Promise<{ files: number, bytes: number }>}
 */
export async function fetchModel(modelUrl, fs, dir, { onFile = () => {}, fetch: get = fetch } = {}) {
  const base = new URL(String(modelUrl).endsWith('/') ? String(modelUrl) : `${modelUrl}/`, globalThis.location?.href);
  let files = 0;
  let bytes = 0;
  // Fetches base/relPath into dir/relPath; null when optional and absent.
  const put = async (relPath, optional) => {
    const data = await fetchBytes(get, new URL(relPath, base), optional);
    if (data === null) return null;
    writeFile(fs, `${dir}/${relPath}`, data);
    files += 1;
    bytes += data.byteLength;
    onFile({ path: relPath, bytes: data.byteLength });
    return data;
  };

  mkdirs(fs, dir);
  const index = JSON.parse(decode(await put('model_index.json', false)));
  // Only the components model_index.json names get a folder: the engine's own check then reports
  // a missing one with its usual message.
  const named = Object.keys(COMPONENTS).filter((c) => Array.isArray(index[c]) && index[c][1] != null);
  await Promise.all(named.map(async (component) => {
    const spec = COMPONENTS[component];
    mkdirs(fs, `${dir}/${component}`);
    await Promise.all([
      ...(spec.required ?? []).map((f) => put(`${component}/${f}`, false)),
      ...(spec.optional ?? []).map((f) => put(`${component}/${f}`, true)),
    ]);
    if (spec.weights) await fetchWeights(put, component, new URL(`${component}/`, base));
  }));
  return { files, bytes };
}

// One safetensors file, or an index.json and the shards its weight_map names.
async function fetchWeights(put, component, componentUrl) {
  const names = component === 'text_encoder' ? [...WEIGHT_NAMES].reverse() : WEIGHT_NAMES;
  for (const name of names) {
    if (await put(`${component}/${name}`, true)) return;
    const index = await put(`${component}/${name}.index.json`, true);
    if (index) {
      const shards = new Set(Object.values(JSON.parse(decode(index)).weight_map ?? {}));
      await Promise.all([...shards].map((shard) => put(`${component}/${shard}`, false)));
      return;
    }
  }
  throw new Error(`${componentUrl}: no ${WEIGHT_NAMES.join(' or ')} (only safetensors weights are supported)`);
}

async function fetchBytes(get, url, optional) {
  let response;
  try {
    response = await get(url);
  } catch (e) {
    throw new Error(`${url}: fetch failed (${e.message})`);
  }
  if (optional && response.status === 404) return null;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
  return new Uint8Array(await response.arrayBuffer());
}

// canOwn: MEMFS keeps the fetched array as the file's contents instead of copying it, so a
// model's weights are not held twice while they are written.
function writeFile(fs, path, data) {
  mkdirs(fs, path.slice(0, path.lastIndexOf('/')));
  const stream = fs.open(path, 'w');
  try {
    fs.write(stream, data, 0, data.byteLength, 0, true);
  } finally {
    fs.close(stream);
  }
}

function mkdirs(fs, dir) {
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += `/${part}`;
    if (!fs.analyzePath(path).exists) fs.mkdir(path);
  }
}

function decode(bytes) {
  return new TextDecoder().decode(bytes);
}
