#include "backend/webgpu/kernels/norm.h"

#include <algorithm>

#include "core/error.h"

namespace websd::wgsl {
namespace {

std::string u32(uint32_t v) { return std::to_string(v) + "u"; }

void validate(const NormSpec& s) {
  if (s.row_size == 0 || s.groups == 0 || s.spatial == 0 || s.row_size % s.spatial != 0 || s.groups_x == 0 ||
      s.chunks == 0 || s.chunks > s.row_size || uint64_t{s.rows} * s.chunks > UINT32_MAX / 2)
    throw Error("webgpu backend: norm: rows of " + std::to_string(s.row_size) + " values do not split into " +
                std::to_string(s.spatial) + "-value channels (or into " + std::to_string(s.chunks) + " chunks)");
}

// The uniform (binding `binding`), the tree reduction and the workgroup's row and chunk, shared by
// both kernels: `row`, `chunk`, `l`, `base` (the row's first value), `c0` and `c1` (the chunk's
// range in the row).
std::string prologue(const NormSpec& s, uint32_t binding) {
  std::string src = norm_dims(s, 0.0f).declare(binding) + "const WG: u32 = " + u32(norm_workgroup(s)) + ";\n" +
                    "const STATS: u32 = " + u32(kNormChunkStats) + ";\n";
  // Each invocation sums a strided slice, then a tree halves the partial sums in workgroup memory.
  return src + R"(var<workgroup> part: array<f32, WG>;
fn reduce(l: u32, v: f32) -> f32 {
  part[l] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (l < stride) { part[l] += part[l + stride]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
  return total;
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let index = wg.x + wg.y * d.GROUPS_X;
  if (index >= d.ROWS * d.CHUNKS) { return; }
  let row = index / d.CHUNKS;
  let chunk = index % d.CHUNKS;
  let l = lid.x;
  let base = row * d.SIZE;
  let c0 = chunk * d.CHUNK;
  let c1 = min(d.SIZE, c0 + d.CHUNK);
)";
}

// Sets `shift` (the row's first value), `chunk_sum` (the sum of x − shift over [c0, c1)) and `m2`
// (the sum of squared deviations from the chunk's mean), in two passes. Every chunk of a row sums
// against the same shift, so the row's mean is shift + Σ chunk_sum / SIZE, rounded once as by one
// workgroup and as the CPU backend rounds it; summing x − shift rather than x also keeps a large
// mean against a small spread (the VAE's activations) from losing the mean's low bits in f32.
const char* kChunkMoments = R"(  let shift = load_x(base);
  var sum = 0.0;
  for (var j = c0 + l; j < c1; j += WG) { sum += load_x(base + j) - shift; }
  let chunk_sum = reduce(l, sum);
  let chunk_mean = chunk_sum / f32(c1 - c0);
  var sq = 0.0;
  for (var j = c0 + l; j < c1; j += WG) {
    let dev = load_x(base + j) - shift - chunk_mean;
    sq += dev * dev;
  }
  let m2 = reduce(l, sq);
)";

}  // namespace

uint32_t norm_chunks(uint32_t rows, uint32_t row_size) {
  if (rows == 0 || rows >= kNormTargetGroups) return 1;
  const uint32_t want = std::min((kNormTargetGroups + rows - 1) / rows, std::max(1u, row_size / kNormMinChunk));
  const uint32_t size = (row_size + want - 1) / want;
  return (row_size + size - 1) / size;  // no empty chunk
}

uint32_t norm_chunk_size(const NormSpec& s) { return (s.row_size + s.chunks - 1) / s.chunks; }

uint32_t norm_workgroup(const NormSpec& s) {
  uint32_t wg = 32;  // a subgroup on most GPUs
  while (wg < kNormWorkgroup && wg < norm_chunk_size(s)) wg *= 2;
  return wg;
}

Dims norm_dims(const NormSpec& s, float eps) {
  validate(s);
  return {{"ROWS", s.rows},
          {"SIZE", s.row_size},
          {"GROUPS", s.groups},
          {"SPATIAL", s.spatial},
          {"GROUP_CHANNELS", s.row_size / s.spatial},
          {"CHUNKS", s.chunks},
          {"CHUNK", norm_chunk_size(s)},
          {"GROUPS_X", s.groups_x},
          {"EPS", f32_bits(eps)}};
}

std::string norm_key(const NormSpec& s) {
  std::string k = "norm:" + std::to_string(norm_workgroup(s)) + (s.chunks > 1 ? ":chunked" : "");
  if (s.silu) k += ":silu";
  if (s.in_place) k += ":in-place";
  for (const TensorView* v : {&s.x, &s.gamma, &s.beta, &s.y}) {
    k += ':';
    k += view_key(*v);
  }
  return k;
}

std::string norm_stats_key(const NormSpec& s) { return "norm-stats:" + std::to_string(norm_workgroup(s)) + ":" + view_key(s.x); }

std::string norm_stats_source(const NormSpec& s) {
  validate(s);
  uint32_t next = 0;
  std::string src = bind_tensor("x", s.x, false, next);
  src += "@group(0) @binding(" + std::to_string(next) + ") var<storage, read_write> stats: array<f32>;\n";
  src += prologue(s, next + 1) + kChunkMoments;
  return src + "  if (l == 0u) {\n    stats[index * STATS] = chunk_sum;\n    stats[index * STATS + 1u] = shift;\n"
               "    stats[index * STATS + 2u] = m2;\n  }\n}\n";
}

std::string norm_source(const NormSpec& s) {
  validate(s);
  const bool chunked = s.chunks > 1;
  std::string src;
  uint32_t next = 0;
  if (!s.in_place) src += bind_tensor("x", s.x, false, next);
  src += bind_tensor("gamma", s.gamma, false, next);
  src += bind_tensor("beta", s.beta, false, next);
  if (chunked) src += "@group(0) @binding(" + std::to_string(next++) + ") var<storage, read> stats: array<f32>;\n";
  if (s.in_place) {
    src += bind_tensor_in_place("y", s.y, next) + "fn load_x(i: u32) -> f32 { return load_y(i); }\n";
  } else {
    src += bind_tensor("y", s.y, true, next);
  }
  src += prologue(s, next);
  if (chunked) {
    // Chan et al.'s merge of the chunks' sums and squared deviations, in the shifted coordinates.
    src += R"(  let first = row * d.CHUNKS;
  let shift = stats[first * STATS + 1u];
  var total = 0.0;
  for (var c = 0u; c < d.CHUNKS; c++) { total += stats[(first + c) * STATS]; }
  let shifted_mean = total / f32(d.SIZE);
  var m2 = 0.0;
  for (var c = 0u; c < d.CHUNKS; c++) {
    let n = f32(min(d.SIZE, c * d.CHUNK + d.CHUNK) - c * d.CHUNK);
    let dev = stats[(first + c) * STATS] / n - shifted_mean;
    m2 += stats[(first + c) * STATS + 2u] + n * dev * dev;
  }
  let mean = shift + shifted_mean;
)";
  } else {
    src += std::string(kChunkMoments) + "  let mean = shift + chunk_mean;\n";
  }
  src += R"(  let inv_std = 1.0 / sqrt(m2 / f32(d.SIZE) + bitcast<f32>(d.EPS));
  let ch0 = (row % d.GROUPS) * d.GROUP_CHANNELS;
  for (var j = c0 + l; j < c1; j += WG) {
    let ch = ch0 + j / d.SPATIAL;
    let v = (load_x(base + j) - mean) * inv_std * load_gamma(ch) + load_beta(ch);
)";
  src += s.silu ? "    store_y(base + j, v / (1.0 + exp(-v)));\n" : "    store_y(base + j, v);\n";
  src += "  }\n}\n";
  return src;
}

}  // namespace websd::wgsl
