#pragma once
#include <cstdint>

namespace websd::cpu {

// Columns of B per register tile of the micro-kernel (sgemm.cpp explains the choice).
inline constexpr int64_t kGemmNR = 16;

// The right-hand operand B [K, N] of sgemm, delivered block by block in the order the micro-kernel
// reads it. pack() writes rows [k0, k0 + kc) of columns [n0, n0 + nc) to dst as ceil(nc / kGemmNR)
// strips one after another; a strip holds kc rows of kGemmNR consecutive columns, zero-filled past
// column n0 + nc. Because B's layout is only ever seen here, a convolution can hand over an image
// and build its im2col columns while packing, never storing the full im2col matrix.
class GemmB {
 public:
  virtual ~GemmB() = default;
  virtual void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const = 0;
};

// B as a strided view of memory: element (k, n) at data[k * row_stride + n * col_stride].
class StridedB final : public GemmB {
 public:
  StridedB(const float* data, int64_t row_stride, int64_t col_stride)
      : data_(data), row_stride_(row_stride), col_stride_(col_stride) {}
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const override;

 private:
  const float* data_;
  int64_t row_stride_, col_stride_;
};

// Where sgemm writes: C [M, N] row-major with leading dimension ld.
struct GemmOut {
  float* data;
  int64_t ld;
  bool accumulate = false;          // C += A·B rather than C = A·B
  const float* row_bias = nullptr;  // [M], added to row i (a convolution's per-channel bias)
  const float* col_bias = nullptr;  // [N], added to column j (a linear layer's bias)
};

// C = A·B (+ biases) for A [M, K] row-major with leading dimension lda. Spreads tiles of C over
// the thread pool (inline when called from inside a parallel_for). Every element of C sums its K
// products in the same order whatever the number of threads, so results do not depend on it.
void sgemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const GemmB& b, const GemmOut& c);

}  // namespace websd::cpu
