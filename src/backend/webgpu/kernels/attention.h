#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Multi-head scaled dot-product attention, flash-attention style: q [B, Lq, heads·D],
// k [B, Lk, heads·D], v [B, Lk, heads·Dv] → y [B, Lq, heads·Dv], scores scaled by 1/sqrt(D), causal
// masking key j > query i. One workgroup of 256 invocations per (batch item, head, block of
// queries) walks the keys a block at a time with an online softmax (the running maximum and sum
// of each query row, rescaling the output accumulated so far when the maximum grows), so only one
// block of scores ever exists, in workgroup memory. The output rows live in registers, spread over
// the invocations of a row; q and k reach workgroup memory in slices of the head dimension and v
// in slices of the key block, so any head size up to kAttentionMaxValueDim fits WebGPU's default
// 16 KiB of workgroup memory. Bindings (as tensor_io lays them out): q, k, v, y, then the uniform of
// attention_dims (dims.h): a pipeline serves every batch, head count and length for its head widths.
struct AttentionSpec {
  uint32_t batch = 0, heads = 0, lq = 0, lk = 0;
  uint32_t head_dim = 0, value_dim = 0;  // per head: D (q and k) and Dv (v and y)
  bool causal = false;
  uint32_t groups_x = 1;  // workgroups per row of the 2-D dispatch grid, numbered row by row
  TensorView q, k, v, y;
};

constexpr uint32_t kAttentionMaxValueDim = 1024;

// Query rows per workgroup: fewer for wide heads, whose output rows take more registers.
uint32_t attention_block_queries(const AttentionSpec& spec);
// Workgroups the dispatch needs in all.
uint32_t attention_workgroups(const AttentionSpec& spec);

// 1/sqrt(D) exactly as the CPU backend rounds it, as the bits of a u32 literal (a decimal literal
// would be rounded again).
std::string attention_scale_bits(uint32_t head_dim);

Dims attention_dims(const AttentionSpec& spec);
std::string attention_source(const AttentionSpec& spec);
std::string attention_key(const AttentionSpec& spec);

}  // namespace websd::wgsl
