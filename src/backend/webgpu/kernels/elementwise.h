#pragma once
#include <cstdint>
#include <string>

#include "backend/webgpu/kernels/dims.h"
#include "backend/webgpu/kernels/tensor_io.h"

namespace websd::wgsl {

enum class ElementwiseOp { Add, Scale, SiLU, GELU, QuickGELU, AddChannel, GEGLU };

// One elementwise kernel per op and bindings. Bindings: x (and b for Add and AddChannel), y (each as
// tensor_io lays it out), then the uniform of elementwise_dims (dims.h: the sizes, and Scale's
// factor as its bits). Add repeats b [b_count] over x [count]. AddChannel adds b[i / inner]
// (one value per (batch, channel) over `inner` spatial values). GEGLU writes count outputs from
// rows of 2·inner inputs: first half · gelu(second half).
struct ElementwiseSpec {
  ElementwiseOp op = ElementwiseOp::Add;
  uint32_t count = 0;
  uint32_t b_count = 0;       // Add and AddChannel
  uint32_t inner = 0;         // AddChannel: spatial size; GEGLU: output row width
  uint32_t groups_x = 1;      // workgroups per row of the 2-D dispatch grid
  TensorView x, b, y;
};

constexpr uint32_t kElementwiseWorkgroup = 256;

// fn gelu_f32(v: f32) -> f32, the exact (erf) GELU, for kernels that apply it on the way.
std::string gelu_source();

// The uniform's values; throws where the sizes do not fit the op.
Dims elementwise_dims(const ElementwiseSpec& spec, float scale);
std::string elementwise_source(const ElementwiseSpec& spec);
// Pipeline cache key: everything the source depends on.
std::string elementwise_key(const ElementwiseSpec& spec);

}  // namespace websd::wgsl
