#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/attention.h"
#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Attention on the tensor cores (float16 subgroup matrices, float32 sums), for the devices that
// tensor_core_gemm.h serves; the same op as attention.h.
//   pack (three dispatches): q, k and v to float16, one [batch·heads, L padded, D padded to 16]
//        matrix each, zero in the padding;
//   attention: a workgroup of four subgroups (two of 128 lanes) per (batch item, head, block of
//        16·query_tiles queries) walks the keys 64 at a time (128 for values 256 wide or more):
//        scores = q·kᵀ on subgroup matrices (each subgroup a share of the block's tiles) into
//        workgroup memory; an online softmax in float32 there, each query row on a few
//        neighbouring lanes of one subgroup that combine their maximum and sum by subgroup
//        shuffles (the output so far rescaled when the maximum moves); the probabilities as
//        float16; then output += p·v on subgroup matrices, the output tiles dealt round-robin over
//        the subgroups, the output block living in workgroup memory; at the end each row is
//        divided by its sum.
struct TensorCoreAttentionSpec {
  uint32_t batch = 0, heads = 0, lq = 0, lk = 0, head_dim = 0, value_dim = 0;
  bool causal = false;
  uint32_t query_tiles = 2;  // 16-row tiles of queries per workgroup: 2, or 1 where workgroup memory is short
  uint32_t subgroup = 32;    // the device's subgroup width
  uint32_t groups_x = 1;
  TensorView y;
};

// One of the three packs: x [batch, length, heads·dim] → [batch·heads, padded length, padded dim].
struct AttentionPackSpec {
  uint32_t batch = 0, heads = 0, length = 0, length_pad = 0, dim = 0, dim_pad = 0;
  uint32_t groups_x = 1;
  TensorView x;
};


uint32_t pad16(uint32_t n);
// The spec of the float32 kernel's op, and its three packs (q, k, v).
TensorCoreAttentionSpec tensor_core_spec(const AttentionSpec& attention);
AttentionPackSpec tensor_core_pack_q(const TensorCoreAttentionSpec& spec);
AttentionPackSpec tensor_core_pack_k(const TensorCoreAttentionSpec& spec);
AttentionPackSpec tensor_core_pack_v(const TensorCoreAttentionSpec& spec);
// Values of a pack's output (float16; words are half as many).
uint64_t attention_pack_values(const AttentionPackSpec& pack);
// Bytes of workgroup memory the attention kernel needs (the device's limit decides if it runs).
uint32_t tensor_core_attention_workgroup_bytes(const TensorCoreAttentionSpec& spec);
uint32_t tensor_core_attention_groups(const TensorCoreAttentionSpec& spec);
// Lanes that share a query row in the softmax; 0 where the subgroup width leaves no even share
// (then the kernel does not run).
uint32_t tensor_core_attention_lanes_per_row(const TensorCoreAttentionSpec& spec);

// Each kernel's sizes come from its uniform (dims.h, the binding after its tensors): a pack pipeline
// serves every shape, an attention pipeline every shape with the same head widths, query tiles and
// masking.
Dims attention_pack_dims(const AttentionPackSpec& pack);
Dims tensor_core_attention_dims(const TensorCoreAttentionSpec& spec);
std::string attention_pack_source(const AttentionPackSpec& pack);
std::string attention_pack_key(const AttentionPackSpec& pack);
std::string tensor_core_attention_source(const TensorCoreAttentionSpec& spec);
std::string tensor_core_attention_key(const TensorCoreAttentionSpec& spec);

}  // namespace websd::wgsl
