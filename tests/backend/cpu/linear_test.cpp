#include "reference.h"

namespace websd::test {
namespace {

struct LinearCase {
  Shape x;  // [..., K]
  int64_t n;
  bool bias;
};

void PrintTo(const LinearCase& c, std::ostream* os) {
  *os << shape_str(c.x) << " -> " << c.n << (c.bias ? " with bias" : "");
}

std::vector<double> reference_linear(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>* b, int64_t m_rows, int64_t k_dim, int64_t n_out) {
  std::vector<double> y(static_cast<size_t>(m_rows * n_out));
  for (int64_t m = 0; m < m_rows; ++m)
    for (int64_t n = 0; n < n_out; ++n) {
      double acc = b ? (*b)[n] : 0.0;
      for (int64_t k = 0; k < k_dim; ++k) acc += static_cast<double>(x[m * k_dim + k]) * w[n * k_dim + k];
      y[m * n_out + n] = acc;
    }
  return y;
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, MatchesDoubleReference) {
  const LinearCase& c = GetParam();
  CpuBackend be;
  const int64_t K = c.x.back(), M = numel(Shape(c.x.begin(), c.x.end() - 1));
  const auto x = random_data(numel(c.x), 1), w = random_data(c.n * K, 2), b = random_data(c.n, 3);
  Tensor tb = be.upload({c.n}, b);
  Tensor y = be.linear(be.upload(c.x, x), be.upload({c.n, K}, w), c.bias ? &tb : nullptr);
  Shape ys = c.x;
  ys.back() = c.n;
  expect_close(be, y, ys, reference_linear(x, w, c.bias ? &b : nullptr, M, K, c.n));
}

// Shapes straddle the register tile (rows, columns) and the depth block, including a single
// element, an empty sum (bias only), the CLIP text encoder's 77 tokens and a depth that spans
// several blocks.
INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(LinearCase{{1}, 1, true}, LinearCase{{3, 0}, 4, true}, LinearCase{{1, 3}, 5, false},
                                           LinearCase{{2, 77, 64}, 45, true}, LinearCase{{2, 3}, 1280, true},
                                           LinearCase{{1, 301, 321}, 130, false},
                                           LinearCase{{2, 259, 1030}, 67, true},
                                           LinearCase{{1031, 300}, 257, true}));

// The epilogue done inside the product: the same values, bit for bit, as the ops it stands for
// (nlc_to_nchw, then add with the residual first), and one output tensor.
TEST(LinearEpilogue, IsTheOpsItReplaces) {
  CpuBackend be;
  const Tensor x = random_tensor(be, {2, 35, 67}, 1), w = random_tensor(be, {19, 67}, 2), b = random_tensor(be, {19}, 3);
  const Tensor tokens_residual = random_tensor(be, {2, 35, 19}, 4), image_residual = random_tensor(be, {2, 19, 5, 7}, 5);
  const std::vector<float> tokens = be.download(be.add(tokens_residual, be.linear(x, w, &b)));
  const std::vector<float> image = be.download(be.add(image_residual, be.nlc_to_nchw(be.linear(x, w, &b), 5, 7)));
  const uint64_t ops = be.stats().kernels;
  EXPECT_EQ(be.download(be.linear(x, w, &b, {.residual = &tokens_residual})), tokens);
  EXPECT_EQ(be.download(be.linear(x, w, &b, {5, 7, &image_residual})), image);
  EXPECT_EQ(be.stats().kernels, ops + 2);
  expect_error([&] { be.linear(x, w, &b, {.residual = &image_residual}); }, {"linear", "residual", "[2, 35, 19]"});
  expect_error([&] { be.linear(x, w, &b, {5, 6}); }, {"linear", "5x6 image"});
  expect_error([&] { be.linear(x, w, &b, {.channel_add = &b}); }, {"linear", "per-channel add"});
}

TEST(LinearErrors, NameOpAndShapes) {
  CpuBackend be;
  Tensor x = random_tensor(be, {2, 4}, 1), w = random_tensor(be, {3, 5}, 2), b = random_tensor(be, {4}, 3);
  expect_error([&] { be.linear(x, w, nullptr); }, {"linear", "[2, 4]", "[3, 5]"});
  Tensor w2 = random_tensor(be, {3, 4}, 2);
  expect_error([&] { be.linear(x, w2, &b); }, {"linear", "bias", "[4]"});
  Tensor w3 = random_tensor(be, {3, 4, 1}, 2);
  expect_error([&] { be.linear(x, w3, nullptr); }, {"linear", "[3, 4, 1]"});
}

}  // namespace
}  // namespace websd::test
