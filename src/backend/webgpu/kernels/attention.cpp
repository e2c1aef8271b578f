#include "backend/webgpu/kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "backend/webgpu/kernels/unroll.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

constexpr uint32_t kInvocations = 256;
constexpr uint32_t kBlockKeys = 32;
constexpr uint32_t kMaxOutputsPerInvocation = 32;  // output values an invocation keeps in registers
constexpr uint32_t kWorkgroupFloats = 16384 / 4;   // WebGPU's default maxComputeWorkgroupStorageSize

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

// How a workgroup splits its work; every size is a constant of the generated source.
struct Layout {
  uint32_t row_threads;  // invocations sharing one query row of the output
  uint32_t bq;           // query rows per workgroup
  uint32_t nj;           // output values per invocation
  uint32_t dvp;          // Dv padded to row_threads·nj (a row of the v slice in workgroup memory)
  uint32_t dc;           // head-dimension slice of q and k per step
  uint32_t vk;           // keys per slice of v
  uint32_t sy, sx;       // the invocation grid of the score block: sy query rows × sx keys
  uint32_t shared;       // floats of the workgroup scratch array
};

uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

Layout layout_of(const AttentionSpec& s) {
  Layout l{};
  l.row_threads = 4;  // at most 64 query rows: their 64x32 scores leave room for a slice of v
  while (ceil_div(s.value_dim, l.row_threads) > kMaxOutputsPerInvocation) l.row_threads *= 2;
  l.bq = kInvocations / l.row_threads;
  l.nj = ceil_div(s.value_dim, l.row_threads);
  l.dvp = l.nj * l.row_threads;
  const uint32_t budget = kWorkgroupFloats - l.bq;  // the rest holds the running row maxima
  // Scores: q [bq, dc] and k [32, dc] slices, as few (and as even) as fit.
  const uint32_t slices = ceil_div(s.head_dim, budget / (l.bq + kBlockKeys));
  l.dc = ceil_div(s.head_dim, slices);
  // Output: the probabilities [bq, 32] and a slice of v [vk, dvp] beside them.
  l.vk = kBlockKeys;
  while (l.bq * kBlockKeys + l.vk * l.dvp > budget) l.vk /= 2;
  l.sy = std::min(16u, l.bq);
  l.sx = kInvocations / l.sy;
  l.shared = std::max(l.dc * (l.bq + kBlockKeys), l.bq * kBlockKeys + l.vk * l.dvp);
  return l;
}

void validate(const AttentionSpec& s) {
  const bool sizes = s.batch && s.heads && s.lq && s.lk && s.head_dim && s.value_dim && s.groups_x;
  // Indices are u32: q, k, v and y must each have fewer than 2^32 values.
  const uint64_t bh = uint64_t{s.batch} * s.heads;
  const bool fits = bh * s.lq * s.head_dim <= UINT32_MAX && bh * s.lk * s.head_dim <= UINT32_MAX &&
                    bh * s.lk * s.value_dim <= UINT32_MAX && bh * s.lq * s.value_dim <= UINT32_MAX;
  if (!sizes || !fits)
    throw Error("webgpu backend: attention: no kernel for batch " + std::to_string(s.batch) + ", " +
                std::to_string(s.heads) + " heads, " + std::to_string(s.lq) + " queries, " + std::to_string(s.lk) +
                " keys (empty, or past 32-bit indices)");
  if (s.value_dim > kAttentionMaxValueDim)
    throw Error("webgpu backend: attention: heads of " + std::to_string(s.value_dim) + " values are wider than the " +
                std::to_string(kAttentionMaxValueDim) + " this kernel keeps in registers; use more heads");
}

}  // namespace

std::string attention_scale_bits(uint32_t head_dim) {
  return u32(f32_bits(1.0f / std::sqrt(static_cast<float>(head_dim))));
}

uint32_t attention_block_queries(const AttentionSpec& s) {
  validate(s);
  return layout_of(s).bq;
}

uint32_t attention_workgroups(const AttentionSpec& s) {
  // At most batch·heads·Lq, which validate() keeps within u32.
  return ceil_div(s.lq, attention_block_queries(s)) * s.batch * s.heads;
}

