// Throughput of the shapes that dominate a Stable Diffusion 1.5 UNet step at 512x512: a separate
// program (bench_backend_cpu), not a test, since timings are not assertions. Each prints the best
// of several runs, since other processes share the cores; WEBSD_THREADS=1 measures one core.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "backend/cpu/cpu_backend.h"

namespace websd {
namespace {

Tensor filled(CpuBackend& be, const Shape& shape) {
  std::vector<float> data(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(static_cast<int>(i * 7919 % 2001) - 1000) * 1e-3f;
  return be.upload(shape, data);
}

void report(const char* what, double flops, int runs, const std::function<void()>& op) {
  op();  // warm-up: first-touch page faults and pool start-up are not what we measure
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    op();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("%s: best of %d %.2f ms, %.2f GFLOP/s\n", what, runs, best * 1e3, flops / best * 1e-9);
}

TEST(CpuBench, Linear4096x320x320) {
  CpuBackend be;
  Tensor x = filled(be, {1, 4096, 320}), w = filled(be, {320, 320}), b = filled(be, {320});
  report("linear 4096x320 -> 320", 2.0 * 4096 * 320 * 320, 10, [&] { be.linear(x, w, &b); });
}

TEST(CpuBench, Conv3x3_320to320_64x64_Batch2) {
  CpuBackend be;
  Tensor x = filled(be, {2, 320, 64, 64}), w = filled(be, {320, 320, 3, 3}), b = filled(be, {320});
  report("conv3x3 320 -> 320 at 64x64, batch 2", 2.0 * 2 * 320 * 320 * 9 * 64 * 64, 5,
         [&] { be.conv2d(x, w, &b, Conv2dParams::same(1)); });
}

// Self-attention of SD 1.5's first UNet level at 512x512: 4096 tokens, 8 heads of 40, batch 2
// (classifier-free guidance). QKᵀ and PV are 2·L·L·d FLOPs each per head.
TEST(CpuBench, SelfAttention4096Tokens8Heads) {
  CpuBackend be;
  Tensor q = filled(be, {2, 4096, 320}), k = filled(be, {2, 4096, 320}), v = filled(be, {2, 4096, 320});
  report("attention 2x4096 tokens, 8 heads of 40", 2 * 8 * 4.0 * 4096 * 4096 * 40, 3,
         [&] { be.attention(q, k, v, 8, false); });
}

}  // namespace
}  // namespace websd
