#pragma once
#include <string>

#include "core/tensor.h"

namespace websd::test {

// Paths into tests/fixtures (a copy of diffusers' reference outputs) and assets/.
std::string fixture(const std::string& relative);
std::string asset(const std::string& relative);

struct Diff {
  double max_abs = 0;
  double mean_abs = 0;
};
Diff compare(const std::vector<float>& got, const std::vector<float>& want);

}  // namespace websd::test

// Asserts shape equality and max-abs error ≤ tol, reporting both errors on failure.
#define EXPECT_TENSOR_NEAR(got, want, tol)                                                           \
  do {                                                                                               \
    ASSERT_EQ((got).shape, (want).shape);                                                            \
    auto d_ = ::websd::test::compare((got).data, (want).data);                                       \
    EXPECT_LE(d_.max_abs, (tol)) << "mean abs error " << d_.mean_abs;                                \
  } while (0)
