#pragma once
#include <cstdint>
#include <string>

namespace websd::wgsl {

// The statements f(i) for i < n (i as decimal text), concatenated: a loop unrolled in the generated
// source. Kernels keep per-invocation accumulators as scalars in unrolled statements rather than
// loop-indexed arrays, which SwiftShader (the CPU device the tests run on) leaves in memory.
template <class F>
std::string each(uint32_t n, F f) {
  std::string out;
  for (uint32_t i = 0; i < n; ++i) out += f(std::to_string(i));
  return out;
}

// f(i, j) for i < n, j < m, j fastest.
template <class F>
std::string each2(uint32_t n, uint32_t m, F f) {
  return each(n, [&](const std::string& i) { return each(m, [&](const std::string& j) { return f(i, j); }); });
}

}  // namespace websd::wgsl
