#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/dims.h"

namespace websd::wgsl {

// The float32 product linear and conv2d both run: C [M, N] = L [M, K] · R [N, K]ᵀ. One workgroup
// of 256 invocations per tile of TM rows × 4096/TM columns (TM 16, 32 or 64: few rows get thin,
// wide tiles rather than mostly empty square ones), 4×4 outputs per invocation kept in registers;
// each step of TK along K stages both operands' slices in workgroup memory. Sizes need not be
// multiples of the tile (what lies past the edges loads as zero and is not written).
//
// The caller's source, before tiled_gemm_main, defines the operands and the output:
//   fn load_left(row: u32, k: u32) -> f32        L [row, k], row < M, k < K
//   fn load_right(row: u32, k: u32) -> f32       R [row, k] (Right::Rows)
//   fn write_y(m: u32, n: u32, v: f32)           m < M, n < N (product_io.h's)
// Right::Rows reads R a row at a time along K (linear: rows of the weight). Right::Im2col gathers
// R as conv2d's im2col matrix of load_x, with a pixel fixed per invocation and its offsets computed
// once (constants KH, KW and the sizes d.CIN, H, W, OH, OW, STRIDE, PAD_T, PAD_L in the caller's
// source). The product's own sizes are add_tiled_gemm_dims' fields of the caller's uniform (dims.h),
// so only the tile's rows (TM) and R's kind shape the source.
enum class Right { Rows, Im2col };

struct TiledGemmSpec {
  uint32_t m = 0, n = 0, k = 0;
  Right right = Right::Rows;
  uint32_t groups_x = 1;  // workgroups per row of the dispatch grid, whose tiles are numbered row by row
};

uint32_t tiled_gemm_tile_rows(const TiledGemmSpec& spec);  // TM
uint32_t tiled_gemm_tiles(const TiledGemmSpec& spec);      // workgroups in all
void add_tiled_gemm_dims(const TiledGemmSpec& spec, Dims& dims);
std::string tiled_gemm_main(const TiledGemmSpec& spec);

}  // namespace websd::wgsl
