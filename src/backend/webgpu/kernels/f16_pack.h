#pragma once
#include <cstdint>
#include <string>

namespace websd::wgsl {

// The entry point of a kernel that writes a float16 matrix of rows of `row_len` values (even) as
// u32 words: one invocation per word, two neighbouring values of one row, each taken from the
// kernel's own `fn gather(r: u32, k: u32) -> f32` into `packed: array<u32>`, float32 rounded to
// float16 with values past ±65504 saturating. Workgroups numbered row by row over `groups_x`. The
// three sizes are WGSL expressions: literals, or a uniform's fields (dims.h).
constexpr uint32_t kF16PackWorkgroup = 256;

uint32_t f16_pack_groups(uint64_t words);
std::string f16_pack_main(const std::string& words, const std::string& row_words, const std::string& groups_x);
// `fn f16_pair(a: f32, b: f32) -> u32`: the word f16_pack_main writes for two values (the same
// rounding and saturation), for kernels that pack their operands themselves.
std::string f16_pair_source();

}  // namespace websd::wgsl
