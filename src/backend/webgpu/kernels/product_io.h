#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// The output side of linear and conv2d, one piece for their float32 kernels (matmul, conv2d) and
// the tensor-core ones: the bindings b (bias), r (residual) and y, and a function storing one value
// of the product with what follows it (Backend's Fusion) fused in:
//   linear: fn write_y(row: u32, col: u32, v: f32), row < M and col < N of the product [M, N]
//           (d.N, dims.h); y is [M, N], or where image_pixels is set the image [M / P, N, P] of each
//           P = image_pixels rows (nlc_to_nchw; d.IMG, which add_product_dims adds);
//   conv2d: fn write_y(channel: u32, pixel: u32, v: f32), pixel = image·OH·OW + position (d.COUT,
//           d.OH, d.OW); y is [N, COUT, OH, OW].
// Each stores v + b[col or channel] (+ conv2d's cb[image · COUT + channel]) + r at the place it stores.
struct ProductOutput {
  bool bias = false;
  bool channel_add = false;  // conv2d only
  bool residual = false;
  uint32_t image_pixels = 0;  // linear only
  TensorView b, cb, r, y;
};

// Declares b (with bias), cb (with channel_add), r (with residual) and y, in that order, from
// `next_binding` on.
std::string bind_product_output(const ProductOutput& out, uint32_t& next_binding);
std::string linear_write_y(const ProductOutput& out);
// The sizes linear_write_y reads beyond the product's own.
void add_product_dims(const ProductOutput& out, Dims& dims);
std::string conv2d_write_y(const ProductOutput& out);
// What the declarations and write_y depend on, for pipeline cache keys.
std::string product_output_key(const ProductOutput& out);

// The input side of linear, one piece for the float32 and the tensor-core kernels:
// fn load_input(row: u32, k: u32) -> f32, element (row, k) of x [M, K] (binding x and d.K declared
// by the caller), or where geglu is set of geglu(x) for x [M, 2K] (Backend's Fusion).
std::string linear_load_input(bool geglu);

}  // namespace websd::wgsl
