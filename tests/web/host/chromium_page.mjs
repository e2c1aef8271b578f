// The test page's script (chromium_page.html): a file, not inline, as static_server.mjs's
// Content-Security-Policy allows no inline script.
import { createGpuHost } from '/web/host/gpu_host.mjs';
import { runMatmul, SAXPY_WGSL } from '/tests/web/host/kernels.mjs';
const out = document.getElementById('out');
try {
  if (!navigator.gpu) throw new Error('navigator.gpu is missing (WebGPU disabled?)');
  const host = createGpuHost(navigator.gpu, { mapTimeoutMs: 20000 });
  const info = await host.init({ requiredFeatures: ['shader-f16'] });
  const c = await runMatmul(host);
  // Errors must surface the same way as under Node: a compile error with its line number, a
  // validation error as a rejected promise.
  host.createPipeline('@compute @workgroup_size(1)\nfn main() {\n  let x = ;\n}\n', 'main');
  const compileError = await host.finish().then(() => 'no error', (e) => e.message);
  const pipe = host.createPipeline(SAXPY_WGSL, 'main');
  const x = host.createBuffer(4096), y = host.createBuffer(4096);
  host.dispatch(pipe, [{ buffer: x, offset: 4, size: 1024 }, { buffer: y }], new Uint8Array(12), 4, 1, 1);
  const validationError = await host.readBuffer(y, 0, 16).then(() => 'no error', (e) => e.message);
  host.destroyBuffer(x);
  host.destroyBuffer(y);
  window.__result = { ok: true, adapterInfo: info.adapterInfo, features: info.features,
    c: Array.from(c), stats: host.stats(), compileError, validationError };
  host.destroy();
} catch (e) {
  window.__result = { ok: false, error: String(e && e.stack || e) };
}
out.textContent = JSON.stringify(window.__result).slice(0, 500);
