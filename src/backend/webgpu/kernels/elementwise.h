#pragma once
#include <cstdint>
#include <string>

namespace websd::wgsl {

enum class ElementwiseOp { Add, Scale, SiLU, GELU, QuickGELU };

// One elementwise kernel, specialised on its sizes. Bindings: x (and b for Add), y, then a
// uniform { s: f32 } for Scale. Add repeats b [b_count] over x [count].
struct ElementwiseSpec {
  ElementwiseOp op;
  uint32_t count = 0;
  uint32_t b_count = 0;       // Add only
  uint32_t groups_x = 1;      // workgroups per row of the 2-D dispatch grid
};

constexpr uint32_t kElementwiseWorkgroup = 256;

std::string elementwise_source(const ElementwiseSpec& spec);
// Pipeline cache key: everything the source depends on.
std::string elementwise_key(const ElementwiseSpec& spec);

}  // namespace websd::wgsl
