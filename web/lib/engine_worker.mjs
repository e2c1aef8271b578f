// The engine's thread for loadModel in a browser (a module worker: index.mjs starts one per model
// by default). The worker owns the wasm module and the GPU device; the page's thread only posts
// requests and receives progress, steps and pictures, so it never freezes, however long a step is.
//
// In:  { type: 'load', url, options }                   options: loadModel's, those that can cross
//      { type: 'generate', id, options, steps }         steps: whether the caller has an onStep
//      { type: 'cancel', id }                           abort generation `id` inside the stage under way
// Out: { type: 'progress', event }                      loadModel's progressCallback events
//      { type: 'loaded', device, notice, model, info }
//      { type: 'step', id, info }                       onStep's argument (the preview's bytes moved)
//      { type: 'result', id, result, png }              png: sd.png(result) (the picture's bytes moved)
//      { type: 'error', id, name, message }             id undefined: the load failed

import { loadModel } from './index.mjs';

let sd = null;
const controllers = new Map();  // generation id → its AbortController

const post = (message, transfer = []) => self.postMessage(message, transfer);
const failure = (id, e) => ({ type: 'error', id, name: e?.name ?? 'Error', message: e instanceof Error ? e.message : String(e) });

self.onmessage = async ({ data }) => {
  if (data?.type === 'load') {
    try {
      sd = await loadModel(data.url, { ...data.options, worker: false, progressCallback: (event) => post({ type: 'progress', event }) });
      post({ type: 'loaded', device: sd.device, notice: sd.notice, model: sd.model, info: sd.info });
    } catch (e) {
      post(failure(undefined, e));
    }
  } else if (data?.type === 'generate') {
    const { id } = data;
    const controller = new AbortController();
    controllers.set(id, controller);
    const onStep = data.steps ? (info) => post({ type: 'step', id, info }, info.preview ? [info.preview.data.buffer] : []) : undefined;
    try {
      const result = await sd.generate({ ...data.options, signal: controller.signal, onStep });
      const png = sd.png(result);
      post({ type: 'result', id, result, png }, [result.image.data.buffer, png.buffer]);
    } catch (e) {
      post(failure(id, e));
    } finally {
      controllers.delete(id);
    }
  } else if (data?.type === 'cancel') {
    controllers.get(data.id)?.abort();
  }
};
