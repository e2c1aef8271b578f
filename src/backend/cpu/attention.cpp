// Scaled dot-product attention in blocks with an online softmax, so the full Lq x Lk score matrix
// (4096 x 4096 per head in SD 1.5 at 512x512) never exists: each task takes one batch item, one
// head and up to kBlockQ queries, and walks the keys kBlockK at a time, rescaling what it has
// accumulated whenever a row's running maximum grows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/scratch.h"
#include "backend/cpu/sgemm.h"
#include "backend/cpu/thread_pool.h"
#include "backend/cpu/vector_math.h"

namespace websd::cpu {
namespace {

// A task's scores are kBlockQ x kBlockK floats (256 KB); with its output block and sgemm's packed
// operands it holds at most about 1.5 MB (for the VAE's 512-wide head). Larger query blocks
// repack K and V less often; beyond 256 the measured gain stopped.
constexpr int64_t kBlockQ = 256, kBlockK = 256;
// Independent accumulators for the row reductions: no single serial chain, and the sums vectorise.
constexpr int64_t kLanes = 8;

struct Buffers {
  std::vector<float> scores, out, row_max, row_sum;
};
thread_local Buffers t_buffers;

float max_of(const float* x, int64_t n) {
  float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, -std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t t = 0; t < kLanes; ++t) lanes[t] = std::max(lanes[t], x[j + t]);
  for (; j < n; ++j) lanes[0] = std::max(lanes[0], x[j]);
  return *std::max_element(lanes, lanes + kLanes);
}

float sum_of(const float* x, int64_t n) {
  float lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t t = 0; t < kLanes; ++t) lanes[t] += x[j + t];
  for (; j < n; ++j) lanes[0] += x[j];
  float sum = 0;
  for (float l : lanes) sum += l;
  return sum;
}

struct Task {
  const AttentionGeometry& g;
  const float *q, *k, *v;
  float* y;
  int64_t head_dim, value_dim;
  float score_scale;  // 1/sqrt(head_dim)

  void run(int64_t b, int64_t h, int64_t q0, int64_t nq) const {
    // Locals, not members: a member could alias the float stores below, which keeps loops scalar.
    const int64_t C = g.channels, Cv = g.value_channels, d = head_dim, dv = value_dim;
    const float scale = score_scale;
    float* scores = scratch(t_buffers.scores, nq * kBlockK);
    float* out = scratch(t_buffers.out, nq * dv);
    float* row_max = scratch(t_buffers.row_max, nq);
    float* row_sum = scratch(t_buffers.row_sum, nq);
    std::fill(out, out + nq * dv, 0.0f);
    std::fill(row_max, row_max + nq, -std::numeric_limits<float>::infinity());
    std::fill(row_sum, row_sum + nq, 0.0f);

    const float* queries = q + (b * g.lq + q0) * C + h * d;
    const int64_t key_end = g.causal ? std::min(g.lk, q0 + nq) : g.lk;
    for (int64_t j0 = 0; j0 < key_end; j0 += kBlockK) {
      const int64_t nk = std::min(kBlockK, key_end - j0);
      sgemm(nq, nk, d, queries, C, StridedB(k + (b * g.lk + j0) * C + h * d, 1, C), GemmOut{scores, kBlockK});
      for (int64_t i = 0; i < nq; ++i) {
        float* row = scores + i * kBlockK;
        // Causal: query q0 + i sees keys up to itself.
        const int64_t visible = g.causal ? std::clamp(q0 + i + 1 - j0, int64_t{0}, nk) : nk;
        std::fill(row + visible, row + nk, 0.0f);
        if (visible == 0) continue;
        const float new_max = std::max(row_max[i], max_of(row, visible) * scale);
        for (int64_t j = 0; j < visible; ++j) row[j] = exp_approx(row[j] * scale - new_max);
        const float rescale = std::exp(row_max[i] - new_max);  // 0 on the first block: nothing to keep
        row_sum[i] = row_sum[i] * rescale + sum_of(row, visible);
        row_max[i] = new_max;
        if (rescale != 1.0f)
          for (float* o = out + i * dv; o < out + (i + 1) * dv; ++o) *o *= rescale;
      }
      sgemm(nq, dv, nk, scores, kBlockK, StridedB(v + (b * g.lk + j0) * Cv + h * dv, Cv, 1),
            GemmOut{out, dv, /*accumulate=*/true});
    }
    for (int64_t i = 0; i < nq; ++i) {
      const float inv = 1.0f / row_sum[i];
      float* dst = y + (b * g.lq + q0 + i) * Cv + h * dv;
      for (int64_t t = 0; t < dv; ++t) dst[t] = out[i * dv + t] * inv;
    }
  }
};

}  // namespace

void attention(const AttentionGeometry& g, const float* q, const float* k, const float* v, float* y) {
  const int64_t d = g.channels / g.heads;
  const Task task{g, q, k, v, y, d, g.value_channels / g.heads, 1.0f / std::sqrt(static_cast<float>(d))};
  const int64_t q_blocks = (g.lq + kBlockQ - 1) / kBlockQ;
  parallel_for(g.batch * g.heads * q_blocks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t q0 = t % q_blocks * kBlockQ;
      task.run(t / (g.heads * q_blocks), t / q_blocks % g.heads, q0, std::min(kBlockQ, g.lq - q0));
    }
  });
}

}  // namespace websd::cpu
