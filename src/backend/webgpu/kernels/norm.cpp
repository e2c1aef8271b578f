#include "backend/webgpu/kernels/norm.h"

#include "core/error.h"

namespace websd::wgsl {
namespace {
std::string u32(uint32_t v) { return std::to_string(v) + "u"; }
}  // namespace

std::string norm_key(const NormSpec& s) {
  std::string k = "norm";
  for (uint32_t v : {s.rows, s.row_size, s.groups, s.spatial, s.groups_x}) {
    k += ':';
    k += std::to_string(v);
  }
  if (s.silu) k += ":silu";
  for (const TensorView* v : {&s.x, &s.gamma, &s.beta, &s.y}) k += ":" + view_key(*v);
  return k;
}

std::string norm_source(const NormSpec& s) {
  if (s.row_size == 0 || s.groups == 0 || s.spatial == 0 || s.row_size % s.spatial != 0 || s.groups_x == 0)
    throw Error("webgpu backend: norm: rows of " + std::to_string(s.row_size) + " values do not split into " +
                std::to_string(s.spatial) + "-value channels");
  std::string src;
  uint32_t next = 0;
  src += bind_tensor("x", s.x, false, next);
  src += bind_tensor("gamma", s.gamma, false, next);
  src += bind_tensor("beta", s.beta, false, next);
  src += bind_tensor("y", s.y, true, next);
  src += "struct Params { eps: f32 }\n@group(0) @binding(" + std::to_string(next) + ") var<uniform> params: Params;\n";
  src += "const ROWS: u32 = " + u32(s.rows) + ";\nconst SIZE: u32 = " + u32(s.row_size) + ";\n";
  src += "const GROUPS: u32 = " + u32(s.groups) + ";\nconst SPATIAL: u32 = " + u32(s.spatial) + ";\n";
  src += "const GROUP_CHANNELS: u32 = " + u32(s.row_size / s.spatial) + ";\n";
  src += "const GROUPS_X: u32 = " + u32(s.groups_x) + ";\nconst WG: u32 = " + u32(kNormWorkgroup) + ";\n";
  // Each invocation sums a strided slice, then a tree halves the partial sums in workgroup memory.
  src += R"(var<workgroup> part: array<f32, WG>;
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
  let row = wg.x + wg.y * GROUPS_X;
  if (row >= ROWS) { return; }
  let l = lid.x;
  let base = row * SIZE;
  // Summing x − x[0] rather than x keeps a large mean against a small spread (the VAE's
  // activations) from losing the mean's low bits in f32.
  let shift = load_x(base);
  var sum = 0.0;
  for (var j = l; j < SIZE; j += WG) { sum += load_x(base + j) - shift; }
  let mean = shift + reduce(l, sum) / f32(SIZE);
  var sq = 0.0;
  for (var j = l; j < SIZE; j += WG) {
    let d = load_x(base + j) - mean;
    sq += d * d;
  }
  let inv_std = 1.0 / sqrt(reduce(l, sq) / f32(SIZE) + params.eps);
  let ch0 = (row % GROUPS) * GROUP_CHANNELS;
  for (var j = l; j < SIZE; j += WG) {
    let ch = ch0 + j / SPATIAL;
    let v = (load_x(base + j) - mean) * inv_std * load_gamma(ch) + load_beta(ch);
)";
  src += s.silu ? "    store_y(base + j, v / (1.0 + exp(-v)));\n" : "    store_y(base + j, v);\n";
  src += "  }\n}\n";
  return src;
}

}  // namespace websd::wgsl
