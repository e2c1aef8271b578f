#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// y [M, N] = x [M, K] · w [N, K]ᵀ (+ bias [N]): PyTorch's Linear. Bindings: x, w, (bias), y.
// One TILE×TILE workgroup per output tile; sizes need not be multiples of the tile.
struct MatmulSpec {
  uint32_t m = 0, n = 0, k = 0;
  bool bias = false;
  TensorView x, w, b, y;
};

constexpr uint32_t kMatmulTile = 16;

std::string matmul_source(const MatmulSpec& spec);
std::string matmul_key(const MatmulSpec& spec);

}  // namespace websd::wgsl
