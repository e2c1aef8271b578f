#include "backend/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace websd::cpu {
namespace {

// Every index in exactly one range, no range longer than the grain, for sizes around the grain.
TEST(ThreadPool, CoversEveryIndexOnce) {
  EXPECT_GE(thread_count(), 1);
  for (int64_t n : {0, 1, 7, 64, 1000, 100003})
    for (int64_t grain : {1, 3, 64, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<bool> too_long{false};
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        if (e - b > grain || b >= e) too_long = true;
        for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
      });
      EXPECT_FALSE(too_long) << "n " << n << ", grain " << grain;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)], 1) << "index " << i << " of " << n;
    }
}

// Kernels call parallel_for from inside parallel_for (attention runs sgemm per task): the inner
// call runs inline instead of waiting on workers that are all busy.
TEST(ThreadPool, NestedCallsRunInline) {
  std::atomic<int64_t> total{0};
  parallel_for(16, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(100, 7, [&](int64_t ib, int64_t ie) { total += ie - ib; });
  });
  EXPECT_EQ(total, 1600);
}

TEST(ThreadPool, RethrowsAndStaysUsable) {
  EXPECT_THROW(parallel_for(1000, 10,
                            [](int64_t b, int64_t) {
                              if (b == 500) throw std::runtime_error("range 500");
                            }),
               std::runtime_error);
  std::atomic<int64_t> total{0};
  parallel_for(1000, 10, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total, 1000);
}

}  // namespace
}  // namespace websd::cpu
