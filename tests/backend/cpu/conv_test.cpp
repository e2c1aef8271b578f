#include "reference.h"

namespace websd::test {
namespace {

struct ConvCase {
  Shape x;  // [N, C, H, W]
  int64_t out, kh, kw;
  Conv2dParams p;
  bool bias;
};

void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << shape_str(c.x) << " -> " << c.out << ", kernel " << c.kh << "x" << c.kw << ", stride " << c.p.stride
      << ", padding " << c.p.pad_top << "," << c.p.pad_bottom << "," << c.p.pad_left << "," << c.p.pad_right
      << (c.bias ? ", bias" : "");
}

std::vector<double> reference_conv(const std::vector<float>& x, const std::vector<float>& w,
                                   const std::vector<float>* b, const ConvCase& c, int64_t oh_n, int64_t ow_n) {
  const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3];
  std::vector<double> y(static_cast<size_t>(N * c.out * oh_n * ow_n));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < c.out; ++o)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          double acc = b ? (*b)[o] : 0.0;
          for (int64_t ci = 0; ci < C; ++ci)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t ih = oh * c.p.stride - c.p.pad_top + i, iw = ow * c.p.stride - c.p.pad_left + j;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += static_cast<double>(x[((n * C + ci) * H + ih) * W + iw]) * w[((o * C + ci) * c.kh + i) * c.kw + j];
              }
          y[((n * c.out + o) * oh_n + oh) * ow_n + ow] = acc;
        }
  return y;
}

class ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvTest, MatchesDoubleReference) {
  const ConvCase& c = GetParam();
  CpuBackend be;
  const int64_t C = c.x[1];
  const int64_t OH = (c.x[2] + c.p.pad_top + c.p.pad_bottom - c.kh) / c.p.stride + 1;
  const int64_t OW = (c.x[3] + c.p.pad_left + c.p.pad_right - c.kw) / c.p.stride + 1;
  const auto x = random_data(numel(c.x), 11), w = random_data(c.out * C * c.kh * c.kw, 12), b = random_data(c.out, 13);
  Tensor tb = be.upload({c.out}, b);
  Tensor y = be.conv2d(be.upload(c.x, x), be.upload({c.out, C, c.kh, c.kw}, w), c.bias ? &tb : nullptr, c.p);
  expect_close(be, y, {c.x[0], c.out, OH, OW}, reference_conv(x, w, c.bias ? &b : nullptr, c, OH, OW));
}

// The UNet/VAE convolutions: 3x3 "same", 1x1 projections, the VAE encoder's stride-2 downsample
// with padding (0, 1, 0, 1), the UNet's stride-2 downsample with padding 1, conv_in from 4
// channels; plus odd sizes, a depth (C·kh·kw) spanning several blocks and a non-square kernel.
INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTest,
    ::testing::Values(ConvCase{{2, 5, 9, 11}, 7, 3, 3, Conv2dParams::same(1), true},
                      ConvCase{{2, 33, 6, 5}, 17, 1, 1, Conv2dParams{}, false},
                      ConvCase{{1, 1, 1, 1}, 1, 1, 1, Conv2dParams{}, true},
                      ConvCase{{2, 8, 9, 9}, 6, 3, 3, Conv2dParams{2, 0, 1, 0, 1}, true},
                      ConvCase{{1, 8, 10, 12}, 6, 3, 3, Conv2dParams{2, 0, 1, 0, 1}, false},
                      ConvCase{{2, 6, 11, 10}, 5, 3, 3, Conv2dParams::same(1, 2), true},
                      ConvCase{{1, 4, 17, 13}, 320, 3, 3, Conv2dParams::same(1), true},
                      ConvCase{{2, 64, 23, 19}, 40, 3, 3, Conv2dParams::same(1), true},
                      ConvCase{{1, 320, 8, 8}, 4, 3, 3, Conv2dParams::same(1), true},
                      ConvCase{{1, 7, 6, 9}, 3, 2, 3, Conv2dParams{1, 1, 0, 2, 0}, true},
                      ConvCase{{1, 9, 7, 7}, 5, 1, 1, Conv2dParams{2, 0, 0, 0, 0}, true}));

// Work is handed to threads dynamically, but each value is summed in a fixed order: repeated
// runs must agree bit for bit.
TEST(Conv, RepeatsBitForBit) {
  CpuBackend be;
  Tensor x = random_tensor(be, {2, 64, 31, 33}, 14), w = random_tensor(be, {96, 64, 3, 3}, 15);
  const auto first = be.download(be.conv2d(x, w, nullptr, Conv2dParams::same(1)));
  for (int run = 0; run < 3; ++run) EXPECT_EQ(be.download(be.conv2d(x, w, nullptr, Conv2dParams::same(1))), first);
}

// A per-channel add and a residual inside the product: bit for bit the ops they replace
// (add_channel, then add with the residual first).
TEST(Conv, FusedAddsAreTheOpsTheyReplace) {
  CpuBackend be;
  const Tensor x = random_tensor(be, {2, 6, 9, 7}, 16), w = random_tensor(be, {5, 6, 3, 3}, 17), b = random_tensor(be, {5}, 18);
  const Tensor r = random_tensor(be, {2, 5, 9, 7}, 19), v = random_tensor(be, {2, 5}, 20);
  const Tensor y = be.conv2d(x, w, &b, Conv2dParams::same(1));
  EXPECT_EQ(be.download(be.conv2d(x, w, &b, Conv2dParams::same(1), {.residual = &r})), be.download(be.add(r, y)));
  EXPECT_EQ(be.download(be.conv2d(x, w, &b, Conv2dParams::same(1), {.residual = &r, .channel_add = &v})),
            be.download(be.add(r, be.add_channel(y, v))));
  expect_error([&] { be.conv2d(x, w, &b, Conv2dParams::same(1), {.channel_add = &b}); }, {"conv2d", "per-channel add", "[N, C]"});
  expect_error([&] { be.conv2d(x, w, &b, Conv2dParams::same(1), {.residual = &x}); }, {"conv2d", "residual", "[2, 5, 9, 7]"});
  expect_error([&] { be.conv2d(x, w, &b, Conv2dParams::same(1), {9, 7}); }, {"conv2d", "image output"});
}

TEST(ConvErrors, NameOpAndShapes) {
  CpuBackend be;
  Tensor x = random_tensor(be, {1, 3, 8, 8}, 1), w = random_tensor(be, {4, 2, 3, 3}, 2);
  expect_error([&] { be.conv2d(x, w, nullptr, Conv2dParams::same(1)); }, {"conv2d", "[1, 3, 8, 8]", "[4, 2, 3, 3]"});
  Tensor w_ok = random_tensor(be, {4, 3, 3, 3}, 2), b = random_tensor(be, {3}, 3);
  expect_error([&] { be.conv2d(x, w_ok, &b, Conv2dParams::same(1)); }, {"conv2d", "bias", "[3]"});
  Tensor big = random_tensor(be, {4, 3, 9, 9}, 2);
  expect_error([&] { be.conv2d(x, big, nullptr, Conv2dParams{}); }, {"conv2d", "[1, 3, 8, 8]", "[4, 3, 9, 9]"});
  expect_error([&] { be.conv2d(x, w_ok, nullptr, Conv2dParams{0, 1, 1, 1, 1}); }, {"conv2d", "stride"});
  Tensor x3 = random_tensor(be, {3, 8, 8}, 1);
  expect_error([&] { be.conv2d(x3, w_ok, nullptr, Conv2dParams{}); }, {"conv2d", "[3, 8, 8]"});
}

}  // namespace
}  // namespace websd::test
