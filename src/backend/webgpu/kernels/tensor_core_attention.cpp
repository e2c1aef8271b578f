#include "backend/webgpu/kernels/tensor_core_attention.h"

#include <algorithm>

#include "backend/webgpu/kernels/f16_pack.h"
#include "backend/webgpu/kernels/unroll.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

constexpr uint32_t kTk = kTensorCoreBlockKeys / 16;

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

uint32_t round_up(uint32_t n, uint32_t to) { return (n + to - 1) / to * to; }

uint32_t block_queries(const TensorCoreAttentionSpec& s) { return 16 * s.query_tiles; }
uint32_t q_blocks(const TensorCoreAttentionSpec& s) { return round_up(s.lq, block_queries(s)) / block_queries(s); }

void validate(const TensorCoreAttentionSpec& s) {
  const bool sizes = s.batch && s.heads && s.lq && s.lk && s.head_dim && s.value_dim && s.subgroup && s.groups_x &&
                     (s.query_tiles == 1 || s.query_tiles == 2);
  const uint64_t bh = uint64_t{s.batch} * s.heads;
  // The packed matrices and y are indexed in u32.
  const bool fits = bh * round_up(s.lq, 32) * pad16(s.head_dim) <= UINT32_MAX &&
                    bh * round_up(s.lk, kTensorCoreBlockKeys) * pad16(std::max(s.head_dim, s.value_dim)) <= UINT32_MAX &&
                    bh * s.lq * s.value_dim <= UINT32_MAX;
  if (!sizes || !fits)
    throw Error("webgpu backend: tensor-core attention: no kernel for batch " + std::to_string(s.batch) + ", " +
                std::to_string(s.heads) + " heads, " + std::to_string(s.lq) + " queries, " + std::to_string(s.lk) +
                " keys (empty, or past 32-bit indices)");
}

AttentionPackSpec pack_of(const TensorCoreAttentionSpec& s, uint32_t length, uint32_t block, uint32_t dim) {
  AttentionPackSpec p;
  p.batch = s.batch;
  p.heads = s.heads;
  p.length = length;
  p.length_pad = round_up(length, block);
  p.dim = dim;
  p.dim_pad = pad16(dim);
  return p;
}

}  // namespace

uint32_t pad16(uint32_t n) { return round_up(n, 16); }

TensorCoreAttentionSpec tensor_core_spec(const AttentionSpec& a) {
  TensorCoreAttentionSpec s;
  s.batch = a.batch;
  s.heads = a.heads;
  s.lq = a.lq;
  s.lk = a.lk;
  s.head_dim = a.head_dim;
  s.value_dim = a.value_dim;
  s.causal = a.causal;
  return s;
}

AttentionPackSpec tensor_core_pack_q(const TensorCoreAttentionSpec& s) { return pack_of(s, s.lq, block_queries(s), s.head_dim); }
AttentionPackSpec tensor_core_pack_k(const TensorCoreAttentionSpec& s) { return pack_of(s, s.lk, kTensorCoreBlockKeys, s.head_dim); }
AttentionPackSpec tensor_core_pack_v(const TensorCoreAttentionSpec& s) { return pack_of(s, s.lk, kTensorCoreBlockKeys, s.value_dim); }

uint64_t attention_pack_values(const AttentionPackSpec& p) {
  return uint64_t{p.batch} * p.heads * p.length_pad * p.dim_pad;
}

uint32_t tensor_core_attention_workgroup_bytes(const TensorCoreAttentionSpec& s) {
  // Scores (f32) and probabilities (f16) of a block, the output block (f32), row maxima and sums.
  return block_queries(s) * (kTensorCoreBlockKeys * 6 + pad16(s.value_dim) * 4 + 8);
}

uint32_t tensor_core_attention_groups(const TensorCoreAttentionSpec& s) {
  validate(s);
  return s.batch * s.heads * q_blocks(s);
}

std::string attention_pack_key(const AttentionPackSpec& p) {
  std::string k = "tc-attn-pack";
  for (uint32_t v : {p.batch, p.heads, p.length, p.length_pad, p.dim, p.dim_pad, p.groups_x}) k += ":" + std::to_string(v);
  return k + ":" + view_key(p.x);
}

