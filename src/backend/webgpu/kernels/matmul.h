#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/product_io.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// y [M, N] = x [M, K] · w [N, K]ᵀ (+ bias [N], + fused ops): PyTorch's Linear, on the float32
// tiled GEMM (tiled_gemm.h) with x's rows as L and the weight's as R. Bindings: x, w, then the
// output's (product_io.h), then the uniform of matmul_dims (dims.h): one pipeline serves every
// shape with the same tile rows, fused ops and bindings.
struct MatmulSpec {
  uint32_t m = 0, n = 0, k = 0;
  bool geglu = false;     // x is [M, 2K], read as geglu(x) (product_io.h)
  uint32_t groups_x = 1;  // workgroups per row of the dispatch grid (matmul_tiles in all)
  TensorView x, w;
  ProductOutput out;
};

uint32_t matmul_tiles(const MatmulSpec& spec);
std::string matmul_source(const MatmulSpec& spec);
Dims matmul_dims(const MatmulSpec& spec);
std::string matmul_key(const MatmulSpec& spec);

}  // namespace websd::wgsl
