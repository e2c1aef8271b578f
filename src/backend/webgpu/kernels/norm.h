#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Group and layer normalisation as one kernel: `rows` rows of `row_size` contiguous values, one
// workgroup per row reducing in workgroup memory in two passes (mean, then the mean of squared
// deviations), then y = (x − mean)·rsqrt(var + eps)·gamma[ch] + beta[ch], optionally SiLU. The
// channel of value j of row r is (r % groups)·(row_size / spatial) + j / spatial: group_norm has
// rows = N·groups and spatial = H·W; layer_norm has groups = 1 and spatial = 1 (ch = j).
// Bindings: x, gamma, beta, y, then the uniform of norm_dims (dims.h; eps among the sizes, as its
// bits): a pipeline serves every shape with the same workgroup width, chunking and SiLU.
// Long rows (group_norm on large images: the VAE's 32 rows of a million values) would leave most of
// the GPU idle with a workgroup per row, so they split into `chunks` (norm_chunks): a stats kernel
// writes each chunk's mean and sum of squared deviations (two passes over the chunk) to a scratch
// [rows, chunks, 3] (the chunk's sum about the row's first value, that value, its sum of squared
// deviations), and the norm kernel, a workgroup per chunk, merges its row's chunk statistics
// (Chan's parallel formula) before normalising its chunk. Bindings then: x, gamma, beta, stats, y,
// the uniform; the stats kernel's: x, stats, the uniform.
// In place, y is x: the kernel reads and writes y and binds no x (the bindings otherwise the
// same). Each value is read for the last time by the invocation that writes it, and a chunk's
// workgroup reads nothing of another chunk's (the row's first value comes from the stats).
struct NormSpec {
  uint32_t rows = 0, row_size = 0, groups = 1, spatial = 1;
  uint32_t chunks = 1;  // per row; above 1 the statistics come from the stats kernel
  bool silu = false;
  bool in_place = false;
  uint32_t groups_x = 1;  // workgroups per row of the 2-D dispatch grid
  TensorView x, gamma, beta, y;
};

// The widest workgroup (norm_workgroup).
constexpr uint32_t kNormWorkgroup = 256;
// Rows split until there are this many workgroups, in chunks of at least this many values.
constexpr uint32_t kNormTargetGroups = 1024;
constexpr uint32_t kNormMinChunk = 1024;

// Floats the stats kernel writes per chunk.
constexpr uint32_t kNormChunkStats = 3;

uint32_t norm_chunks(uint32_t rows, uint32_t row_size);
// Values per chunk: the last chunk of a row may be shorter.
uint32_t norm_chunk_size(const NormSpec& spec);
// Invocations of a workgroup: the smallest power of two from 32 up to kNormWorkgroup that covers a
// chunk. A LayerNorm over 32 channels then reduces in 32 invocations, not 256 mostly idle ones: on
// SwiftShader, where a barrier costs a fiber switch per four invocations, 11× fewer switches.
uint32_t norm_workgroup(const NormSpec& spec);

Dims norm_dims(const NormSpec& spec, float eps);
std::string norm_source(const NormSpec& spec);
std::string norm_key(const NormSpec& spec);
std::string norm_stats_source(const NormSpec& spec);
std::string norm_stats_key(const NormSpec& spec);

}  // namespace websd::wgsl
