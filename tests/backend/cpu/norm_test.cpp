#include "reference.h"

namespace websd::test {
namespace {

double silu(double v) { return v / (1.0 + std::exp(-v)); }

// Mean and (biased) variance of n values at p with stride 1, in double.
std::pair<double, double> moments(const float* p, int64_t n) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += p[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) var += (p[i] - mean) * (p[i] - mean);
  return {mean, var / static_cast<double>(n)};
}

struct GroupNormCase {
  Shape x;
  int groups;
  float eps;
  bool silu;
  float offset;  // added to the data, to catch variance formulas that cancel catastrophically
};

void PrintTo(const GroupNormCase& c, std::ostream* os) {
  *os << shape_str(c.x) << ", " << c.groups << " groups, eps " << c.eps << (c.silu ? ", SiLU" : "") << ", offset "
      << c.offset;
}

class GroupNormTest : public ::testing::TestWithParam<GroupNormCase> {};

TEST_P(GroupNormTest, MatchesDoubleReference) {
  const GroupNormCase& c = GetParam();
  CpuBackend be;
  const int64_t N = c.x[0], C = c.x[1], S = numel(c.x) / (N * C), cg = C / c.groups;
  const auto x = random_data(numel(c.x), 21, c.offset - 1.0f, c.offset + 1.0f);
  const auto gamma = random_data(C, 22, 0.5f, 1.5f), beta = random_data(C, 23);
  Tensor y = be.group_norm(be.upload(c.x, x), be.upload({C}, gamma), be.upload({C}, beta), c.groups, c.eps, c.silu);
  std::vector<double> want(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < c.groups; ++g) {
      const int64_t base = (n * C + g * cg) * S;
      const auto [mean, var] = moments(x.data() + base, cg * S);
      for (int64_t i = 0; i < cg * S; ++i) {
        const int64_t ch = g * cg + i / S;
        const double v = (x[base + i] - mean) / std::sqrt(var + c.eps) * gamma[ch] + beta[ch];
        want[base + i] = c.silu ? silu(v) : v;
      }
    }
  expect_close(be, y, c.x, want);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GroupNormTest,
                         ::testing::Values(GroupNormCase{{2, 64, 7, 5}, 32, 1e-5f, false, 0.0f},
                                           GroupNormCase{{2, 64, 7, 5}, 32, 1e-5f, true, 0.0f},
                                           GroupNormCase{{1, 320, 9, 9}, 32, 1e-6f, true, 0.0f},
                                           GroupNormCase{{2, 6, 13}, 3, 1e-5f, false, 0.0f},
                                           GroupNormCase{{1, 32, 1, 1}, 32, 1e-5f, true, 0.0f},
                                           GroupNormCase{{1, 96, 33, 31}, 32, 1e-6f, false, 100.0f}));

// Handed its last reference, x is normalised in its own storage; shared, it is left as it was.
TEST(GroupNorm, InPlaceOnlyWhenHandedTheLastReference) {
  CpuBackend be;
  const Shape s{2, 64, 7, 5};
  const auto x = random_data(numel(s), 25);
  const Tensor gamma = be.upload({64}, random_data(64, 26, 0.5f, 1.5f)), beta = be.upload({64}, random_data(64, 27));
  const Tensor shared = be.upload(s, x);
  const Tensor copy = be.group_norm(shared, gamma, beta, 32, 1e-5f, true);
  EXPECT_NE(copy.buffer, shared.buffer);
  EXPECT_EQ(be.download(shared), x);

  Tensor mine = be.upload(s, x);
  const DeviceBuffer* storage = mine.buffer.get();
  const int64_t live = be.stats().live_bytes;
  const Tensor in_place = be.group_norm(std::move(mine), gamma, beta, 32, 1e-5f, true);
  EXPECT_EQ(in_place.buffer.get(), storage);
  EXPECT_EQ(be.stats().live_bytes, live);
  EXPECT_EQ(be.download(in_place), be.download(copy));
}

// Before the affine step every group is standardised: gamma = 1 and beta = 0 expose that directly.
TEST(GroupNorm, GroupsHaveZeroMeanAndUnitVariance) {
  CpuBackend be;
  const Shape s{2, 128, 11, 13};
  const int64_t C = 128, S = 11 * 13, cg = 4;
  Tensor y = be.group_norm(random_tensor(be, s, 24, 49.0f, 51.0f), be.upload({C}, std::vector<float>(C, 1.0f)),
                           be.upload({C}, std::vector<float>(C, 0.0f)), 32, 1e-6f, false);
  const auto out = be.download(y);
  for (int64_t ng = 0; ng < 2 * 32; ++ng) {
    const auto [mean, var] = moments(out.data() + ng * cg * S, cg * S);
    EXPECT_NEAR(mean, 0.0, 1e-5) << "group " << ng;
    EXPECT_NEAR(var, 1.0, 1e-4) << "group " << ng;
  }
}

struct LayerNormCase {
  Shape x;
  float offset;
};

void PrintTo(const LayerNormCase& c, std::ostream* os) { *os << shape_str(c.x) << ", offset " << c.offset; }

class LayerNormTest : public ::testing::TestWithParam<LayerNormCase> {};

TEST_P(LayerNormTest, MatchesDoubleReference) {
  const LayerNormCase& c = GetParam();
  CpuBackend be;
  const int64_t D = c.x.back(), M = numel(c.x) / D;
  const auto x = random_data(numel(c.x), 31, c.offset - 1.0f, c.offset + 1.0f);
  const auto gamma = random_data(D, 32, 0.5f, 1.5f), beta = random_data(D, 33);
  Tensor y = be.layer_norm(be.upload(c.x, x), be.upload({D}, gamma), be.upload({D}, beta), 1e-5f);
  std::vector<double> want(x.size());
  for (int64_t m = 0; m < M; ++m) {
    const auto [mean, var] = moments(x.data() + m * D, D);
    for (int64_t i = 0; i < D; ++i) want[m * D + i] = (x[m * D + i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i];
  }
  expect_close(be, y, c.x, want);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(LayerNormCase{{3, 5}, 0.0f}, LayerNormCase{{2, 77, 768}, 0.0f},
                                           LayerNormCase{{1, 1031, 320}, 0.0f}, LayerNormCase{{7}, 0.0f},
                                           LayerNormCase{{2, 9, 333}, 100.0f}));

TEST(NormErrors, NameOpAndShapes) {
  CpuBackend be;
  Tensor x = random_tensor(be, {2, 6, 4, 4}, 1), g6 = random_tensor(be, {6}, 2), g5 = random_tensor(be, {5}, 2);
  expect_error([&] { be.group_norm(x, g6, g6, 4, 1e-5f, false); }, {"group_norm", "[2, 6, 4, 4]", "4 groups"});
  expect_error([&] { be.group_norm(x, g5, g6, 3, 1e-5f, false); }, {"group_norm", "[5]", "[2, 6, 4, 4]"});
  expect_error([&] { be.group_norm(x, g6, g6, 0, 1e-5f, false); }, {"group_norm", "0 groups"});
  Tensor s = random_tensor(be, {3, 5}, 3);
  expect_error([&] { be.layer_norm(s, g6, g6, 1e-5f); }, {"layer_norm", "[6]", "[3, 5]"});
}

}  // namespace
}  // namespace websd::test
