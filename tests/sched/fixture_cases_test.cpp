// The comparisons the fixture tests rest on: a NaN or an infinity must fail them, never pass.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fixture_cases.h"

namespace websd {
namespace {

const std::vector<double> kWant = {0.5, -1.0, 2.0};

// std::max(err, NaN) keeps err: an all-NaN trajectory used to have relative error 0.
TEST(RelativeError, AllNanIsAnInfiniteError) {
  const std::vector<double> nans(kWant.size(), NAN);
  EXPECT_EQ(test::relative_error(nans, kWant), INFINITY);
  EXPECT_NONFATAL_FAILURE(EXPECT_LE(test::relative_error(nans, kWant), 1e-5), "relative_error");
  const HostTensor got({3}, std::vector<float>(3, NAN)), want({3}, {0.5f, -1.0f, 2.0f});
  EXPECT_EQ(test::relative_error(got, want), INFINITY);
}

TEST(RelativeError, ANanOrInfinityAnywhereIsAnInfiniteError) {
  for (double bad : {static_cast<double>(NAN), static_cast<double>(INFINITY), -static_cast<double>(INFINITY)}) {
    SCOPED_TRACE(bad);
    std::vector<double> got = kWant;
    got[1] = bad;
    EXPECT_EQ(test::relative_error(got, kWant), INFINITY);
    EXPECT_EQ(test::relative_error(kWant, got), INFINITY);  // in the reference too
    EXPECT_EQ(test::relative_error(got, got), INFINITY);    // inf - inf and NaN - NaN are NaN
  }
  EXPECT_EQ(test::relative_error(kWant, kWant), 0.0);
  EXPECT_DOUBLE_EQ(test::relative_error({0.5, -1.0, 2.5}, kWant), 0.25);  // 0.5 / max |want|
}

TEST(CompareFixtures, NanIsAnInfiniteError) {
  const test::Diff d = test::compare(std::vector<float>(3, NAN), {0.5f, -1.0f, 2.0f});
  EXPECT_EQ(d.max_abs, INFINITY);
  EXPECT_EQ(d.mean_abs, INFINITY);
  EXPECT_EQ(test::abs_error(NAN, 1.0), INFINITY);
  EXPECT_EQ(test::abs_error(INFINITY, INFINITY), INFINITY);
  EXPECT_EQ(test::abs_error(1.0, 1.5), 0.5);
}

}  // namespace
}  // namespace websd
