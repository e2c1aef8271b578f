#include "backend/webgpu/kernels/tensor_core_attention.h"

#include <algorithm>

#include "backend/webgpu/kernels/f16_pack.h"
#include "backend/webgpu/kernels/unroll.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

uint32_t round_up(uint32_t n, uint32_t to) { return (n + to - 1) / to * to; }

uint32_t block_queries(const TensorCoreAttentionSpec& s) { return 16 * s.query_tiles; }
// Keys per block: 128 for values 256 wide or more (the VAE's 512), where the output block's trip
// through workgroup memory at every block costs most; 64 otherwise, where 128 measured slower
// (docs/performance.md).
uint32_t block_keys(const TensorCoreAttentionSpec& s) { return pad16(s.value_dim) >= 256 ? 128 : 64; }
uint32_t key_tiles(const TensorCoreAttentionSpec& s) { return block_keys(s) / 16; }
uint32_t q_blocks(const TensorCoreAttentionSpec& s) { return round_up(s.lq, block_queries(s)) / block_queries(s); }
// Four subgroups, or fewer where that would pass 256 invocations (WebGPU's default limit).
uint32_t subgroups(const TensorCoreAttentionSpec& s) { return s.subgroup ? std::clamp(256 / s.subgroup, 1u, 4u) : 0; }
uint32_t out_tiles(const TensorCoreAttentionSpec& s) { return s.query_tiles * pad16(s.value_dim) / 16; }
bool spare_tile(const TensorCoreAttentionSpec& s) { return subgroups(s) && out_tiles(s) % subgroups(s) != 0; }

void validate(const TensorCoreAttentionSpec& s) {
  const bool sizes = s.batch && s.heads && s.lq && s.lk && s.head_dim && s.value_dim && s.groups_x &&
                     (s.query_tiles == 1 || s.query_tiles == 2) && tensor_core_attention_lanes_per_row(s);
  const uint64_t bh = uint64_t{s.batch} * s.heads;
  // The packed matrices and y are indexed in u32.
  const bool fits = bh * round_up(s.lq, 32) * pad16(s.head_dim) <= UINT32_MAX &&
                    bh * round_up(s.lk, block_keys(s)) * pad16(std::max(s.head_dim, s.value_dim)) <= UINT32_MAX &&
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
AttentionPackSpec tensor_core_pack_k(const TensorCoreAttentionSpec& s) { return pack_of(s, s.lk, block_keys(s), s.head_dim); }
AttentionPackSpec tensor_core_pack_v(const TensorCoreAttentionSpec& s) { return pack_of(s, s.lk, block_keys(s), s.value_dim); }

uint64_t attention_pack_values(const AttentionPackSpec& p) {
  return uint64_t{p.batch} * p.heads * p.length_pad * p.dim_pad;
}

uint32_t tensor_core_attention_workgroup_bytes(const TensorCoreAttentionSpec& s) {
  // Scores (f32) and probabilities (f16) of a block, the output block (f32) and its spare tile.
  return block_queries(s) * (block_keys(s) * 6 + pad16(s.value_dim) * 4) + (spare_tile(s) ? 1024 : 0);
}

uint32_t tensor_core_attention_lanes_per_row(const TensorCoreAttentionSpec& s) {
  const uint32_t lanes = subgroups(s) * s.subgroup;
  const bool pow2 = s.subgroup && (s.subgroup & (s.subgroup - 1)) == 0;
  // A row's lanes divide the key block and DVP; the subgroups divide the block's score tiles.
  if (!pow2 || lanes > 256 || lanes % block_queries(s) || lanes / block_queries(s) > 16 ||
      s.query_tiles * key_tiles(s) % subgroups(s))
    return 0;
  return lanes / block_queries(s);
}

uint32_t tensor_core_attention_groups(const TensorCoreAttentionSpec& s) {
  validate(s);
  return s.batch * s.heads * q_blocks(s);
}

Dims attention_pack_dims(const AttentionPackSpec& p) {
  return {{"HEADS", p.heads},
          {"L", p.length},
          {"L_PAD", p.length_pad},
          {"D", p.dim},
          {"ROW_WORDS", p.dim_pad / 2},
          {"PACK_WORDS", static_cast<uint32_t>(attention_pack_values(p) / 2)},
          {"GROUPS_X", p.groups_x}};
}

std::string attention_pack_key(const AttentionPackSpec& p) { return "tc-attn-pack:" + view_key(p.x); }

std::string attention_pack_source(const AttentionPackSpec& p) {
  uint32_t binding = 0;
  std::string src = bind_tensor("x", p.x, false, binding);
  src += "@group(0) @binding(" + std::to_string(binding) + ") var<storage, read_write> packed: array<u32>;\n";
  src += attention_pack_dims(p).declare(binding + 1);
  // Row r of the packed matrix is position r % L_PAD of head (r / L_PAD) % HEADS of batch item
  // r / L_PAD / HEADS; zero past the sequence and the head.
  src += R"(fn gather(r: u32, k: u32) -> f32 {
  let l = r % d.L_PAD;
  if (l >= d.L || k >= d.D) { return 0.0; }
  let bh = r / d.L_PAD;
  return load_x((bh / d.HEADS * d.L + l) * d.HEADS * d.D + bh % d.HEADS * d.D + k);
}
)";
  return src + f16_pack_main("d.PACK_WORDS", "d.ROW_WORDS", "d.GROUPS_X");
}