std::string attention_pack_source(const AttentionPackSpec& p) {
  uint32_t binding = 0;
  std::string src = bind_tensor("x", p.x, false, binding);
  src += "@group(0) @binding(" + std::to_string(binding) + ") var<storage, read_write> packed: array<u32>;\n";
  src += "const HEADS: u32 = " + u32(p.heads) + ";\nconst L: u32 = " + u32(p.length) + ";\nconst L_PAD: u32 = " +
         u32(p.length_pad) + ";\nconst D: u32 = " + u32(p.dim) + ";\n";
  // Row r of the packed matrix is position r % L_PAD of head (r / L_PAD) % HEADS of batch item
  // r / L_PAD / HEADS; zero past the sequence and the head.
  src += R"(fn gather(r: u32, k: u32) -> f32 {
  let l = r % L_PAD;
  if (l >= L || k >= D) { return 0.0; }
  let bh = r / L_PAD;
  return load_x((bh / HEADS * L + l) * HEADS * D + bh % HEADS * D + k);
}
)";
  return src + f16_pack_main(attention_pack_values(p) / 2, p.dim_pad, p.groups_x);
}

std::string tensor_core_attention_key(const TensorCoreAttentionSpec& s) {
  std::string k = "tc-attn";
  for (uint32_t v : {s.batch, s.heads, s.lq, s.lk, s.head_dim, s.value_dim, s.query_tiles, s.subgroup, s.groups_x})
    k += ":" + std::to_string(v);
  return k + (s.causal ? ":causal:" : ":") + view_key(s.y);
}

