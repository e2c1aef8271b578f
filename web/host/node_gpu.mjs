// WebGPU in Node through Dawn (the npm package `webgpu`): the same `GPU` object browsers expose as
// `navigator.gpu`, for createGpuHost().
import { existsSync } from 'node:fs';

/** SwiftShader (a CPU Vulkan driver) as Debian's chromium package installs it. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Dawn hides shader-f16 on NVIDIA's Vulkan driver (a workaround for an old driver bug) and subgroup
 * matrices behind its unsafe APIs; the first two toggles expose both, so the engine's tensor-core
 * kernels can run (docs/performance.md). On adapters without the features they change nothing.
 * The third skips zeroing workgroup memory at the start of every workgroup: every kernel writes its
 * workgroup memory before reading it (the device tests fill it with NaN first to hold them to that:
 * tests/backend/webgpu/poison_workgroup_memory.h), and on SwiftShader the zeroing made compiling a
 * tiled kernel 5× slower (1.4 s against 0.3 s).
 */
export const WORKGROUP_INIT_OFF = 'disable_workgroup_init';
export const DAWN_TOGGLES = [`enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia,${WORKGROUP_INIT_OFF}`];

/** @type {GPU | null} */
let instance = null;

/**
 * Returns Dawn's GPU object, creating it once per process, and installs WebGPU's globals
 * (GPUBufferUsage, GPUMapMode, ...) on globalThis. The object is kept referenced here for the life
 * of the process: Dawn aborts if it is collected while its devices live.
 * @param {{ swiftshader?: boolean, dawnFlags?: string[] }} [options]
 *   swiftshader: use SwiftShader's Vulkan driver (sets VK_ICD_FILENAMES unless already set; needs
 *   libvulkan1 and the chromium package); default: when WEBSD_SWIFTSHADER=1.
 *   dawnFlags: Dawn options; default DAWN_TOGGLES.
 * @returns {Promise<GPU>}
 */
export async function nodeGpu(options = {}) {
  if (instance) return instance;
  const swiftshader = options.swiftshader ?? process.env.WEBSD_SWIFTSHADER === '1';
  if (swiftshader && !process.env.VK_ICD_FILENAMES) {
    if (!existsSync(SWIFTSHADER_ICD)) {
      throw new Error(`node_gpu: ${SWIFTSHADER_ICD} is missing; run scripts/install_web_deps.sh`);
    }
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;  // read by the Vulkan loader when Dawn starts
  }
  let dawn;
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new Error(`node_gpu: cannot load the npm package 'webgpu' (run scripts/install_web_deps.sh): ${e}`);
  }
  Object.assign(globalThis, dawn.globals);
  instance = dawn.create(options.dawnFlags ?? DAWN_TOGGLES);
  return /** @type {GPU} */ (instance);
}
