// The JavaScript GPU host: owns every WebGPU object in tables and hands out integer handles, so
// the C++ WebGpuBackend (inside wasm) drives the GPU through a few calls with plain numbers and
// byte arrays. Works with `navigator.gpu` in browsers and with Dawn's `webgpu` package in Node
// (see node_gpu.mjs).
//
// Errors: WebGPU reports most problems asynchronously (validation errors, shader compilation,
// out of memory, device loss). The host records the first one as a JS Error and throws it from
// the next host call or awaited operation (`readBuffer`, `finish`), never hangs and never drops
// it. A validation error is thrown once; device loss is permanent, so it is thrown by every call
// after it. Mistakes the host can see itself (unknown handle, binding past the end of a buffer,
// buffer over the device limit) throw at once.

/** Storage buffers: read and written by kernels, filled by writeBuffer, read back by readBuffer. */
const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Limits raised to the adapter's best value when the device is requested. */
const RAISED_LIMITS = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxUniformBufferBindingSize',
  'maxStorageBuffersPerShaderStage', 'maxUniformBuffersPerShaderStage', 'maxBindingsPerBindGroup',
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
];

const align = (n, a) => Math.ceil(n / a) * a;

/**
 * What the tensor-core kernels need (src/backend/webgpu/kernels/tensor_core_gemm.h): float16 in
 * shaders and subgroup matrices. Chromium exposes subgroup matrices as an experiment; Dawn in Node
 * only with the toggles node_gpu.mjs sets.
 * @type {GPUFeatureName[]}
 */
export const TENSOR_CORE_FEATURES = /** @type {any} */ (['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']);

/**
 * The device (or adapter) has the features and a float16 × float16 → float32 subgroup matrix of
 * 16×16×16, and its subgroups are of one width (the kernels assume the device's width).
 * @param {{ features: GPUSupportedFeatures }} dev
 * @param {any} info the adapter's GPUAdapterInfo
 */
export function hasTensorCores(dev, info) {
  const configs = /** @type {any[]} */ (info.subgroupMatrixConfigs ?? []);
  return TENSOR_CORE_FEATURES.every((f) => dev.features.has(f)) && info.subgroupMinSize > 0 &&
    info.subgroupMinSize === info.subgroupMaxSize && configs.some((c) => c.M === 16 && c.N === 16 && c.K === 16 &&
      c.componentType === 'f16' && c.resultComponentType === 'f32');
}

/**
 * @typedef {{ buffer: number, offset?: number, size?: number }} Binding
 *   A range of a host buffer; offset defaults to 0, size to the rest of the buffer.
 * @typedef {{ dispatches: number, submits: number, bytesAllocated: number,
 *   peakBytesAllocated: number, pipelines: number, bindGroups: number, buffers: number, bindGroupsKept: number }} HostStats
 *   bindGroups: bind groups created (a dispatch with the pipeline, buffer ranges and uniform slot of
 *   an earlier one reuses its group); bindGroupsKept: those kept for reuse now.
 * @typedef {{ maxDispatchesPerSubmit?: number, mapTimeoutMs?: number, label?: string, profile?: boolean,
 *   maxBindGroups?: number }} HostOptions
 */

/** The field names of a source's `struct Dims { A: u32, B: u32, }`, or none. */
function dimNames(/** @type {string} */ source) {
  const body = /struct Dims \{([^}]*)\}/.exec(source)?.[1] ?? '';
  return body.split(',').map((f) => f.split(':')[0].trim()).filter(Boolean);
}

/**
 * @param {GPU} gpu `navigator.gpu`, or the object from node_gpu.mjs's nodeGpu(). The host keeps a
 *   reference to it for as long as the host lives (Dawn needs that in Node).
 * @param {HostOptions} [options] maxDispatchesPerSubmit (default 64): dispatches recorded before
 *   an automatic submit; mapTimeoutMs (default 30000): how long readBuffer waits for the GPU;
 *   profile: time every dispatch with timestamp queries where the device has them (see profile());
 *   maxBindGroups (default 8192): bind groups kept for reuse, the least recently used forgotten
 *   first (an SDXL UNet step makes 2303 dispatches, so it binds fewer distinct groups).
 */
