#include "backend/webgpu/kernels/f16_pack.h"

namespace websd::wgsl {

uint32_t f16_pack_groups(uint64_t words) {
  return static_cast<uint32_t>((words + kF16PackWorkgroup - 1) / kF16PackWorkgroup);
}

std::string f16_pair_source() {
  return R"(fn f16_pair(a: f32, b: f32) -> u32 {
  let f16_max = vec2<f32>(65504.0);
  return pack2x16float(clamp(vec2<f32>(a, b), -f16_max, f16_max));
}
)";
}

std::string f16_pack_main(const std::string& words, const std::string& row_words, const std::string& groups_x) {
  const std::string wg = std::to_string(kF16PackWorkgroup);
  return f16_pair_source() + R"(@compute @workgroup_size()" + wg + R"()
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let word = (wg.x + wg.y * )" + groups_x + ") * " + wg + R"(u + t;
  if (word >= )" + words + R"() { return; }
  let r = word / ()" + row_words + R"();
  let k = word % ()" + row_words + R"() * 2u;
  packed[word] = f16_pair(gather(r, k), gather(r, k + 1u));
}
)";
}

}  // namespace websd::wgsl
