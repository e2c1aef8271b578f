// Types of websd's package entry (index.mjs); `make lint` checks them with tsc against
// tests/web/lib/package_types.ts.

/** A model file's progress, as transformers.js' progress_callback events. */
export interface ProgressEvent {
  status: 'initiate' | 'download' | 'progress' | 'done' | 'ready';
  /** The model's URL or folder. */
  name: string;
  file?: string;
  loaded?: number;
  total?: number;
  /** Percent of this file, 0–100. */
  progress?: number;
  /** On 'done': whether the file came from the cache. */
  fromCache?: boolean;
  /** The whole model's bytes so far and in all. */
  loadedBytes: number;
  totalBytes: number;
}

export type Device = 'auto' | 'webgpu' | 'cpu';

export interface LoadOptions {
  /** 'auto' (default): WebGPU where it comes up, else the CPU, said in `notice`; 'webgpu': an error without it. */
  device?: Device;
  progressCallback?: (event: ProgressEvent) => void;
  /** 'f32': float32 kernels only, even where the GPU has float16 tensor cores. */
  precision?: 'auto' | 'f32';
  /** A generate() while one runs: 'queue' (default) waits its turn, 'reject' rejects. */
  busy?: 'queue' | 'reject';
  /** Browsers: run the engine in a worker of its own (default: true; false with gpu, cache or fetch objects). */
  worker?: boolean;
  /** A GPU object other than navigator.gpu (in Node: Dawn's, from the `webgpu` package). */
  gpu?: GPU;
  /** Where the engine's .mjs (and its .wasm beside it) is, if not in the package. */
  moduleUrl?: string | URL;
  /** The Cache API object to use, or false for none (in Node: a folder, $WEBSD_CACHE or ~/.cache/websd). */
  cache?: unknown;
  fetch?: typeof fetch;
  maxBytesInFlight?: number;
  maxConcurrent?: number;
}

/** RGBA bytes, ready for `new ImageData(data, width, height)`. */
export interface RgbaImage {
  width: number;
  height: number;
  channels: 4;
  data: Uint8ClampedArray<ArrayBuffer>;
}

export interface StepInfo {
  step: number;
  total: number;
  /** This step's time in milliseconds. */
  ms: number;
  /** Every previewEvery steps: the latents as colours, a pixel per latent. */
  preview: RgbaImage | null;
}

export interface GenerateOptions {
  prompt: string;
  negativePrompt?: string;
  width?: number;
  height?: number;
  steps?: number;
  cfgScale?: number;
  /** Omitted: a random one, returned in the result. */
  seed?: number | bigint;
  /** A scheduler preset (omitted: the model's own scheduler). */
  sampler?: 'pndm' | 'dpm++2m' | 'dpm++2m-karras' | 'euler' | 'euler-karras' | 'ddim' | 'lcm';
  /** Stops the run inside the stage under way (text encoder, UNet step, VAE decode). */
  signal?: AbortSignal;
  onStep?: (info: StepInfo) => void;
  previewEvery?: number;
  clipSkip?: number;
  vaeTiling?: boolean;
  vaeTileSize?: number;
  vaeMemoryBudgetMiB?: number;
}

/** AUTOMATIC1111's settings of a picture (what its PNG's `parameters` chunk says). */
export interface Parameters {
  prompt: string;
  negativePrompt: string;
  steps: number;
  sampler: string;
  scheduleType: string;
  cfgScale: number;
  seed: number | bigint;
  width: number;
  height: number;
  clipSkip: number;
  model: string;
}

export interface Stage {
  name: 'text_encoder' | 'unet_step' | 'vae_decode';
  ms: number;
  kernels: number;
  peakBytes: number;
  pipelines: number;
  compileMs: number;
}

export interface GenerateResult {
  image: RgbaImage;
  seed: number | bigint;
  parameters: Parameters;
  stages: Stage[];
  device: 'webgpu' | 'cpu';
  notice: string | null;
  /** The GPU host's counters after the run (live buffers and bytes, pipelines…); null on the CPU. */
  gpu: GpuCounters | null;
}

export interface GpuCounters {
  dispatches: number;
  submits: number;
  bytesAllocated: number;
  peakBytesAllocated: number;
  pipelines: number;
  /** Bind groups created so far. */
  bindGroups: number;
  buffers: number;
  /** Bind groups kept for reuse now (at most 8192, the least recently used forgotten first). */
  bindGroupsKept: number;
}

export interface StableDiffusion {
  readonly device: 'webgpu' | 'cpu';
  readonly notice: string | null;
  readonly model: string;
  /** The model's model.json: family, default size, files and their sizes. */
  readonly info: Record<string, unknown>;
  generate(options: GenerateOptions): Promise<GenerateResult>;
  /** The picture as PNG bytes with its settings as AUTOMATIC1111's `parameters` text chunk. */
  png(result: GenerateResult): Uint8Array;
  dispose(): void;
}

export interface Detection {
  webgpu: boolean;
  /** Why there is no WebGPU. */
  reason: string | null;
  adapter: { vendor: string; architecture: string; device: string; description: string } | null;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  } | null;
  shaderF16: boolean;
  subgroupMatrix: boolean;
  /** float16 × float16 → float32 subgroup matrices of 16×16×16: the fast path. */
  tensorCores: boolean;
  /** A software adapter (no GPU). */
  software: boolean;
  /** What each model family needs at its native size; WebGPU does not report a GPU's memory. */
  models: { family: string; size: number; gpuMemoryMiB: number; limitsAllow: boolean }[];
}

export function loadModel(url: string | URL, options?: LoadOptions): Promise<StableDiffusion>;
export function detect(options?: { gpu?: GPU }): Promise<Detection>;
/** A PNG's AUTOMATIC1111 `parameters` text, parsed; null where it has none. */
export function readPngSettings(png: ArrayBuffer | Uint8Array, options?: { moduleUrl?: string | URL }): Promise<Parameters | null>;
export function isCached(url: string | URL, options?: { dir?: string; caches?: CacheStorage }): Promise<boolean>;
/** Removes the model's entries from the cache; returns how many. */
export function purge(url: string | URL, options?: { dir?: string; caches?: CacheStorage }): Promise<number>;
