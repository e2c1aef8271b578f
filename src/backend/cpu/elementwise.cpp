#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.h"
#include "backend/cpu/thread_pool.h"
#include "backend/cpu/vector_math.h"

namespace websd::cpu {
namespace {

// Values per parallel_for range: enough to repay waking a thread.
constexpr int64_t kMinRangeValues = 32768;

int64_t rows_per_range(int64_t cols) { return std::max<int64_t>(1, kMinRangeValues / std::max<int64_t>(cols, 1)); }

// The exact (erf) GELU, as torch's default; std::erf keeps these loops scalar, but they are a
// small part of a UNet step.
float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

}  // namespace

void unary(UnaryOp op, const float* x, float* y, int64_t n) {
  parallel_for(n, kMinRangeValues, [&](int64_t b, int64_t e) {
    switch (op) {
      case UnaryOp::SiLU:
        for (int64_t i = b; i < e; ++i) y[i] = x_sigmoid(x[i], 1.0f);
        break;
      case UnaryOp::GELU:
        for (int64_t i = b; i < e; ++i) y[i] = gelu(x[i]);
        break;
      case UnaryOp::QuickGELU:
        for (int64_t i = b; i < e; ++i) y[i] = x_sigmoid(x[i], 1.702f);
        break;
    }
  });
}

void add_rows(const float* a, const float* b, float* y, int64_t rows, int64_t cols) {
  parallel_for(rows, rows_per_range(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = a[r * cols + j] + b[j];
  });
}

void add_per_row(const float* x, const float* v, float* y, int64_t rows, int64_t cols) {
  parallel_for(rows, rows_per_range(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = x[r * cols + j] + v[r];
  });
}

void scale(const float* x, float s, float* y, int64_t n) {
  parallel_for(n, kMinRangeValues, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] * s;
  });
}

void geglu(const float* x, float* y, int64_t rows, int64_t dim) {
  parallel_for(rows, rows_per_range(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * 2 * dim;
      for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = xr[i] * gelu(xr[dim + i]);
    }
  });
}

}  // namespace websd::cpu