Dims attention_dims(const AttentionSpec& s) {
  return {{"HEADS", s.heads},
          {"LQ", s.lq},
          {"LK", s.lk},
          {"C", s.heads * s.head_dim},
          {"CV", s.heads * s.value_dim},
          {"Q_BLOCKS", ceil_div(s.lq, attention_block_queries(s))},
          {"WORKGROUPS", attention_workgroups(s)},
          {"GROUPS_X", s.groups_x}};
}

std::string attention_key(const AttentionSpec& s) {
  std::string k = "attn";
  for (uint32_t v : {s.head_dim, s.value_dim}) {
    k += ':';
    k += std::to_string(v);
  }
  k += s.causal ? ":causal" : "";
  return k + ":" + view_key(s.q) + ":" + view_key(s.k) + ":" + view_key(s.v) + ":" + view_key(s.y);
}

std::string attention_source(const AttentionSpec& s) {
  validate(s);
  const Layout l = layout_of(s);
  uint32_t binding = 0;
  std::string src = bind_tensor("q", s.q, false, binding);
  src += bind_tensor("k", s.k, false, binding);
  src += bind_tensor("v", s.v, false, binding);
  src += bind_tensor("y", s.y, true, binding);
  src += attention_dims(s).declare(binding);
  src += "const D: u32 = " + u32(s.head_dim) + ";\nconst DV: u32 = " + u32(s.value_dim) + ";\n";
  src += "const CAUSAL: bool = " + std::string(s.causal ? "true" : "false") + ";\n";
  src += "const BQ: u32 = " + u32(l.bq) + ";\nconst BK: u32 = " + u32(kBlockKeys) + ";\nconst DC: u32 = " + u32(l.dc) +
         ";\n";
  src += "const VK: u32 = " + u32(l.vk) + ";\nconst DVP: u32 = " + u32(l.dvp) + ";\nconst ROW_THREADS: u32 = " + u32(l.row_threads) + ";\n";
  src += "const SX: u32 = " + u32(l.sx) + ";\nconst SY: u32 = " + u32(l.sy) + ";\n";
  src += "const SHARED: u32 = " + u32(l.shared) + ";\nconst WG: u32 = " + u32(kInvocations) + ";\n";
  src += "const SCALE_BITS: u32 = " + attention_scale_bits(s.head_dim) + ";\n";
  const uint32_t sr = l.bq / l.sy, sc = kBlockKeys / l.sx;
  // Per-invocation values are scalars in unrolled statements (unroll.h): the scores s<i>_<j>, the
  // output values acc<j>.
  const std::string zero_scores = each2(sr, sc, [](auto i, auto j) { return "    var s" + i + "_" + j + " = 0.0;\n"; });
  const std::string read_q = each(sr, [](auto i) { return "        let qv" + i + " = sh[qs + " + i + "u * SY];\n"; });
  const std::string read_k = each(sc, [](auto j) { return "        let kv" + j + " = sh[ks + " + j + "u * SX];\n"; });
  const std::string dot = each2(sr, sc, [](auto i, auto j) { return "        s" + i + "_" + j + " += qv" + i + " * kv" + j + ";\n"; });
  const std::string write_scores = each2(sr, sc, [](auto i, auto j) {
    return "    sh[(sy + " + i + "u * SY) * BK + sx + " + j + "u * SX] = masked(s" + i + "_" + j + ", q0 + sy + " + i +
           "u * SY, j0 + sx + " + j + "u * SX);\n";
  });
  const std::string declare_acc = each(l.nj, [](auto j) { return "  var acc" + j + " = 0.0;\n"; });
  const std::string rescale_acc = each(l.nj, [](auto j) { return "    acc" + j + " *= rescale;\n"; });
  const std::string accumulate = each(l.nj, [](auto j) { return "        acc" + j + " += p * sh[vs + " + j + "u * ROW_THREADS];\n"; });
  const std::string store = each(l.nj, [](auto j) {
    return "  if (lane + " + j + "u * ROW_THREADS < DV) { store_y(dst + " + j + "u * ROW_THREADS, acc" + j + " * inv); }\n";
  });
  // Masked scores are a large finite negative, not -inf: exp(NEG − max) is then 0 with no inf − inf.
  // Every row sees key 0 in its first block, so its running maximum is finite from then on.
  // sh holds, in turn: the q slice [DC][BQ] and the k slice [DC][BK] (transposed, so the score
  // loop reads rows of both), then the scores turned probabilities [BQ][BK] and a v slice [VK][DVP].
  src += R"(const NEG: f32 = -1.0e30;
var<workgroup> sh: array<f32, SHARED>;
var<workgroup> row_max: array<f32, BQ>;
fn masked(raw: f32, qi: u32, kj: u32) -> f32 {
  if (kj >= d.LK || (CAUSAL && kj > qi)) { return NEG; }
  return raw * bitcast<f32>(SCALE_BITS);
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let index = wg.x + wg.y * d.GROUPS_X;
  if (index >= d.WORKGROUPS) { return; }
  let q0 = index % d.Q_BLOCKS * BQ;
  let b = index / d.Q_BLOCKS / d.HEADS;
  let h = index / d.Q_BLOCKS % d.HEADS;
  let q_base = b * d.LQ * d.C + h * D;
  let k_base = b * d.LK * d.C + h * D;
  let v_base = b * d.LK * d.CV + h * DV;
  var key_end = d.LK;
  if (CAUSAL) { key_end = min(d.LK, q0 + BQ); }
  // Score block: invocation (sx, sy) owns rows sy + i·SY and keys sx + j·SX.
  let sx = t % SX;
  let sy = t / SX;
  // Output: invocation (row, lane) owns values lane + j·ROW_THREADS of query row `row` (acc<j>).
  let row = t / ROW_THREADS;
  let lane = t % ROW_THREADS;
)" + declare_acc + R"(  var m = NEG;  // running maximum of `row`, as row_max holds it
  var l = 0.0;  // running sum of exp(score − m)
  if (t < BQ) { row_max[t] = NEG; }
  for (var j0 = 0u; j0 < key_end; j0 += BK) {
)" + zero_scores + R"(    for (var d0 = 0u; d0 < D; d0 += DC) {
      workgroupBarrier();
      for (var e = t; e < BQ * DC; e += WG) {
        let i = e / DC;
        let dim = d0 + e % DC;
        var val = 0.0;
        if (q0 + i < d.LQ && dim < D) { val = load_q(q_base + (q0 + i) * d.C + dim); }
        sh[e % DC * BQ + i] = val;
      }
      for (var e = t; e < BK * DC; e += WG) {
        let j = e / DC;
        let dim = d0 + e % DC;
        var val = 0.0;
        if (j0 + j < d.LK && dim < D) { val = load_k(k_base + (j0 + j) * d.C + dim); }
        sh[BQ * DC + e % DC * BK + j] = val;
      }
      workgroupBarrier();
      for (var dim = 0u; dim < DC; dim++) {
        let qs = dim * BQ + sy;
        let ks = BQ * DC + dim * BK + sx;
)" + read_q + read_k + dot + R"(      }
    }
    workgroupBarrier();
)" + write_scores + R"(    workgroupBarrier();
    if (t < BQ) {
      var mx = row_max[t];
      for (var j = 0u; j < BK; j++) { mx = max(mx, sh[t * BK + j]); }
      row_max[t] = mx;
    }
    workgroupBarrier();
    for (var e = t; e < BQ * BK; e += WG) { sh[e] = exp(sh[e] - row_max[e / BK]); }
    let m_new = row_max[row];
    let rescale = exp(m - m_new);  // 0 on the first block: nothing accumulated yet
    m = m_new;
    l *= rescale;
)" + rescale_acc + R"(    for (var v0 = 0u; v0 < BK; v0 += VK) {
      // Rows of v past the keys and columns past DV load zero (their probabilities are 0 anyway).
      for (var e = t; e < VK * DVP; e += WG) {
        let j = j0 + v0 + e / DVP;
        let c = e % DVP;
        var val = 0.0;
        if (j < d.LK && c < DV) { val = load_v(v_base + j * d.CV + c); }
        sh[BQ * BK + e] = val;
      }
      workgroupBarrier();
      for (var j = 0u; j < VK; j++) {
        let p = sh[row * BK + v0 + j];
        l += p;
        let vs = BQ * BK + j * DVP + lane;
)" + accumulate + R"(      }
      workgroupBarrier();
    }
  }
  if (q0 + row >= d.LQ) { return; }
  let inv = 1.0 / l;
  let dst = b * d.LQ * d.CV + (q0 + row) * d.CV + h * DV + lane;
)" + store + "}\n";
  return src;
}

}  // namespace websd::wgsl
