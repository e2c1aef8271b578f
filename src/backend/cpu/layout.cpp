#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/thread_pool.h"

namespace websd::cpu {
namespace {

// Values per parallel_for range: enough to repay waking a thread.
constexpr int64_t kMinRangeValues = 32768;
// Transposes go tile by tile so both the rows read and the rows written stay in cache.
constexpr int64_t kTile = 32;

// torch's 'nearest': source floor(dst · in/out) with the ratio in float32, clamped to the input.
int64_t nearest_source(int64_t dst, int64_t in_size, int64_t out_size) {
  const float ratio = static_cast<float>(in_size) / static_cast<float>(out_size);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(dst) * ratio)), in_size - 1);
}

}  // namespace

void transpose(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols) {
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  parallel_for(batch * row_tiles, std::max<int64_t>(1, kMinRangeValues / (kTile * cols)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* xb = x + t / row_tiles * rows * cols;
      float* yb = y + t / row_tiles * rows * cols;
      const int64_t r0 = t % row_tiles * kTile, r1 = std::min(rows, r0 + kTile);
      for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const int64_t c1 = std::min(cols, c0 + kTile);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) yb[c * rows + r] = xb[r * cols + c];
      }
    }
  });
}

void upsample_nearest(const float* x, float* y, int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                      int64_t out_w) {
  std::vector<int64_t> src_col(static_cast<size_t>(out_w));
  for (int64_t j = 0; j < out_w; ++j) src_col[j] = nearest_source(j, in_w, out_w);
  parallel_for(planes * out_h, std::max<int64_t>(1, kMinRangeValues / out_w), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = x + (r / out_h * in_h + nearest_source(r % out_h, in_h, out_h)) * in_w;
      float* dst = y + r * out_w;
      for (int64_t j = 0; j < out_w; ++j) dst[j] = src[src_col[j]];
    }
  });
}

}  // namespace websd::cpu
