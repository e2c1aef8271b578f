#include "backend/webgpu/kernels/conv2d.h"

#include "backend/webgpu/kernels/tiled_gemm.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

uint64_t pixels(const Conv2dSpec& s) { return uint64_t{s.batch} * s.out_h * s.out_w; }

void validate(const Conv2dSpec& s) {
  const bool sizes = s.batch && s.in_channels && s.in_h && s.in_w && s.out_channels && s.kernel_h && s.kernel_w &&
                     s.out_h && s.out_w && s.stride;
  // Indices are u32: every tensor (and the weight matrix) must have fewer than 2^32 values.
  const uint64_t k = uint64_t{s.in_channels} * s.kernel_h * s.kernel_w;
  const bool fits = uint64_t{s.batch} * s.in_channels * s.in_h * s.in_w <= UINT32_MAX &&
                    k * s.out_channels <= UINT32_MAX && pixels(s) * s.out_channels <= UINT32_MAX;
  if (!sizes || !fits || s.groups_x == 0)
    throw Error("webgpu backend: conv2d: no kernel for " + std::to_string(s.batch) + "x" + std::to_string(s.in_channels) +
                "x" + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " images, " +
                std::to_string(s.out_channels) + " " + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) +
                " filters, stride " + std::to_string(s.stride) + " (empty, or past 32-bit indices)");
}

// Channels × pixels: the weight's rows times the im2col matrix.
TiledGemmSpec gemm(const Conv2dSpec& s) {
  validate(s);
  return {s.out_channels, static_cast<uint32_t>(pixels(s)), s.in_channels * s.kernel_h * s.kernel_w, Right::Im2col, s.groups_x};
}

}  // namespace

uint32_t conv2d_tile_channels(const Conv2dSpec& s) { return tiled_gemm_tile_rows(gemm(s)); }
uint32_t conv2d_tiles(const Conv2dSpec& s) { return tiled_gemm_tiles(gemm(s)); }

Dims conv2d_dims(const Conv2dSpec& s) {
  Dims dims;
  add_tiled_gemm_dims(gemm(s), dims);
  dims.add("CIN", s.in_channels).add("H", s.in_h).add("W", s.in_w).add("COUT", s.out_channels).add("OH", s.out_h);
  dims.add("OW", s.out_w).add("STRIDE", s.stride).add("PAD_T", s.pad_top).add("PAD_L", s.pad_left);
  return dims;
}

std::string conv2d_key(const Conv2dSpec& s) {
  return "conv:" + std::to_string(conv2d_tile_channels(s)) + ":" + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) +
         ":" + view_key(s.x) + ":" + view_key(s.w) + ":" + product_output_key(s.out);
}

std::string conv2d_source(const Conv2dSpec& s) {
  const TiledGemmSpec g = gemm(s);
  uint32_t binding = 0;
  std::string src = bind_tensor("x", s.x, false, binding);
  src += bind_tensor("w", s.w, false, binding);
  src += bind_product_output(s.out, binding);
  src += conv2d_dims(s).declare(binding);
  src += "const KH: u32 = " + u32(s.kernel_h) + ";\nconst KW: u32 = " + u32(s.kernel_w) + ";\n";
  src += "fn load_left(row: u32, k: u32) -> f32 { return load_w(row * d.K + k); }\n";
  src += conv2d_write_y(s.out);
  return src + tiled_gemm_main(g);
}

}  // namespace websd::wgsl
