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

std::string f16_pack_main(uint64_t words, uint32_t row_len, uint32_t groups_x) {
  const std::string wg = std::to_string(kF16PackWorkgroup);
  return f16_pair_source() + "const PACK_WORDS: u32 = " + std::to_string(words) + "u;\nconst ROW_WORDS: u32 = " +
         std::to_string(row_len / 2) + "u;\nconst PACK_GROUPS_X: u32 = " + std::to_string(groups_x) + "u;\n" + R"(@compute @workgroup_size()" + wg + R"()
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let word = (wg.x + wg.y * PACK_GROUPS_X) * )" + wg + R"(u + t;
  if (word >= PACK_WORDS) { return; }
  let r = word / ROW_WORDS;
  let k = word % ROW_WORDS * 2u;
  packed[word] = f16_pair(gather(r, k), gather(r, k + 1u));
}
)";
}

}  // namespace websd::wgsl
