#pragma once
#include <cstdint>
#include <vector>

namespace websd::cpu {

// Per-thread working memory: a thread_local vector grown to the largest size asked of it and then
// reused, so kernels stop allocating after their first call on each thread.
inline float* scratch(std::vector<float>& buffer, int64_t size) {
  if (static_cast<int64_t>(buffer.size()) < size) buffer.resize(static_cast<size_t>(size));
  return buffer.data();
}

}  // namespace websd::cpu
