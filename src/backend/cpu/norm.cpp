#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.h"
#include "backend/cpu/thread_pool.h"
#include "backend/cpu/vector_math.h"

namespace websd::cpu {
namespace {

// Values per parallel_for range: enough to repay waking a thread.
constexpr int64_t kMinRangeValues = 16384;
constexpr int64_t kLanes = 8;

struct Moments {
  float mean, inv_std;
};

// Mean and 1/sqrt(variance + eps) of n values in one pass. Sums run in double over independent
// lanes (which the compiler vectorises) of d = x - x[0]: shifting by one of the values keeps
// E[d²] - E[d]² from cancelling when the mean is large against the spread (the VAE's activations),
// and double precision absorbs the rest.
Moments moments(const float* x, int64_t n, float eps) {
  const double shift = x[0];
  double sum[kLanes] = {}, sum_sq[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t t = 0; t < kLanes; ++t) {
      const double d = x[i + t] - shift;
      sum[t] += d;
      sum_sq[t] += d * d;
    }
  for (; i < n; ++i) {
    const double d = x[i] - shift;
    sum[0] += d;
    sum_sq[0] += d * d;
  }
  double s = 0, sq = 0;
  for (int64_t t = 0; t < kLanes; ++t) {
    s += sum[t];
    sq += sum_sq[t];
  }
  const double mean = s / static_cast<double>(n);
  const double var = std::max(0.0, sq / static_cast<double>(n) - mean * mean);
  return {static_cast<float>(shift + mean), static_cast<float>(1.0 / std::sqrt(var + eps))};
}

}  // namespace

void group_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t channels,
                int64_t spatial, int64_t groups, float eps, bool silu) {
  const int64_t group_channels = channels / groups, group_size = group_channels * spatial;
  parallel_for(n * groups, std::max<int64_t>(1, kMinRangeValues / group_size), [&](int64_t g0, int64_t g1) {
    for (int64_t ng = g0; ng < g1; ++ng) {
      const float* xg = x + ng * group_size;
      float* yg = y + ng * group_size;
      const Moments m = moments(xg, group_size, eps);
      for (int64_t c = 0; c < group_channels; ++c) {
        const int64_t ch = ng % groups * group_channels + c;
        const float a = m.inv_std * gamma[ch], b = beta[ch];
        const float* xc = xg + c * spatial;
        float* yc = yg + c * spatial;
        if (silu)
          for (int64_t i = 0; i < spatial; ++i) yc[i] = x_sigmoid((xc[i] - m.mean) * a + b, 1.0f);
        else
          for (int64_t i = 0; i < spatial; ++i) yc[i] = (xc[i] - m.mean) * a + b;
      }
    }
  });
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t dim,
                float eps) {
  parallel_for(rows, std::max<int64_t>(1, kMinRangeValues / dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      const Moments m = moments(xr, dim, eps);
      for (int64_t i = 0; i < dim; ++i) yr[i] = (xr[i] - m.mean) * m.inv_std * gamma[i] + beta[i];
    }
  });
}

}  // namespace websd::cpu
