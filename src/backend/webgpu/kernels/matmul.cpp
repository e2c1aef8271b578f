#include "backend/webgpu/kernels/matmul.h"

#include "backend/webgpu/kernels/tiled_gemm.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

TiledGemmSpec gemm(const MatmulSpec& s) {
  // Indices are u32: x, w and y must each have fewer than 2^32 values.
  if (uint64_t{s.m} * s.k * (s.geglu ? 2 : 1) > UINT32_MAX || uint64_t{s.n} * s.k > UINT32_MAX ||
      uint64_t{s.m} * s.n > UINT32_MAX || s.groups_x == 0)
    throw Error("webgpu backend: linear: no kernel for " + std::to_string(s.m) + " rows of " + std::to_string(s.k) +
                " inputs and " + std::to_string(s.n) + " outputs (past 32-bit indices)");
  return {s.m, s.n, s.k, Right::Rows, s.groups_x};
}

}  // namespace

uint32_t matmul_tiles(const MatmulSpec& s) { return tiled_gemm_tiles(gemm(s)); }

Dims matmul_dims(const MatmulSpec& s) {
  Dims dims;
  add_tiled_gemm_dims(gemm(s), dims);
  add_product_dims(s.out, dims);
  return dims;
}

std::string matmul_key(const MatmulSpec& s) {
  return "mm:" + std::to_string(tiled_gemm_tile_rows(gemm(s))) + (s.geglu ? ":geglu:" : ":") + view_key(s.x) + ":" +
         view_key(s.w) + ":" + product_output_key(s.out);
}

std::string matmul_source(const MatmulSpec& s) {
  const TiledGemmSpec g = gemm(s);
  std::string src;
  uint32_t next = 0;
  src += bind_tensor("x", s.x, false, next);
  src += bind_tensor("w", s.w, false, next);
  src += bind_product_output(s.out, next);
  src += matmul_dims(s).declare(next);
  src += linear_load_input(s.geglu) + "fn load_left(row: u32, k: u32) -> f32 { return load_input(row, k); }\n";
  src += "fn load_right(row: u32, k: u32) -> f32 { return load_w(row * d.K + k); }\n";
  src += linear_write_y(s.out);
  return src + tiled_gemm_main(g);
}

}  // namespace websd::wgsl