Dims tensor_core_attention_dims(const TensorCoreAttentionSpec& s) {
  return {{"HEADS", s.heads},
          {"LQ", s.lq},
          {"LK", s.lk},
          {"LQP", q_blocks(s) * block_queries(s)},
          {"LKP", round_up(s.lk, block_keys(s))},
          {"Q_BLOCKS", q_blocks(s)},
          {"GROUPS", tensor_core_attention_groups(s)},
          {"GROUPS_X", s.groups_x}};
}

std::string tensor_core_attention_key(const TensorCoreAttentionSpec& s) {
  std::string k = "tc-attn";
  for (uint32_t v : {s.head_dim, s.value_dim, s.query_tiles, s.subgroup}) k += ":" + std::to_string(v);
  return k + (s.causal ? ":causal:" : ":") + view_key(s.y);
}

std::string tensor_core_attention_source(const TensorCoreAttentionSpec& s) {
  validate(s);
  const uint32_t score_tiles = s.query_tiles * key_tiles(s) / subgroups(s);
  const uint32_t rounds = (out_tiles(s) + subgroups(s) - 1) / subgroups(s);
  const bool spare = spare_tile(s);
  std::string src = "enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;\n";
  src += "@group(0) @binding(0) var<storage, read> qp: array<f16>;\n";
  src += "@group(0) @binding(1) var<storage, read> kp: array<f16>;\n";
  src += "@group(0) @binding(2) var<storage, read> vp: array<f16>;\n";
  uint32_t binding = 3;
  src += bind_tensor("y", s.y, true, binding);
  src += tensor_core_attention_dims(s).declare(binding);
  src += "const DP: u32 = " + u32(pad16(s.head_dim)) + ";\nconst DV: u32 = " + u32(s.value_dim) +
         ";\nconst DVP: u32 = " + u32(pad16(s.value_dim)) + ";\nconst BQ: u32 = " +
         u32(block_queries(s)) + ";\nconst BK: u32 = " + u32(block_keys(s)) + ";\nconst KT: u32 = " + u32(key_tiles(s)) +
         ";\nconst SG: u32 = " + u32(s.subgroup) +
         ";\nconst SUBGROUPS: u32 = " + u32(subgroups(s)) +
         ";\nconst LPR: u32 = " + u32(tensor_core_attention_lanes_per_row(s)) + ";\nconst SCORE_TILES: u32 = " + u32(score_tiles) +
         ";\nconst OUT_TILES: u32 = " + u32(out_tiles(s)) +
         ";\nconst ROUNDS: u32 = " + u32(rounds) + ";\nconst SCALE_BITS: u32 = " + attention_scale_bits(s.head_dim) +
         ";\nconst CAUSAL: bool = " + (s.causal ? "true" : "false") + ";\n";
  // Unrolled over a subgroup's score tiles (unroll.h), each zeroed explicitly for every key block:
  // on the lent H100 (Dawn on Vulkan, 2026-12-05) a bare `var s: subgroup_matrix_result<…>;` inside
  // the loop kept the previous iteration's sums.
  const std::string declare = each(score_tiles, [](auto u) {
    return "    var s" + u + " = subgroup_matrix_result<f32, 16, 16>();\n";
  });
  const std::string score = each(score_tiles, [](auto u) {
    return "      s" + u + " = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, "
           "col_major>(&kp, (k_row + (sj + " + u + "u) * 16u) * DP + dk, DP), s" + u + ");\n";
  });
  const std::string store_scores = each(score_tiles, [](auto u) {
    return "    subgroupMatrixStore<row_major>(&s_tile, si * 16u * BK + (sj + " + u + "u) * 16u, s" + u + ", BK);\n";
  });
  const std::string accumulate = each(key_tiles(s), [](auto j) {
    return "      o = subgroupMatrixMultiplyAccumulate(subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&p_tile, "
           "oi * 16u * BK + " + j + "u * 16u, BK), subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&vp, (k_row + " +
           j + "u * 16u) * DVP + oc, DVP), o);\n";
  });
  // Where the subgroups do not divide the output tiles evenly, the last round's extra subgroups
  // work on a spare tile past the output block (same uniform control flow, results unused).
  const std::string out_tile = spare ? R"(      let live = t < OUT_TILES;
      let tt = select(0u, t, live);
      let oi = tt / (DVP / 16u);
      let oc = tt % (DVP / 16u) * 16u;
      let o_at = select(BQ * DVP, oi * 16u * DVP + oc, live);
      let o_stride = select(16u, DVP, live);
)"
                                     : R"(      let oi = t / (DVP / 16u);
      let oc = t % (DVP / 16u) * 16u;
      let o_at = oi * 16u * DVP + oc;
      let o_stride = DVP;
)";
  // Masked scores are a large finite negative, as in attention.cpp: every row meets key 0 in its
  // first block, so its running maximum is finite from then on and exp(NEG − max) is 0.
  src += "const NEG: f32 = -1.0e30;\nvar<workgroup> s_tile: array<f32, BQ * BK>;\nvar<workgroup> p_tile: array<f16, BQ * BK>;\n"
         "var<workgroup> o_tile: array<f32, BQ * DVP" + std::string(spare ? " + 256u" : "") + ">;\n";
  src += R"(fn masked(raw: f32, qi: u32, kj: u32) -> f32 {
  if (kj >= d.LK || (CAUSAL && kj > qi)) { return NEG; }
  return raw * bitcast<f32>(SCALE_BITS);
}
@compute @workgroup_size(SUBGROUPS * SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t_index: u32,
        @builtin(subgroup_id) sub: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let index = wg.x + wg.y * d.GROUPS_X;
  if (index >= d.GROUPS) { return; }
  let bh = index / d.Q_BLOCKS;
  let q0 = index % d.Q_BLOCKS * BQ;
  let q_base = (bh * d.LQP + q0) * DP;
  // Subgroup-uniform: this subgroup's score tiles (query tile si, key tiles sj…).
  let si = sub * SCORE_TILES / KT;
  let sj = sub * SCORE_TILES % KT;
  // The LPR neighbouring lanes of one subgroup that share query row r; part is which of them.
  let r = (sub * SG + lane) / LPR;
  let part = lane % LPR;
  let qi = q0 + r;
  var row_max = NEG;
  var row_sum = 0.0;
  for (var e = t_index; e < BQ * DVP; e += SUBGROUPS * SG) { o_tile[e] = 0.0; }
  var key_end = d.LK;
  if (CAUSAL) { key_end = min(d.LK, q0 + BQ); }
  for (var j0 = 0u; j0 < key_end; j0 += BK) {
    let k_row = bh * d.LKP + j0;
)" + declare + R"(    for (var dk = 0u; dk < DP; dk += 16u) {
      let a = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&qp, q_base + si * 16u * DP + dk, DP);
)" + score + "    }\n" + store_scores + R"(    workgroupBarrier();
    // The row's maximum and sum over its lanes' columns; each lane starts its walk at a column of
    // its own so the subgroup's reads fall in different banks.
    var mx = row_max;
    for (var c = 0u; c < BK / LPR; c++) {
      let cc = part + (c + r) % (BK / LPR) * LPR;
      mx = max(mx, masked(s_tile[r * BK + cc], qi, j0 + cc));
    }
    for (var m = 1u; m < LPR; m <<= 1u) { mx = max(mx, subgroupShuffleXor(mx, m)); }
    var sum = 0.0;
    for (var c = 0u; c < BK / LPR; c++) {
      let cc = part + (c + r) % (BK / LPR) * LPR;
      let p = exp(masked(s_tile[r * BK + cc], qi, j0 + cc) - mx);
      sum += p;
      p_tile[r * BK + cc] = f16(p);
    }
    for (var m = 1u; m < LPR; m <<= 1u) { sum += subgroupShuffleXor(sum, m); }
    if (mx != row_max) {
      let alpha = exp(row_max - mx);
      row_sum *= alpha;
      for (var c = 0u; c < DVP / LPR; c++) {
        let cc = part + (c + r) % (DVP / LPR) * LPR;
        o_tile[r * DVP + cc] *= alpha;
      }
    }
    row_sum += sum;
    row_max = mx;
    workgroupBarrier();
    // output += p·v, the output tiles dealt round-robin over the subgroups.
    for (var u = 0u; u < ROUNDS; u++) {
      let t = sub + u * SUBGROUPS;
)" + out_tile + R"(      var o = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>, row_major>(&o_tile, o_at, o_stride);
)" + accumulate + R"(      subgroupMatrixStore<row_major>(&o_tile, o_at, o, o_stride);
    }
  }
  workgroupBarrier();
  let b = bh / d.HEADS;
  let h = bh % d.HEADS;
  if (qi < d.LQ) {
    for (var c = part; c < DV; c += LPR) { store_y((b * d.LQ + qi) * d.HEADS * DV + h * DV + c, o_tile[r * DVP + c] / row_sum); }
  }
}
)";
  return src;
}

}  // namespace websd::wgsl
