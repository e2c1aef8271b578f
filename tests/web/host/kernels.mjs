// Kernels, inputs and JS references shared by the Node test and the Chromium page.

/** y = a·x + b over n floats; bindings x, y, uniforms { n, a, b }. */
export const SAXPY_WGSL = /* wgsl */ `
struct Params { n: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n) {
    y[gid.x] = p.a * x[gid.x] + p.b;
  }
}
`;

/** C[M, N] = A[M, K] · B[K, N], 16×16 tiles through workgroup memory; uniforms { M, N, K }. */
export const MATMUL_WGSL = /* wgsl */ `
struct Dims { M: u32, N: u32, K: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> d: Dims;

const T: u32 = 16u;
var<workgroup> tileA: array<array<f32, 16>, 16>;
var<workgroup> tileB: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.y * T + lid.y;
  let col = wg.x * T + lid.x;
  var acc = 0.0;
  for (var t = 0u; t < (d.K + T - 1u) / T; t++) {
    let ka = t * T + lid.x;
    let kb = t * T + lid.y;
    tileA[lid.y][lid.x] = select(0.0, A[row * d.K + ka], row < d.M && ka < d.K);
    tileB[lid.y][lid.x] = select(0.0, B[kb * d.N + col], kb < d.K && col < d.N);
    workgroupBarrier();
    for (var k = 0u; k < T; k++) {
      acc += tileA[lid.y][k] * tileB[k][lid.x];
    }
    workgroupBarrier();
  }
  if (row < d.M && col < d.N) {
    C[row * d.N + col] = acc;
  }
}
`;

export const M = 37, K = 53, N = 29;

/** n values k/8 with k in [-8, 8] from a small LCG: every product and sum below is exact in f32. */
export function dyadic(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 16) % 17 - 8) / 8;
  }
  return out;
}

export function matmulRef(a, b, m, k, n) {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

export const u32s = (...v) => new Uint8Array(new Uint32Array(v).buffer);
export const bytesOf = (f32) => new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
export const floatsOf = (u8) => new Float32Array(u8.buffer, u8.byteOffset, u8.byteLength / 4);

/** Runs the 37×53×29 matmul through a gpu host; returns C as a Float32Array. */
export async function runMatmul(host) {
  const a = dyadic(M * K, 1), b = dyadic(K * N, 2);
  const ida = host.createBuffer(a.byteLength), idb = host.createBuffer(b.byteLength);
  const idc = host.createBuffer(M * N * 4);
  host.writeBuffer(ida, 0, bytesOf(a));
  host.writeBuffer(idb, 0, bytesOf(b));
  const pipe = host.createPipeline(MATMUL_WGSL, 'main');
  host.dispatch(pipe, [{ buffer: ida }, { buffer: idb }, { buffer: idc }], u32s(M, N, K),
    Math.ceil(N / 16), Math.ceil(M / 16), 1);
  const c = floatsOf(await host.readBuffer(idc, 0, M * N * 4));
  for (const id of [ida, idb, idc]) host.destroyBuffer(id);
  return c;
}
