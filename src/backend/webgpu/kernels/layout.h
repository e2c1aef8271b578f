#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

// Data movement: one invocation per output value, which it copies from where the op says. Bindings
// (as tensor_io lays them out): the inputs (x; a and b for Concat; table and ids for Embedding,
// the ids' u32 bits stored in an f32 tensor), then y, then the uniform of layout_dims (dims.h): a
// pipeline per op and bindings, whatever the sizes.
//   Nchw2Nlc  x [n, c, s] → y [n, s, c]          (n, c, s = dims a, b, c)
//   Nlc2Nchw  x [n, s, c] → y [n, c, s]          (n, c, s = dims a, b, c)
//   Upsample  x [planes, in_h, in_w] → y [planes, out_h, out_w]   (a, b, c = planes, in_h, in_w; d, e = out_h, out_w)
//   Concat    a [n, ca, s], b [n, cb, s] → y [n, ca + cb, s]      (a, b, c, d = n, ca, cb, s)
//   Embedding table [v, c] rows picked by ids (u32) → y [ids, c]  (a, b, c = ids, c, v)
enum class LayoutOp { Nchw2Nlc, Nlc2Nchw, Upsample, Concat, Embedding };

struct LayoutSpec {
  LayoutOp op = LayoutOp::Nchw2Nlc;
  uint32_t count = 0;  // output values
  uint32_t a = 0, b = 0, c = 0, d = 0, e = 0;
  uint32_t groups_x = 1;
  TensorView in0, in1, y;  // in0: x, a or table; in1: b or ids
};

constexpr uint32_t kLayoutWorkgroup = 256;

// The uniform's values; throws where the sizes do not fit the op.
Dims layout_dims(const LayoutSpec& spec);
std::string layout_source(const LayoutSpec& spec);
std::string layout_key(const LayoutSpec& spec);

}  // namespace websd::wgsl
