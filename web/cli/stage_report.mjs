// The per-stage report both CLIs print after a generation and write with --report. The native
// CLI's src/cli/stage_report.cpp prints the same line and the same JSON; keep them in step.

/**
 * @typedef {{ name: string, ms: number, kernels: number, peakBytes: number, pipelines: number,
 *   compileMs: number }} Stage
 */

/**
 * One line: text encoder ms; UNet steps (count, mean and min ms); VAE decode ms; kernels; peak; and
 * where GPU pipelines were compiled, how many and how long that took.
 */
export function formatStages(backend, /** @type {Stage[]} */ stages) {
  const of = (name) => stages.filter((s) => s.name === name);
  const sum = (list) => list.reduce((t, s) => t + s.ms, 0);
  const unet = of('unet_step').map((s) => s.ms);
  const mean = unet.length ? sum(of('unet_step')) / unet.length : 0;
  const min = unet.length ? Math.min(...unet) : 0;
  const kernels = stages.reduce((t, s) => t + s.kernels, 0);
  const peak = stages.reduce((m, s) => Math.max(m, s.peakBytes), 0);
  const pipelines = stages.reduce((t, s) => t + s.pipelines, 0);
  const compiled = pipelines ? `; ${pipelines} pipelines compiled in ${stages.reduce((t, s) => t + s.compileMs, 0).toFixed(1)} ms` : '';
  return `text encoder ${sum(of('text_encoder')).toFixed(1)} ms; unet ${unet.length} steps, mean ${mean.toFixed(1)} ms, ` +
    `min ${min.toFixed(1)} ms; vae decode ${sum(of('vae_decode')).toFixed(1)} ms; ${kernels} kernels; ` +
    `peak ${backend} memory ${(peak / 2 ** 20).toFixed(1)} MiB${compiled}`;
}

/** With --runs N > 1: "runs: 12.493 s, 8.210 s, ..." — each whole generation's wall time. */
export function formatRuns(/** @type {number[]} */ runSeconds) {
  return `runs: ${runSeconds.map((s) => `${s.toFixed(3)} s`).join(', ')}`;
}

/**
 * --profile's tables: the kernel kinds (a pipeline key up to its first ':', e.g. `tc-gemm`,
 * `attention`) by GPU time in the last run, then the 30 longest kernels (whole pipeline keys, one
 * shape each); or why there is none.
 * @param {{ name: string, ms: number, dispatches: number }[] | null} rows
 */
export function formatProfile(rows) {
  if (!rows) return 'kernel profile: this device has no timestamp-query';
  const total = rows.reduce((sum, r) => sum + r.ms, 0);
  /** @type {Map<string, { name: string, ms: number, dispatches: number }>} */
  const kinds = new Map();
  for (const r of rows) {
    const name = r.name.split(':')[0];
    const kind = kinds.get(name) ?? { name, ms: 0, dispatches: 0 };
    kind.ms += r.ms;
    kind.dispatches += r.dispatches;
    kinds.set(name, kind);
  }
  const line = (/** @type {{ name: string, ms: number, dispatches: number }} */ r) =>
    `${r.ms.toFixed(2).padStart(9)} ms ${(100 * r.ms / total).toFixed(1).padStart(5)} % ` +
    `${String(r.dispatches).padStart(6)}x  ${r.name.length > 110 ? `${r.name.slice(0, 107)}...` : r.name}`;
  return [`kernel profile (GPU timestamps, one pass per dispatch): ${total.toFixed(1)} ms in ${rows.length} kernels`,
    'by kind:', ...[...kinds.values()].sort((a, b) => b.ms - a.ms).map(line),
    'longest kernels:', ...rows.slice(0, 30).map(line)].join('\n');
}

/**
 * @typedef {{ residentBytes: number, heapBytes: number, wasmBytes: number, gpu: object | null }} RunMemory
 *   after a run: the process's resident memory, the JS heap's live bytes, the engine's wasm memory,
 *   the GPU host's counters (buffers, bytesAllocated, pipelines, ...; null on the CPU)
 */

/**
 * The --report file: { backend, stages: [{ name, ms, kernels, peakBytes, pipelines, compileMs }] (the
 * last run's), runSeconds, runResidentBytes (as the native CLI's), runMemory }: a soak's record of
 * every run.
 */
export function stagesJson(backend, /** @type {Stage[]} */ stages, /** @type {number[]} */ runSeconds,
                           /** @type {RunMemory[]} */ runMemory) {
  const runResidentBytes = runMemory.map((m) => m.residentBytes);
  return `${JSON.stringify({ backend, stages, runSeconds, runResidentBytes, runMemory }, null, 2)}\n`;
}
