#include "backend/cpu/sgemm.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/scratch.h"
#include "backend/cpu/thread_pool.h"

namespace websd::cpu {
namespace {

// Register tile: kMR rows × kNR columns of C, accumulated in sixteen 4-wide vectors (SSE on
// x86-64, SIMD128 in WebAssembly). Of the shapes tried (2 to 8 rows, 8 to 32 columns), 4x16 was
// among the fastest with both GCC and Clang vectorising plain loops (in isolation about 43 and
// 35 GFLOP/s per core with SSE2 here), and 24 or more columns waste more on narrow products.
constexpr int64_t kMR = 4, kNR = kGemmNR;
// Cache blocking: a depth block of at most kKC keeps one packed B strip (kKC x kNR floats, 24 KB)
// in L1 while the micro-kernel sweeps the task's packed A block (up to kMaxTaskRows x kKC floats,
// 576 KB) in L2. 384 rather than 256 lets the common depth 320 run as one block.
constexpr int64_t kKC = 384;
// A task computes one tile of C over the whole depth, packing its own blocks of A and B, so a
// product needs a single parallel_for: on cores shared with other work, every barrier waits for
// the slowest thread. Tiles this large keep the repacking (B once per row of tiles, A once per
// column) to a few percent, and give each thread several tasks on UNet-sized products.
constexpr int64_t kMaxTaskRows = 384, kMaxTaskCols = 256;
// Below this much work per parallel_for range, waking a thread costs more than it saves.
constexpr int64_t kMinFlopsPerRange = int64_t{1} << 20;

thread_local std::vector<float> t_packed_a, t_packed_b;

// Rows [0, mc) and columns [0, kc) of A as panels of kMR rows, each kc columns of kMR values
// (zero rows pad the last panel), so the micro-kernel reads A sequentially.
void pack_a(const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  for (int64_t i = 0; i < mc; i += kMR, dst += kMR * kc)
    for (int64_t r = 0; r < kMR; ++r) {
      if (i + r < mc) {
        const float* row = a + (i + r) * lda;
        for (int64_t k = 0; k < kc; ++k) dst[k * kMR + r] = row[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) dst[k * kMR + r] = 0.0f;
      }
    }
}

// Adds a finished register tile to C[i .. i + mr, j .. j + nr]; the first depth block writes
// (or adds, when accumulating) the biases too. Full tiles get compile-time bounds so the loops
// vectorise: with a shallow depth (attention's 40-wide heads) a scalar store costs as much as the
// products.
template <bool kFullTile>
void store_tile(const float (&acc)[kMR][kNR], const GemmOut& c, int64_t i, int64_t j, int64_t mr, int64_t nr,
                bool first_block) {
  const int64_t rows = kFullTile ? kMR : mr, cols = kFullTile ? kNR : nr;
  float col_bias[kNR] = {};
  if (first_block && c.col_bias)
    for (int64_t x = 0; x < cols; ++x) col_bias[x] = c.col_bias[j + x];
  for (int64_t r = 0; r < rows; ++r) {
    const float row_bias = first_block && c.row_bias ? c.row_bias[i + r] : 0.0f;
    float* out = c.data + (i + r) * c.ld + j;
    if (first_block && !c.accumulate)
      for (int64_t x = 0; x < cols; ++x) out[x] = acc[r][x] + row_bias + col_bias[x];
    else
      for (int64_t x = 0; x < cols; ++x) out[x] += acc[r][x] + row_bias + col_bias[x];
  }
}

// C[i .. i + mr, j .. j + nr] gets one packed A panel times one packed B strip. The loop order
// (columns outside rows) matters: GCC keeps more of the tile in registers this way, 15% faster.
// Not instrumented by the sanitizers (`make test-asan`): it reads only the packed blocks that
// sgemm sized and filled itself, and checked, it was 90 % of the checked suites' time, 7x slower
// than unchecked; the packing, which reads the caller's tensors, and the stores stay checked.
__attribute__((no_sanitize("address", "undefined"))) void micro_tile(int64_t kc, const float* a, const float* b, const GemmOut& c, int64_t i, int64_t j, int64_t mr,
                int64_t nr, bool first_block) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR)
    for (int64_t x = 0; x < kNR; ++x) {
      const float bx = b[x];
      for (int64_t r = 0; r < kMR; ++r) acc[r][x] += a[r] * bx;
    }
  if (mr == kMR && nr == kNR)
    store_tile<true>(acc, c, i, j, mr, nr, first_block);
  else
    store_tile<false>(acc, c, i, j, mr, nr, first_block);
}

