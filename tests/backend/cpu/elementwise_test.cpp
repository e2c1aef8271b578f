#include "reference.h"

namespace websd::test {
namespace {

// Elementwise ops round once or twice in float32, so they are held to a tighter tolerance than
// the reductions. Sizes cover a single value, odd lengths and enough values to be split over threads.
constexpr double kElementwiseTol = 1e-6;
const Shape kSizes[] = {{1}, {3, 7}, {2, 77, 13}, {2, 320, 31, 33}};

double gelu(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

TEST(Unary, MatchesDoubleReference) {
  CpuBackend be;
  for (const Shape& s : kSizes) {
    const auto x = random_data(numel(s), 51, -10.0f, 10.0f);
    Tensor t = be.upload(s, x);
    std::vector<double> silu(x.size()), ge(x.size()), quick(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      silu[i] = x[i] / (1.0 + std::exp(-static_cast<double>(x[i])));
      ge[i] = gelu(x[i]);
      quick[i] = x[i] / (1.0 + std::exp(-1.702 * x[i]));
    }
    SCOPED_TRACE(shape_str(s));
    expect_close(be, be.unary(t, UnaryOp::SiLU), s, silu, kElementwiseTol);
    expect_close(be, be.unary(t, UnaryOp::GELU), s, ge, kElementwiseTol);
    expect_close(be, be.unary(t, UnaryOp::QuickGELU), s, quick, kElementwiseTol);
  }
}

TEST(Add, BroadcastsTrailingDimensions) {
  CpuBackend be;
  const Shape a_shape{2, 3, 5, 7};
  const auto a = random_data(numel(a_shape), 52);
  for (const Shape& b_shape : {Shape{2, 3, 5, 7}, Shape{3, 5, 7}, Shape{5, 7}, Shape{7}}) {
    const auto b = random_data(numel(b_shape), 53);
    std::vector<double> want(a.size());
    for (size_t i = 0; i < a.size(); ++i) want[i] = static_cast<double>(a[i]) + b[i % b.size()];
    SCOPED_TRACE(shape_str(b_shape));
    expect_close(be, be.add(be.upload(a_shape, a), be.upload(b_shape, b)), a_shape, want, kElementwiseTol);
  }
  const Shape big{2, 4096, 320};
  const auto x = random_data(numel(big), 54), bias = random_data(320, 55);
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = static_cast<double>(x[i]) + bias[i % 320];
  expect_close(be, be.add(be.upload(big, x), be.upload({320}, bias)), big, want, kElementwiseTol);
}

TEST(AddChannel, BroadcastsOverSpatialDimensions) {
  CpuBackend be;
  for (const Shape& s : {Shape{2, 5, 3, 7}, Shape{2, 320, 17, 9}, Shape{2, 3, 5}, Shape{1, 4, 1, 1}}) {
    const int64_t NC = s[0] * s[1], S = numel(s) / NC;
    const auto x = random_data(numel(s), 56), v = random_data(NC, 57);
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = static_cast<double>(x[i]) + v[i / S];
    SCOPED_TRACE(shape_str(s));
    expect_close(be, be.add_channel(be.upload(s, x), be.upload({s[0], s[1]}, v)), s, want, kElementwiseTol);
  }
}

TEST(Scale, MultipliesEveryValue) {
  CpuBackend be;
  for (const Shape& s : kSizes) {
    const auto x = random_data(numel(s), 58);
    std::vector<double> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] * static_cast<double>(0.18215f);
    expect_close(be, be.scale(be.upload(s, x), 0.18215f), s, want, kElementwiseTol);
  }
}

TEST(Geglu, FirstHalfTimesGeluOfSecondHalf) {
  CpuBackend be;
  for (const Shape& s : {Shape{1, 2}, Shape{2, 7, 26}, Shape{2, 300, 2560}}) {
    const int64_t D2 = s.back(), D = D2 / 2, M = numel(s) / D2;
    const auto x = random_data(numel(s), 59, -4.0f, 4.0f);
    std::vector<double> want(static_cast<size_t>(M * D));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < D; ++i) want[m * D + i] = x[m * D2 + i] * gelu(x[m * D2 + D + i]);
    Shape ys = s;
    ys.back() = D;
    SCOPED_TRACE(shape_str(s));
    expect_close(be, be.geglu(be.upload(s, x)), ys, want, kElementwiseTol);
  }
}

TEST(ElementwiseErrors, NameOpAndShapes) {
  CpuBackend be;
  Tensor a = random_tensor(be, {2, 3, 4}, 1), b = random_tensor(be, {3, 5}, 2), v = random_tensor(be, {2, 4}, 3);
  expect_error([&] { be.add(a, b); }, {"add", "[3, 5]", "[2, 3, 4]"});
  expect_error([&] { be.add_channel(a, v); }, {"add_channel", "[2, 4]", "[2, 3, 4]"});
  Tensor odd = random_tensor(be, {2, 5}, 4);
  expect_error([&] { be.geglu(odd); }, {"geglu", "[2, 5]"});
}

}  // namespace
}  // namespace websd::test
