#pragma once
// Shared helpers for the CPU backend tests: deterministic random data and the comparison against
// double-precision references that each test computes with its own deliberately naive loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "support/fixtures.h"

namespace websd::test {

inline std::vector<float> random_data(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

inline Tensor random_tensor(Backend& be, const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  return be.upload(shape, random_data(numel(shape), seed, lo, hi));
}

// Float results of a float32 kernel against a double reference: the largest error must stay
// within `rtol` of the largest reference magnitude, which allows for float32 accumulation order.
inline void expect_close(Backend& be, const Tensor& got, const Shape& want_shape, const std::vector<double>& want,
                         double rtol = 1e-4) {
  ASSERT_EQ(got.shape, want_shape);
  const std::vector<float> g = be.download(got);
  ASSERT_EQ(g.size(), want.size());
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  const Diff d = compare(g, std::vector<float>(want.begin(), want.end()));
  EXPECT_LE(d.max_abs, rtol * std::max(scale, 1e-30))
      << "max abs error " << d.max_abs << ", mean abs error " << d.mean_abs << ", largest |want| " << scale;
}

// `op` must throw websd::Error whose message contains every one of `parts` (the op's name and the
// offending shapes), so a user can tell which call went wrong.
inline void expect_error(const std::function<void()>& op, std::initializer_list<std::string> parts) {
  try {
    op();
    ADD_FAILURE() << "no websd::Error thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

}  // namespace websd::test
