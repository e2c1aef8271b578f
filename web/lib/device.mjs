// Which backend a model runs on, and the GPU host it needs, for the package's loadModel (index.mjs). 'webgpu' without a usable WebGPU is an error that says why;
// 'auto' falls back to the CPU with a notice saying why; a software adapter (SwiftShader) comes
// with a notice too.

import { createGpuHost } from '../host/gpu_host.mjs';
import { isNode } from './runtime.mjs';

// How long one GPU read may wait before the run counts as hung (the host's default is 30 s). The
// engine reads back about once per UNet step or VAE decode; on a software adapter a tiny model's
// step takes tens of seconds, the first one more while its shaders compile.
const GPU_READ_TIMEOUT_MS = 120_000;
const SOFTWARE_READ_TIMEOUT_MS = 600_000;

const NO_WEBGPU = 'this browser has no WebGPU (navigator.gpu is missing): use a current Chrome or Edge, Safari 26 or ' +
  'later, or Firefox 141 or later on Windows; on Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu';
export const NO_ADAPTER = 'no WebGPU adapter: no usable GPU, or WebGPU is disabled in this browser';

/**
 * The GPU object: the caller's, navigator.gpu in browsers (and workers), Dawn in Node.
 * @param {GPU} [gpu]
 * @returns {Promise<GPU>}
 */
export async function defaultGpu(gpu) {
  if (gpu) return gpu;
  if (isNode) {
    const { nodeGpu } = await import('../host/node_gpu.mjs');
    return nodeGpu();
  }
  if (!globalThis.navigator?.gpu) throw new Error(NO_WEBGPU);
  return globalThis.navigator.gpu;
}

/**
 * @param {'auto' | 'webgpu' | 'cpu'} device
 * @param {{ gpu?: GPU, precision?: 'auto' | 'f32' }} [options]
 * @returns {Promise<{ backend: 'webgpu' | 'cpu', host: any, notice: string | null }>} host: an
 *   initialised GPU host for 'webgpu' (the caller destroys it), else null
 */
export async function openDevice(device, { gpu, precision } = {}) {
  if (device === 'cpu') return { backend: 'cpu', host: null, notice: null };
  let host = null;
  try {
    const g = await defaultGpu(gpu);
    const adapter = await g.requestAdapter();
    if (!adapter) throw new Error(NO_ADAPTER);
    const software = Boolean(adapter.info?.isFallbackAdapter ?? /** @type {any} */ (adapter).isFallbackAdapter);
    host = createGpuHost(g, { mapTimeoutMs: software ? SOFTWARE_READ_TIMEOUT_MS : GPU_READ_TIMEOUT_MS });
    await host.init(precision ? { precision } : {});
    const notice = software ? 'WebGPU runs on a software adapter here (no GPU was found): expect it to be far slower than on a GPU.' : null;
    return { backend: 'webgpu', host, notice };
  } catch (e) {
    host?.destroy();
    const reason = e instanceof Error ? e.message : String(e);
    if (device === 'webgpu') throw new Error(`the WebGPU backend is unavailable: ${reason}`);
    return { backend: 'cpu', host: null, notice: `WebGPU is unavailable (${reason}); running on the CPU backend, which is much slower.` };
  }
}
