#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/product_io.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Conv2d as an implicit GEMM on the float32 tiled GEMM (tiled_gemm.h): y [N, Cout, OH, OW] =
// w [Cout, Cin·kh·kw] · im2col(x) [Cin·kh·kw, N·OH·OW] (+ bias [Cout]), x [N, Cin, H, W], where the
// im2col matrix is never stored: each workgroup gathers the slice of it that its tile needs into
// workgroup memory. Tiles of `conv2d_tile_channels(spec)` output channels × 4096/that output pixels
// (pixels of every image of the batch in one row, so small images still fill tiles). Padding below
// and right of the image is implied by out_h and out_w. Bindings (as tensor_io lays them out): x,
// w, then the output's (product_io.h), then the uniform of conv2d_dims (dims.h): one pipeline
// serves every shape with the same tile channels, taps, fused ops and bindings.
struct Conv2dSpec {
  uint32_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  uint32_t out_channels = 0, kernel_h = 0, kernel_w = 0, out_h = 0, out_w = 0;
  uint32_t stride = 1, pad_top = 0, pad_left = 0;
  uint32_t groups_x = 1;  // workgroups per row of the 2-D dispatch grid, whose tiles are numbered row by row
  TensorView x, w;
  ProductOutput out;  // bias [Cout], the fused output ops and y (product_io.h)
};

// Output channels per tile (16, 32 or 64: few channels get thin, wide tiles rather than mostly
// empty square ones); a tile holds 4096 outputs.
uint32_t conv2d_tile_channels(const Conv2dSpec& spec);
// Workgroups the dispatch needs in all (tiles of channels × tiles of pixels).
uint32_t conv2d_tiles(const Conv2dSpec& spec);

std::string conv2d_source(const Conv2dSpec& spec);
Dims conv2d_dims(const Conv2dSpec& spec);
std::string conv2d_key(const Conv2dSpec& spec);

}  // namespace websd::wgsl
