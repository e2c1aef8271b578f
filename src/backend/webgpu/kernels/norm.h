#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Group and layer normalisation as one kernel: `rows` rows of `row_size` contiguous values, one
// workgroup per row reducing in workgroup memory in two passes (mean, then the mean of squared
// deviations), then y = (x − mean)·rsqrt(var + eps)·gamma[ch] + beta[ch], optionally SiLU. The
// channel of value j of row r is (r % groups)·(row_size / spatial) + j / spatial: group_norm has
// rows = N·groups and spatial = H·W; layer_norm has groups = 1 and spatial = 1 (ch = j).
// Bindings: x, gamma, beta, y, then a uniform { eps: f32 }.
struct NormSpec {
  uint32_t rows = 0, row_size = 0, groups = 1, spatial = 1;
  bool silu = false;
  uint32_t groups_x = 1;  // workgroups per row of the 2-D dispatch grid
  TensorView x, gamma, beta, y;
};

constexpr uint32_t kNormWorkgroup = 256;

std::string norm_source(const NormSpec& spec);
std::string norm_key(const NormSpec& spec);

}  // namespace websd::wgsl
