#pragma once
#include <cstdint>

namespace websd {

// IEEE half and bfloat16 ↔ float. f32_to_f16 rounds to nearest even and keeps NaN and ±∞: the
// conversions checkpoints and the WebGPU backend's float16 weights rely on.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);

}  // namespace websd