std::string tensor_core_attention_source(const TensorCoreAttentionSpec& s) {
  validate(s);
  const uint32_t tq = s.query_tiles;
  std::string src = "enable f16;\nenable chromium_experimental_subgroup_matrix;\n";
  src += "@group(0) @binding(0) var<storage, read> qp: array<f16>;\n";
  src += "@group(0) @binding(1) var<storage, read> kp: array<f16>;\n";
  src += "@group(0) @binding(2) var<storage, read> vp: array<f16>;\n";
  uint32_t binding = 3;
  src += bind_tensor("y", s.y, true, binding);
  src += "const HEADS: u32 = " + u32(s.heads) + ";\nconst LQ: u32 = " + u32(s.lq) + ";\nconst LK: u32 = " + u32(s.lk) +
         ";\nconst DP: u32 = " + u32(pad16(s.head_dim)) + ";\nconst DV: u32 = " + u32(s.value_dim) +
         ";\nconst DVP: u32 = " + u32(pad16(s.value_dim)) + ";\nconst LQP: u32 = " + u32(q_blocks(s) * block_queries(s)) +
         ";\nconst LKP: u32 = " + u32(round_up(s.lk, kTensorCoreBlockKeys)) + ";\nconst BQ: u32 = " +
         u32(block_queries(s)) + ";\nconst BK: u32 = " + u32(kTensorCoreBlockKeys) + ";\nconst Q_BLOCKS: u32 = " +
         u32(q_blocks(s)) + ";\nconst GROUPS: u32 = " + u32(tensor_core_attention_groups(s)) + ";\nconst GROUPS_X: u32 = " +
         u32(s.groups_x) + ";\nconst SG: u32 = " + u32(s.subgroup) + ";\nconst SCALE_BITS: u32 = " +
         attention_scale_bits(s.head_dim) + ";\nconst CAUSAL: bool = " + (s.causal ? "true" : "false") + ";\n";
  // Unrolled over the 16×16 tiles (unroll.h): scores s<i>_<j> of query tile i and key tile j,
  // zeroed explicitly for every key block: on the lent H100 (Dawn on Vulkan, 2026-12-05) a bare
  // `var s: subgroup_matrix_result<…>;` inside the loop kept the previous iteration's sums.
  const std::string declare = each2(tq, kTk, [](auto i, auto j) {
    return "    var s" + i + "_" + j + " = subgroup_matrix_result<f32, 16, 16>();\n";
  });
  const std::string load_q = each(tq, [](auto i) {
    return "      let a" + i + " = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&qp, q_base + " + i +
           "u * 16u * DP + d, DP);\n";
  });
  const std::string load_k = each(kTk, [](auto j) {
    return "      let b" + j + " = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&kp, (k_row + " + j +
           "u * 16u) * DP + d, DP);\n";
  });
  const std::string score = each2(tq, kTk, [](auto i, auto j) {
    return "      s" + i + "_" + j + " = subgroupMatrixMultiplyAccumulate(a" + i + ", b" + j + ", s" + i + "_" + j + ");\n";
  });
  const std::string store_scores = each2(tq, kTk, [](auto i, auto j) {
    return "    subgroupMatrixStore<row_major>(&s_tile, " + i + "u * 16u * BK + " + j + "u * 16u, s" + i + "_" + j + ", BK);\n";
  });
  const std::string load_o = each(tq, [](auto i) {
    return "      var o" + i + " = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>, row_major>(&o_tile, " + i +
           "u * 16u * DVP + c, DVP);\n";
  });
  const std::string accumulate = each(kTk, [&](auto j) {
    std::string out = "      let v" + j + " = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&vp, (k_row + " + j +
                      "u * 16u) * DVP + c, DVP);\n";
    out += each(tq, [&](auto i) {
      return "      o" + i + " = subgroupMatrixMultiplyAccumulate(subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, "
             "row_major>(&p_tile, " + i + "u * 16u * BK + " + j + "u * 16u, BK), v" + j + ", o" + i + ");\n";
    });
    return out;
  });
  const std::string store_o = each(tq, [](auto i) {
    return "      subgroupMatrixStore<row_major>(&o_tile, " + i + "u * 16u * DVP + c, o" + i + ", DVP);\n";
  });
  // Masked scores are a large finite negative, as in attention.cpp: every row meets key 0 in its
  // first block, so its running maximum is finite from then on and exp(NEG − max) is 0.
  src += R"(const NEG: f32 = -1.0e30;
var<workgroup> s_tile: array<f32, BQ * BK>;
var<workgroup> p_tile: array<f16, BQ * BK>;
var<workgroup> o_tile: array<f32, BQ * DVP>;
var<workgroup> row_m: array<f32, BQ>;
var<workgroup> row_l: array<f32, BQ>;
fn masked(raw: f32, qi: u32, kj: u32) -> f32 {
  if (kj >= LK || (CAUSAL && kj > qi)) { return NEG; }
  return raw * bitcast<f32>(SCALE_BITS);
}
@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let index = wg.x + wg.y * GROUPS_X;
  if (index >= GROUPS) { return; }
  let bh = index / Q_BLOCKS;
  let q0 = index % Q_BLOCKS * BQ;
  let q_base = (bh * LQP + q0) * DP;
  for (var e = t; e < BQ * DVP; e += SG) { o_tile[e] = 0.0; }
  for (var r = t; r < BQ; r += SG) {
    row_m[r] = NEG;
    row_l[r] = 0.0;
  }
  var key_end = LK;
  if (CAUSAL) { key_end = min(LK, q0 + BQ); }
  for (var j0 = 0u; j0 < key_end; j0 += BK) {
    let k_row = bh * LKP + j0;
)" + declare + R"(    for (var d = 0u; d < DP; d += 16u) {
)" + load_q + load_k + score + R"(    }
)" + store_scores + R"(    workgroupBarrier();
    // A thread per query row (rows in parallel, no subgroup reductions); each thread starts its walk
    // along the row at its own column so the subgroup's reads fall in different banks.
    for (var r = t; r < BQ; r += SG) {
      let qi = q0 + r;
      let old_max = row_m[r];
      var mx = old_max;
      for (var c = 0u; c < BK; c++) {
        let cc = (c + r) % BK;
        mx = max(mx, masked(s_tile[r * BK + cc], qi, j0 + cc));
      }
      var sum = 0.0;
      for (var c = 0u; c < BK; c++) {
        let cc = (c + r) % BK;
        let p = exp(masked(s_tile[r * BK + cc], qi, j0 + cc) - mx);
        sum += p;
        p_tile[r * BK + cc] = f16(p);
      }
      if (mx != old_max) {
        let alpha = exp(old_max - mx);
        row_l[r] *= alpha;
        for (var c = 0u; c < DVP; c++) {
          let cc = (c + r) % DVP;
          o_tile[r * DVP + cc] *= alpha;
        }
      }
      row_l[r] += sum;
      row_m[r] = mx;
    }
    workgroupBarrier();
    for (var c = 0u; c < DVP; c += 16u) {
)" + load_o + accumulate + store_o + R"(    }
    workgroupBarrier();
  }
  let b = bh / HEADS;
  let h = bh % HEADS;
  for (var e = t; e < BQ * DVP; e += SG) {
    let r = e / DVP;
    let c = e % DVP;
    if (q0 + r < LQ && c < DV) { store_y((b * LQ + q0 + r) * HEADS * DV + h * DV + c, o_tile[e] / row_l[r]); }
  }
}
)";
  return src;
}

}  // namespace websd::wgsl