// An empty sum: C is just the biases (or unchanged, when accumulating without them).
void bias_only(int64_t M, int64_t N, const GemmOut& c) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const float v = (c.row_bias ? c.row_bias[i] : 0.0f) + (c.col_bias ? c.col_bias[j] : 0.0f);
      float& out = c.data[i * c.ld + j];
      out = c.accumulate ? out + v : v;
    }
}

// Splits n into the fewest parts of at most max_part, of equal size rounded up to a multiple of
// `multiple` (the last part may be shorter), so tasks and depth blocks come out balanced.
int64_t balanced_part(int64_t n, int64_t max_part, int64_t multiple) {
  const int64_t parts = (n + max_part - 1) / max_part;
  const int64_t part = (n + parts - 1) / parts;
  return (part + multiple - 1) / multiple * multiple;
}

}  // namespace

void StridedB::pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
  for (int64_t j = 0; j < nc; j += kNR, dst += kc * kNR) {
    const int64_t nr = std::min(kNR, nc - j);
    const float* src = data_ + k0 * row_stride_ + (n0 + j) * col_stride_;
    if (col_stride_ == 1) {  // rows of B are contiguous: copy row pieces
      for (int64_t k = 0; k < kc; ++k) {
        const float* row = src + k * row_stride_;
        for (int64_t x = 0; x < kNR; ++x) dst[k * kNR + x] = x < nr ? row[x] : 0.0f;
      }
    } else {  // columns are contiguous (B is a transposed matrix): copy column pieces
      for (int64_t x = 0; x < kNR; ++x) {
        if (x < nr) {
          const float* col = src + x * col_stride_;
          for (int64_t k = 0; k < kc; ++k) dst[k * kNR + x] = col[k * row_stride_];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kNR + x] = 0.0f;
        }
      }
    }
  }
}

void sgemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const GemmB& b, const GemmOut& c) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return bias_only(M, N, c);
  const int64_t task_rows = balanced_part(M, kMaxTaskRows, kMR), task_cols = balanced_part(N, kMaxTaskCols, kNR);
  const int64_t depth = balanced_part(K, kKC, 1);
  const int64_t row_tasks = (M + task_rows - 1) / task_rows, col_tasks = (N + task_cols - 1) / task_cols;
  const int64_t task_flops = 2 * task_rows * task_cols * K;
  parallel_for(row_tasks * col_tasks, std::max<int64_t>(1, kMinFlopsPerRange / task_flops), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = t / col_tasks * task_rows, mc = std::min(task_rows, M - i0);
      const int64_t j0 = t % col_tasks * task_cols, nc = std::min(task_cols, N - j0);
      for (int64_t p0 = 0; p0 < K; p0 += depth) {
        const int64_t kc = std::min(depth, K - p0);
        float* packed_a = scratch(t_packed_a, (mc + kMR - 1) / kMR * kMR * kc);
        float* packed_b = scratch(t_packed_b, (nc + kNR - 1) / kNR * kNR * kc);
        pack_a(a + i0 * lda + p0, lda, mc, kc, packed_a);
        b.pack(p0, kc, j0, nc, packed_b);
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += kMR)
            micro_tile(kc, packed_a + ir * kc, packed_b + jr * kc, c, i0 + ir, j0 + jr, std::min(kMR, mc - ir),
                       std::min(kNR, nc - jr), p0 == 0);
      }
    }
  });
}

}  // namespace websd::cpu