export function createGpuHost(gpu, options = {}) {
  const maxDispatchesPerSubmit = options.maxDispatchesPerSubmit ?? 64;
  const mapTimeoutMs = options.mapTimeoutMs ?? 30000;
  const label = options.label ?? 'websd';
  const maxBindGroups = options.maxBindGroups ?? 8192;

  /** @type {GPUDevice | null} */ let device = null;
  /** @type {Map<number, { buffer: GPUBuffer, size: number }>} */ const buffers = new Map();
  /** @type {Map<number, { pipeline: GPUComputePipeline, layout: GPUBindGroupLayout, source: string, name: string, dims: string[] }>} */
  const pipelines = new Map();
  /** @type {Map<string, number>} */ const pipelineCache = new Map();  // entryPoint + source → id
  /** @type {Map<number, Uint8Array>} */ const staged = new Map();  // stageBytes
  let nextId = 1;  // 0 is never a valid handle, so C++ can use it as "none"

  // The batch being recorded: one encoder, one compute pass, uniforms packed into one buffer.
  /** @type {GPUCommandEncoder | null} */ let encoder = null;
  /** @type {GPUComputePassEncoder | null} */ let pass = null;
  let batchDispatches = 0;
  let uniformAlign = 256;
  let uniformCapacity = 64 * 1024;
  /** @type {GPUBuffer | null} */ let uniformBuffer = null;
  let uniformStaging = new Uint8Array(uniformCapacity);
  let uniformUsed = 0;
  /** @type {GPUBuffer[]} */ let destroyAfterSubmit = [];

  /** @type {Error | null} */ let pendingError = null;
  /** @type {Error | null} */ let lostError = null;
  /** @type {Set<Promise<void>>} */ const pendingChecks = new Set();
  let destroyed = false;
  // profile: the timestamp query set (two per dispatch of a batch), each batch's kernel names, the
  // totals per name; null when not profiling.
  /** @type {{ querySet: GPUQuerySet, names: string[], totals: Map<string, { ns: number, dispatches: number }> } | null} */
  let timing = null;
  let tensorCores = false;
  let subgroupSize = 0;
  // The error scopes around the batch being recorded: its first and last pipelines, its dispatches.
  /** @type {{ first: number, last: number, dispatches: number } | null} */
  let batchScope = null;
  // Bind groups by pipeline, buffer ranges and uniform slot, the least recently used first, and
  // the keys that use each buffer (a buffer's bind groups go with it). Bounded: a page left open
  // whose bindings never repeat must not pile up GPU objects.
  /** @type {Map<string, { group: GPUBindGroup, buffers: number[] }>} */ const bindGroups = new Map();
  /** @type {Map<number, Set<string>>} */ const bindGroupsOf = new Map();
  function forgetBindGroup(/** @type {string} */ key) {
    for (const id of bindGroups.get(key)?.buffers ?? []) {
      const keys = bindGroupsOf.get(id);
      keys?.delete(key);
      if (keys?.size === 0) bindGroupsOf.delete(id);
    }
    bindGroups.delete(key);
  }

  const counters = { dispatches: 0, submits: 0, bytesAllocated: 0, peakBytesAllocated: 0, pipelines: 0, bindGroups: 0 };

  /** Keeps the first error; later ones are usually consequences of it. */
  function record(/** @type {Error} */ err) {
    if (!pendingError) pendingError = err;
  }
  // An allocation the GPU could not make says what would help, since the engine asked for no more
  // than the device's limits allow.
  const gpuError = (/** @type {string} */ what, /** @type {GPUError} */ e) => {
    const kind = e.constructor?.name ?? 'error';
    const hint = kind === 'GPUOutOfMemoryError' ?
      ' (the GPU is out of memory: close other tabs or programs using it, or ask for less: a smaller picture, VAE tiling)' : '';
    return new Error(`WebGPU ${kind} in ${what}: ${e.message.trim()}${hint}`);
  };

  /** Throws the recorded error, if any; called at the start of every host call. */
  function check() {
    if (lostError) throw lostError;
    if (!device) throw new Error('gpu host: init() has not completed');
    if (pendingError) {
      const err = pendingError;
      pendingError = null;
      throw err;
    }
  }

  /** Tracks a promise that may record an error, so awaited operations can wait for it. */
  function track(/** @type {Promise<void>} */ p) {
    const tracked = p.catch((e) => record(e instanceof Error ? e : new Error(String(e))))
      .finally(() => pendingChecks.delete(tracked));
    pendingChecks.add(tracked);
  }

  /** Runs fn inside validation and out-of-memory error scopes; errors are recorded. */
  function scoped(/** @type {string} */ what, /** @type {() => any} */ fn) {
    const dev = /** @type {GPUDevice} */ (device);
    dev.pushErrorScope('out-of-memory');
    dev.pushErrorScope('validation');
    try {
      return fn();
    } finally {
      const validation = dev.popErrorScope();
      const oom = dev.popErrorScope();
      track(Promise.all([validation, oom]).then(([v, o]) => {
        if (v) record(gpuError(what, v));
        if (o) record(gpuError(what, o));
      }));
    }
  }

  function buffer(/** @type {number} */ id, /** @type {string} */ what) {
    const b = buffers.get(id);
    if (!b) throw new Error(`gpu host: ${what}: unknown buffer id ${id}`);
    return b;
  }

  function withTimeout(/** @type {Promise<any>} */ p, /** @type {string} */ what) {
    /** @type {any} */ let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(lostError ?? pendingError ?? new Error(
        `gpu host: ${what} did not finish within ${mapTimeoutMs} ms (GPU hung or device lost?)`)), mapTimeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** Ends the pass and finishes the batch into a command buffer (with `extra` commands appended). */
  function submit(/** @type {((e: GPUCommandEncoder) => void) | null} */ extra) {
    const dev = /** @type {GPUDevice} */ (device);
    if (!encoder && !extra) return;
    const finish = () => {
      const enc = encoder ?? dev.createCommandEncoder({ label });
      pass?.end();
      const timed = timing && timing.names.length > 0 ? copyTimestamps(enc, timing.names) : null;
      if (extra) extra(enc);
      if (uniformUsed > 0) dev.queue.writeBuffer(/** @type {GPUBuffer} */ (uniformBuffer), 0, uniformStaging, 0, uniformUsed);
      dev.queue.submit([enc.finish()]);
      timed?.();
    };
    // Inside an open batch's scopes: finish() repeats a bad dispatch's error, which is the batch's.
    if (batchScope) finish();
    else scoped('submit', finish);
    if (batchScope) {
      const { first, last, dispatches } = batchScope;
      const what = `dispatch(pipeline ${first})` + (dispatches > 1 ? ` or a later one of its batch (${dispatches} ` +
        `dispatches, the last of pipeline ${last})` : '');
      const validation = dev.popErrorScope();
      const oom = dev.popErrorScope();
      track(Promise.all([validation, oom]).then(([v, o]) => {
        if (v) record(gpuError(what, v));
        if (o) record(gpuError(what, o));
      }));
      batchScope = null;
    }
    counters.submits++;
    encoder = null;
    pass = null;
    batchDispatches = 0;
    uniformUsed = 0;
    for (const b of destroyAfterSubmit) b.destroy();
    destroyAfterSubmit = [];
  }

  /**
   * Copies the batch's timestamps out of the query set; the function it returns, called once the
   * batch is submitted, adds each dispatch's time to its kernel's total when the GPU has run it
   * (profile()).
   */
  function copyTimestamps(/** @type {GPUCommandEncoder} */ enc, /** @type {string[]} */ names) {
    const dev = /** @type {GPUDevice} */ (device);
    const t = /** @type {NonNullable<typeof timing>} */ (timing);
    const bytes = names.length * 16;
    const resolved = dev.createBuffer({ label: `${label} timestamps`, size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readable = dev.createBuffer({ label: `${label} timestamps read`, size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.resolveQuerySet(t.querySet, 0, names.length * 2, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, readable, 0, bytes);
    destroyAfterSubmit.push(resolved);
    t.names = [];
    return () => track(readable.mapAsync(GPUMapMode.READ).then(() => {
      const stamps = new BigInt64Array(readable.getMappedRange());
      names.forEach((name, i) => {
        const total = t.totals.get(name) ?? { ns: 0, dispatches: 0 };
        total.ns += Math.max(0, Number(stamps[2 * i + 1] - stamps[2 * i]));
        total.dispatches++;
        t.totals.set(name, total);
      });
      readable.destroy();
    }));
  }

  /**
   * One kernel serves every size of an op, reading them from a uniform `struct Dims` of u32 fields
   * (src/backend/webgpu/kernels/dims.h): the profile names a dispatch by its kernel and sizes, so
   * that the same kernel at different shapes is timed apart.
   * @param {{ name: string, dims: string[] }} p @param {Uint8Array | null | undefined} uniformBytes
   */
  function profileName(p, uniformBytes) {
    if (!p.dims.length || !uniformBytes || uniformBytes.byteLength < p.dims.length * 4) return p.name;
    const view = new DataView(uniformBytes.buffer, uniformBytes.byteOffset, uniformBytes.byteLength);
    return `${p.name} ${p.dims.map((field, i) => `${field}=${view.getUint32(i * 4, true)}`).join(' ')}`;
  }

  /** Returns the byte offset in the uniform buffer where `bytes` will be when the batch is submitted. */
  function stageUniforms(/** @type {Uint8Array} */ bytes) {
    const dev = /** @type {GPUDevice} */ (device);
    const slot = align(Math.max(bytes.byteLength, 16), uniformAlign);
    if (uniformUsed + slot > uniformCapacity) {
      if (uniformUsed > 0) submit(null);  // the buffer is full: submit what uses it
      if (slot > uniformCapacity) {        // grow for one big uniform block
        uniformCapacity = align(slot, 64 * 1024);
        uniformStaging = new Uint8Array(uniformCapacity);
        uniformBuffer?.destroy();
        uniformBuffer = null;
        bindGroups.clear();  // they hold the old uniform buffer
        bindGroupsOf.clear();
      }
    }
    uniformBuffer ??= dev.createBuffer({ label: `${label} uniforms`, size: uniformCapacity,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const offset = uniformUsed;
    uniformStaging.set(bytes, offset);
    uniformStaging.fill(0, offset + bytes.byteLength, offset + slot);
    uniformUsed += slot;
    return { offset, size: slot };
  }

  return {
    /**
     * Requests the adapter and a device with the adapter's best limits.
     * @param {{ requiredFeatures?: GPUFeatureName[], powerPreference?: GPUPowerPreference,
     *   precision?: 'auto' | 'f32' }} [opts]
     *   requiredFeatures: features to enable where the adapter has them; those it lacks are left
     *   out (check the returned `features`). By default the tensor-core features (TENSOR_CORE_FEATURES).
     *   precision: 'auto' (default) lets the engine multiply on the tensor cores in float16 where the
     *   device can (`tensorCores` in the result); 'f32' keeps every kernel in float32.
     */
    async init(opts = {}) {
      if (device) throw new Error('gpu host: init() called twice');
      const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : {});
      if (!adapter) throw new Error('gpu host: no WebGPU adapter (no GPU, or WebGPU disabled in this browser)');
      /** @type {Record<string, number>} */ const requiredLimits = {};
      for (const k of RAISED_LIMITS) {
        const v = /** @type {any} */ (adapter.limits)[k];
        if (typeof v === 'number') requiredLimits[k] = v;
      }
      const precision = opts.precision ?? 'auto';
      if (precision !== 'auto' && precision !== 'f32') {
        throw new Error(`gpu host: precision '${precision}' is not 'auto' or 'f32'`);
      }
      const wanted = [...(opts.requiredFeatures ?? TENSOR_CORE_FEATURES), ...(options.profile ? ['timestamp-query'] : [])];
      const requiredFeatures = /** @type {GPUFeatureName[]} */ (wanted).filter((f) => adapter.features.has(f));
      const dev = await adapter.requestDevice({ label, requiredLimits, requiredFeatures });
      device = dev;
      dev.lost.then((info) => {
        if (!destroyed) lostError = new Error(`WebGPU device lost (${info.reason}): ${info.message}`);
      });
      dev.addEventListener('uncapturederror', (/** @type {any} */ ev) => {
        ev.preventDefault?.();
        record(gpuError('a host call', ev.error));
      });
      uniformAlign = dev.limits.minUniformBufferOffsetAlignment;
      if (options.profile && dev.features.has('timestamp-query')) {
        timing = { querySet: dev.createQuerySet({ label: `${label} timestamps`, type: 'timestamp',
          count: 2 * maxDispatchesPerSubmit }), names: [], totals: new Map() };
      }
      const info = adapter.info ?? {};
      tensorCores = precision === 'auto' && hasTensorCores(dev, info);
      subgroupSize = Number(info.subgroupMaxSize ?? 0);
      /** @type {Record<string, number>} */ const limits = {};
      for (const k of RAISED_LIMITS) limits[k] = /** @type {any} */ (dev.limits)[k];
      return {
        adapterInfo: { vendor: info.vendor ?? '', architecture: info.architecture ?? '',
          device: info.device ?? '', description: info.description ?? '',
          isFallbackAdapter: Boolean(info.isFallbackAdapter ?? /** @type {any} */ (adapter).isFallbackAdapter) },
        features: [...dev.features].sort(),
        limits,
        tensorCores,
      };
    },

    /** @returns {number} a buffer handle; the size is rounded up to a multiple of 4 bytes */
    createBuffer(/** @type {number} */ bytes) {
      check();
      const dev = /** @type {GPUDevice} */ (device);
      const size = align(Math.max(bytes, 4), 4);
      if (size > dev.limits.maxBufferSize) {
        throw new Error(`gpu host: createBuffer(${bytes}): larger than this device's maxBufferSize ${dev.limits.maxBufferSize}`);
      }
      const id = nextId++;
      const buf = scoped(`createBuffer(${bytes})`, () => dev.createBuffer({ label: `${label} buffer ${id}`, size,
        usage: STORAGE_USAGE() }));
      buffers.set(id, { buffer: buf, size });
      counters.bytesAllocated += size;
      counters.peakBytesAllocated = Math.max(counters.peakBytesAllocated, counters.bytesAllocated);
      return id;
    },

    /** Frees the handle now; the GPU memory goes once work already recorded that uses it is submitted. */
    destroyBuffer(/** @type {number} */ id) {
      check();
      const b = buffer(id, 'destroyBuffer');
      buffers.delete(id);
      for (const key of [...(bindGroupsOf.get(id) ?? [])]) forgetBindGroup(key);
      counters.bytesAllocated -= b.size;
      if (encoder) destroyAfterSubmit.push(b.buffer);
      else b.buffer.destroy();
    },

    /** Writes bytes in program order: dispatches recorded before this call see the old contents. */
    writeBuffer(/** @type {number} */ id, /** @type {number} */ byteOffset, /** @type {Uint8Array} */ data) {
      check();
      const b = buffer(id, 'writeBuffer');
      if (byteOffset % 4 !== 0 || data.byteLength % 4 !== 0 || byteOffset + data.byteLength > b.size) {
        throw new Error(`gpu host: writeBuffer(${id}, ${byteOffset}, ${data.byteLength} bytes): needs offset and length ` +
          `multiples of 4 inside the buffer's ${b.size} bytes`);
      }
      if (encoder) submit(null);  // queue writes run before unsubmitted commands: keep program order
      const dev = /** @type {GPUDevice} */ (device);
      scoped(`writeBuffer(${id})`, () => dev.queue.writeBuffer(b.buffer, byteOffset, data));
    },

    /**
     * Keeps bytes (a verified weight shard) under a staging id until releaseStaged, so the engine
     * can have them written to buffers without copying them into WebAssembly memory.
     * @param {Uint8Array} bytes
     * @returns {number} the staging id
     */
    stageBytes(bytes) {
      check();
      const id = nextId++;
      staged.set(id, bytes);
      return id;
    },

    releaseStaged(/** @type {number} */ id) {
      staged.delete(id);
    },

    /** writeBuffer from [srcOffset, srcOffset + size) of staged bytes. */
    writeBufferStaged(/** @type {number} */ id, /** @type {number} */ byteOffset, /** @type {number} */ stagedId,
      /** @type {number} */ srcOffset, /** @type {number} */ size) {
      const bytes = staged.get(stagedId);
      if (!bytes) throw new Error(`gpu host: writeBufferStaged: unknown staging id ${stagedId}`);
      if (srcOffset + size > bytes.byteLength) {
        throw new Error(`gpu host: writeBufferStaged: bytes [${srcOffset}, ${srcOffset + size}) are past the end of ` +
          `staging id ${stagedId} (${bytes.byteLength} bytes)`);
      }
      this.writeBuffer(id, byteOffset, bytes.subarray(srcOffset, srcOffset + size));
    },

    /**
     * Compiles a compute pipeline (layout 'auto': every binding the shader declares must be used by
     * the entry point); `name` names it in profile(). The same source and entry point give the same
     * handle without recompiling.
     * Compilation errors, with line:column, are thrown by the next call or awaited operation.
     * @returns {number} a pipeline handle
     */
    createPipeline(/** @type {string} */ wgslSource, /** @type {string} */ entryPoint, name = entryPoint) {
      check();
      const key = `${entryPoint}\n${wgslSource}`;
      const cached = pipelineCache.get(key);
      if (cached !== undefined) return cached;
      const dev = /** @type {GPUDevice} */ (device);
      const id = nextId++;
      dev.pushErrorScope('validation');
      const module = dev.createShaderModule({ label: `${label} ${entryPoint}`, code: wgslSource });
      const pipeline = dev.createComputePipeline({ label: `${label} ${entryPoint}`, layout: 'auto',
        compute: { module, entryPoint } });
      const layout = pipeline.getBindGroupLayout(0);
      const scope = dev.popErrorScope();
      track(Promise.all([module.getCompilationInfo(), scope]).then(([info, err]) => {
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length === 0 && !err) return;
        pipelineCache.delete(key);
        const lines = wgslSource.split('\n');
        const text = errors.map((m) => `  ${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1] ?? ''}`);
        record(new Error(`WGSL compilation of entry point '${entryPoint}' failed:\n` +
          (text.length ? text.join('\n') : `  ${err?.message.trim()}`)));
      }));
      pipelines.set(id, { pipeline, layout, source: wgslSource, name, dims: dimNames(wgslSource) });
      pipelineCache.set(key, id);
      counters.pipelines++;
      return id;
    },

    /**
     * Records one dispatch into the current batch (submitted every maxDispatchesPerSubmit dispatches
     * or on flush). Bindings are group 0, bindings 0..n-1 in order; uniformBytes, when given, is
     * binding n as a uniform buffer.
     * @param {number} pipelineId
     * @param {Binding[]} bindings
     * @param {Uint8Array | null | undefined} uniformBytes
     * @param {number} x @param {number} y @param {number} z workgroup counts
     */
    dispatch(pipelineId, bindings, uniformBytes, x, y = 1, z = 1) {
      check();
      const p = pipelines.get(pipelineId);
      if (!p) throw new Error(`gpu host: dispatch: unknown pipeline id ${pipelineId}`);
      const dev = /** @type {GPUDevice} */ (device);
      // The bind group of the same pipeline, buffer ranges and uniform slot is reused: a UNet step
      // repeats the previous step's dispatches on the pooled buffers.
      let key = `${pipelineId}`;
      /** @type {GPUBindGroupEntry[]} */ const entries = bindings.map((bd, i) => {
        const b = buffer(bd.buffer, `dispatch binding ${i}`);
        const offset = bd.offset ?? 0;
        const size = bd.size ?? b.size - offset;
        if (offset < 0 || size <= 0 || offset + size > b.size) {
          throw new Error(`gpu host: dispatch binding ${i}: range [${offset}, ${offset + size}) is outside ` +
            `buffer ${bd.buffer} of ${b.size} bytes`);
        }
        key += ` ${bd.buffer}:${offset}:${size}`;
        return { binding: i, resource: { buffer: b.buffer, offset, size } };
      });
      if (uniformBytes && uniformBytes.byteLength > 0) {
        const u = stageUniforms(uniformBytes);
        entries.push({ binding: entries.length,
          resource: { buffer: /** @type {GPUBuffer} */ (uniformBuffer), offset: u.offset, size: u.size } });
        key += ` u${u.offset}:${u.size}`;
      }
      // One pair of error scopes per batch, not per dispatch: pushing and popping them cost more
      // CPU time than the dispatch itself (about half of ~60 µs per dispatch under Dawn in Node).
      if (!batchScope) {
        dev.pushErrorScope('out-of-memory');
        dev.pushErrorScope('validation');
        batchScope = { first: pipelineId, last: pipelineId, dispatches: 0 };
      }
      batchScope.last = pipelineId;
      batchScope.dispatches++;
      let cached = bindGroups.get(key);
      if (cached) {
        bindGroups.delete(key);  // now the most recently used
      } else {
        cached = { group: dev.createBindGroup({ layout: p.layout, entries }), buffers: bindings.map((bd) => bd.buffer) };
        counters.bindGroups++;
        for (const id of cached.buffers) {
          const keys = bindGroupsOf.get(id) ?? new Set();
          keys.add(key);
          bindGroupsOf.set(id, keys);
        }
        if (bindGroups.size >= maxBindGroups) forgetBindGroup(/** @type {string} */ (bindGroups.keys().next().value));
      }
      bindGroups.set(key, cached);
      encoder ??= dev.createCommandEncoder({ label });
      if (timing) {  // a pass of its own, between two timestamps
        pass?.end();
        const at = timing.names.length * 2;
        pass = encoder.beginComputePass({ label,
          timestampWrites: { querySet: timing.querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 } });
        timing.names.push(profileName(p, uniformBytes));
      }
      pass ??= encoder.beginComputePass({ label });
      pass.setPipeline(p.pipeline);
      pass.setBindGroup(0, cached.group);
      pass.dispatchWorkgroups(x, y, z);
      counters.dispatches++;
      if (++batchDispatches >= maxDispatchesPerSubmit) submit(null);
    },

    /** Submits the recorded batch, if any. */
    flush() {
      check();
      submit(null);
    },

    /**
     * Submits pending work and reads `bytes` bytes of a buffer from byteOffset.
     * @returns {Promise<Uint8Array>}
     */
    async readBuffer(/** @type {number} */ id, /** @type {number} */ byteOffset, /** @type {number} */ bytes) {
      check();
      const dev = /** @type {GPUDevice} */ (device);
      const b = buffer(id, 'readBuffer');
      if (byteOffset < 0 || bytes < 0 || byteOffset + bytes > b.size) {
        throw new Error(`gpu host: readBuffer(${id}, ${byteOffset}, ${bytes}): outside the buffer's ${b.size} bytes`);
      }
      const start = byteOffset - (byteOffset % 4);
      const size = align(byteOffset + bytes, 4) - start;
      const staging = scoped('readBuffer', () => dev.createBuffer({ label: `${label} readback`, size: Math.max(size, 4),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
      submit((enc) => { if (size > 0) enc.copyBufferToBuffer(b.buffer, start, staging, 0, size); });
      try {
        await withTimeout(staging.mapAsync(GPUMapMode.READ), `readBuffer(${id})`);
        await withTimeout(Promise.all(pendingChecks), 'error checks');
        check();
        const from = byteOffset - start;
        return new Uint8Array(staging.getMappedRange(0, Math.max(size, 4))).slice(from, from + bytes);
      } catch (e) {
        // mapAsync fails when the device is lost or the copy was invalid: report the cause.
        await withTimeout(Promise.all(pendingChecks), 'error checks').catch(() => {});
        if (lostError) throw lostError;
        if (pendingError) check();
        throw e;
      } finally {
        staging.destroy();
      }
    },

    /** Submits pending work, waits for the GPU to finish it, and throws any error it caused. */
    async finish() {
      check();
      submit(null);
      await withTimeout(/** @type {GPUDevice} */ (device).queue.onSubmittedWorkDone(), 'finish');
      await withTimeout(Promise.all(pendingChecks), 'error checks');
      check();
    },

    /** Whether the engine may multiply on the tensor cores (see init's `precision`). */
    tensorCores() {
      return tensorCores;
    },

    /** The adapter's widest subgroup (0 if it does not say): the tensor-core kernels' workgroup. */
    subgroupSize() {
      return subgroupSize;
    },

    /**
     * GPU time per kernel since the last call, longest first, when the host was created with
     * `profile: true` on a device with `timestamp-query` (else null). Each dispatch then runs in a
     * compute pass of its own, timed by the GPU's timestamps: the times are for comparing kernels,
     * not a benchmark (the passes add their own cost).
     * @returns {Promise<{ name: string, ms: number, dispatches: number }[] | null>}
     */
    async profile() {
      check();
      if (!timing) return null;
      submit(null);
      await withTimeout(Promise.all(pendingChecks), 'profile');
      check();
      const rows = [...timing.totals].map(([name, t]) => ({ name, ms: t.ns / 1e6, dispatches: t.dispatches }));
      timing.totals.clear();
      return rows.sort((a, b) => b.ms - a.ms);
    },

    /** The GPUDevice itself, for tests and tools (the backend goes through the calls above). */
    gpuDevice() {
      return device;
    },

    /** @returns {Error | null} why the device was lost (a driver reset, a GPU removed), or null */
    lost() {
      return destroyed ? null : lostError;
    },

    /** @returns {HostStats} */
    stats() {
      return { ...counters, buffers: buffers.size, bindGroupsKept: bindGroups.size };
    },

    /** Destroys every buffer and the device. */
    destroy() {
      destroyed = true;
      for (const b of buffers.values()) b.buffer.destroy();
      buffers.clear();
      uniformBuffer?.destroy();
      device?.destroy();
      lostError = new Error('gpu host: destroyed');
    },
  };
}
