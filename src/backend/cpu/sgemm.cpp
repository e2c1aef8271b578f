#include "backend/cpu/sgemm.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/scratch.h"
#include "backend/cpu/thread_pool.h"

namespace websd::cpu {
namespace {

// Register tile: kMR rows × kNR columns of C, accumulated in sixteen 4-wide vectors (SSE on
// x86-64, SIMD128 in WebAssembly). Of the shapes tried, 4x16 was the fastest that both GCC and
// Clang vectorise from plain loops (about 35 GFLOP/s per core with SSE2 here); taller tiles run
// out of registers.
constexpr int64_t kMR = 4, kNR = kGemmNR;
// Cache blocking: a kKC-deep strip of B (16 KB) stays in L1 while the micro-kernel sweeps a
// kMC x kKC block of A (128 KB) held in L2. kNC columns of B are packed at once (2 MB), shared by
// all threads.
constexpr int64_t kKC = 256, kMC = 128, kNC = 2048;
// Columns of C per task: one task is about 17 MFLOP per depth block, which repays packing its A
// block and still leaves every thread several tasks on UNet-sized products.
constexpr int64_t kTaskCols = 256;
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

// C[i .. i + mr, j .. j + nr] gets one packed A panel times one packed B strip. The first depth
// block writes (or adds, when accumulating) the biases too; later ones add to what is there.
void micro_tile(int64_t kc, const float* a, const float* b, const GemmOut& c, int64_t i, int64_t j, int64_t mr,
                int64_t nr, bool first_block) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    float bk[kNR];
    for (int64_t x = 0; x < kNR; ++x) bk[x] = b[x];
    for (int64_t r = 0; r < kMR; ++r)
      for (int64_t x = 0; x < kNR; ++x) acc[r][x] += a[r] * bk[x];
  }
  const bool overwrite = first_block && !c.accumulate;
  const float* col_bias = first_block && c.col_bias ? c.col_bias + j : nullptr;
  for (int64_t r = 0; r < mr; ++r) {
    float* out = c.data + (i + r) * c.ld + j;
    const float row_bias = first_block && c.row_bias ? c.row_bias[i + r] : 0.0f;
    for (int64_t x = 0; x < nr; ++x) {
      const float v = acc[r][x] + row_bias + (col_bias ? col_bias[x] : 0.0f);
      out[x] = overwrite ? v : out[x] + v;
    }
  }
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
  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    const int64_t strips = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      float* packed_b = scratch(t_packed_b, strips * kc * kNR);
      parallel_for(strips, kTaskCols / kNR, [&](int64_t s0, int64_t s1) {
        b.pack(pc, kc, jc + s0 * kNR, std::min(nc, s1 * kNR) - s0 * kNR, packed_b + s0 * kc * kNR);
      });

      const int64_t row_tasks = (M + kMC - 1) / kMC, col_tasks = (nc + kTaskCols - 1) / kTaskCols;
      const int64_t task_flops = 2 * std::min(M, kMC) * std::min(nc, kTaskCols) * kc;
      parallel_for(row_tasks * col_tasks, std::max<int64_t>(1, kMinFlopsPerRange / task_flops), [&](int64_t t0, int64_t t1) {
        int64_t packed_row = -1;  // consecutive tasks of one range often share their A block
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t i0 = t / col_tasks * kMC, mc = std::min(kMC, M - i0);
          const int64_t j0 = t % col_tasks * kTaskCols, cols = std::min(kTaskCols, nc - j0);
          float* packed_a = scratch(t_packed_a, (mc + kMR - 1) / kMR * kMR * kc);
          if (packed_row != i0) pack_a(a + i0 * lda + pc, lda, mc, kc, packed_a);
          packed_row = i0;
          for (int64_t jr = 0; jr < cols; jr += kNR)
            for (int64_t ir = 0; ir < mc; ir += kMR)
              micro_tile(kc, packed_a + ir * kc, packed_b + (j0 + jr) * kc, c, i0 + ir, jc + j0 + jr,
                         std::min(kMR, mc - ir), std::min(kNR, cols - jr), pc == 0);
        }
      });
    }
  }
}

}  // namespace websd::cpu
