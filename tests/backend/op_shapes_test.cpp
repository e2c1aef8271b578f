// The ops' shape rules shared by the backends (backend/op_shapes.h): each op's output shape, and
// each violation's message "<backend> backend: <op>: <what is wrong>".
#include "backend/op_shapes.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace websd {
namespace {

// Only shapes are read: no storage needed.
Tensor t(Shape s) { return Tensor{std::move(s), nullptr}; }

// f must throw websd::Error that starts with "<backend> backend: <op>: " and contains `what`.
void expect_error(const std::function<void()>& f, const std::string& prefix, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "no websd::Error, expected " << prefix << what;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(prefix, 0), 0u) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

TEST(OpShapes, ErrorsNameTheBackendAndTheOp) {
  EXPECT_STREQ(op_error("cpu", "linear", "what").what(), "cpu backend: linear: what");
  EXPECT_STREQ(op_error("webgpu", "conv2d", "x").what(), "webgpu backend: conv2d: x");
}

TEST(OpShapes, Upload) {
  check_upload("cpu", {2, 3}, 6);
  check_upload("cpu", {0, 3}, 0);
  expect_error([] { check_upload("webgpu", {2, 3}, 5); }, "webgpu backend: upload: ", "5 values do not fill [2, 3]");
}

TEST(OpShapes, Linear) {
  const Tensor b = t({5});
  EXPECT_EQ(linear_shape("cpu", t({2, 7, 4}), t({5, 4}), &b), (Shape{2, 7, 5}));
  EXPECT_EQ(linear_shape("cpu", t({4}), t({5, 4}), nullptr), (Shape{5}));
  EXPECT_EQ(linear_shape("cpu", t({0, 4}), t({5, 4}), nullptr), (Shape{0, 5}));
  EXPECT_EQ(linear_shape("cpu", t({3, 0}), t({5, 0}), nullptr), (Shape{3, 5}));
  const std::string p = "cpu backend: linear: ";
  expect_error([] { linear_shape("cpu", t({2, 4}), t({3, 5}), nullptr); }, p, "weight [3, 5] does not match input [2, 4]");
  expect_error([] { linear_shape("cpu", t({}), t({3, 5}), nullptr); }, p, "does not match input []");
  expect_error([] { linear_shape("cpu", t({2, 4}), t({3, 4, 1}), nullptr); }, p, "weight [3, 4, 1]");
  const Tensor b4 = t({4}), b_flat = t({1, 5});
  expect_error([&] { linear_shape("cpu", t({2, 4}), t({5, 4}), &b4); }, p, "bias [4] does not match weight [5, 4]");
  expect_error([&] { linear_shape("cpu", t({2, 4}), t({5, 4}), &b_flat); }, p, "bias [1, 5]");
}

TEST(OpShapes, Conv2d) {
  const Tensor x = t({2, 3, 8, 9}), w = t({4, 3, 3, 3}), b = t({4});
  ConvGeometry g = conv2d_geometry("cpu", x, w, &b, Conv2dParams::same(1));
  EXPECT_EQ((std::vector<int64_t>{g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.kernel_h, g.kernel_w}),
            (std::vector<int64_t>{2, 3, 8, 9, 4, 3, 3}));
  EXPECT_EQ(g.params.pad_top, 1);
  EXPECT_EQ(g.output_shape(), (Shape{2, 4, 8, 9}));
  // The VAE's downsampler: stride 2, padded only below and right.
  g = conv2d_geometry("cpu", x, w, nullptr, {2, 0, 1, 0, 1});
  EXPECT_EQ(g.output_shape(), (Shape{2, 4, 4, 4}));
  EXPECT_EQ(g.params.stride, 2);
  EXPECT_EQ(conv2d_geometry("cpu", x, t({4, 3, 8, 9}), nullptr, {}).output_shape(), (Shape{2, 4, 1, 1}));

  const std::string p = "webgpu backend: conv2d: ";
  expect_error([&] { conv2d_geometry("webgpu", x, t({4, 2, 3, 3}), nullptr, {}); }, p,
               "weight [4, 2, 3, 3] does not match input [2, 3, 8, 9]");
  expect_error([&] { conv2d_geometry("webgpu", t({3, 8, 9}), w, nullptr, {}); }, p, "input [3, 8, 9]");
  const Tensor b3 = t({3});
  expect_error([&] { conv2d_geometry("webgpu", x, w, &b3, {}); }, p, "bias [3] does not match weight [4, 3, 3, 3]");
  expect_error([&] { conv2d_geometry("webgpu", x, w, nullptr, {0, 0, 0, 0, 0}); }, p,
               "stride 0 must be positive and padding non-negative");
  expect_error([&] { conv2d_geometry("webgpu", x, w, nullptr, {1, 0, 0, -1, 0}); }, p, "padding non-negative");
  expect_error([&] { conv2d_geometry("webgpu", x, t({4, 3, 9, 9}), nullptr, {}); }, p,
               "weight [4, 3, 9, 9] is larger than the padded input [2, 3, 8, 9]");
}

TEST(OpShapes, Norms) {
  const Tensor x = t({2, 6, 4, 4}), g6 = t({6}), g5 = t({5});
  EXPECT_EQ(group_norm_shape("cpu", x, g6, g6, 3), x.shape);
  EXPECT_EQ(group_norm_shape("cpu", t({2, 6}), g6, g6, 6), (Shape{2, 6}));
  const std::string p = "cpu backend: group_norm: ";
  expect_error([&] { group_norm_shape("cpu", t({6}), g6, g6, 3); }, p, "input [6] has no channel dimension");
  expect_error([&] { group_norm_shape("cpu", x, g6, g6, 4); }, p, "the 6 channels of [2, 6, 4, 4] do not split into 4 groups");
  expect_error([&] { group_norm_shape("cpu", x, g6, g6, 0); }, p, "0 groups");
  expect_error([&] { group_norm_shape("cpu", x, g6, g5, 3); }, p,
               "gamma [6] and beta [5] do not match the channels of [2, 6, 4, 4]");

  EXPECT_EQ(layer_norm_shape("cpu", t({3, 5, 6}), g6, g6), (Shape{3, 5, 6}));
  EXPECT_EQ(layer_norm_shape("cpu", t({0, 6}), g6, g6), (Shape{0, 6}));
  const std::string pl = "cpu backend: layer_norm: ";
  expect_error([&] { layer_norm_shape("cpu", t({3, 5}), g6, g6); }, pl,
               "gamma [6] and beta [6] do not match the last dimension of [3, 5]");
  expect_error([&] { layer_norm_shape("cpu", t({3, 6}), g6, g5); }, pl, "beta [5]");
  expect_error([&] { layer_norm_shape("cpu", t({}), g6, g6); }, pl, "of []");
}

TEST(OpShapes, AddAndAddChannel) {
  EXPECT_EQ(add_shape("cpu", t({2, 3, 4}), t({2, 3, 4})), (Shape{2, 3, 4}));
  EXPECT_EQ(add_shape("cpu", t({2, 3, 4}), t({3, 4})), (Shape{2, 3, 4}));
  EXPECT_EQ(add_shape("cpu", t({2, 3, 4}), t({4})), (Shape{2, 3, 4}));
  EXPECT_EQ(add_shape("cpu", t({2, 3, 4}), t({})), (Shape{2, 3, 4}));  // a scalar: one value
  const std::string p = "cpu backend: add: ";
  expect_error([] { add_shape("cpu", t({2, 3, 4}), t({3, 5})); }, p, "[3, 5] does not broadcast to [2, 3, 4]");
  expect_error([] { add_shape("cpu", t({2, 3, 4}), t({2, 3})); }, p, "[2, 3] does not broadcast");
  expect_error([] { add_shape("cpu", t({4}), t({2, 4})); }, p, "[2, 4] does not broadcast to [4]");
  expect_error([] { add_shape("cpu", t({2, 0}), t({0})); }, p, "non-empty");

  EXPECT_EQ(add_channel_shape("cpu", t({2, 3, 4, 5}), t({2, 3})), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(add_channel_shape("cpu", t({2, 3}), t({6})), (Shape{2, 3}));
  const std::string pc = "webgpu backend: add_channel: ";
  expect_error([] { add_channel_shape("webgpu", t({2, 3, 4}), t({2, 4})); }, pc,
               "[2, 4] does not match the batch and channels of [2, 3, 4]");
  expect_error([] { add_channel_shape("webgpu", t({6}), t({6})); }, pc, "of [6]");
}

TEST(OpShapes, Geglu) {
  EXPECT_EQ(geglu_shape("cpu", t({2, 7, 10})), (Shape{2, 7, 5}));
  EXPECT_EQ(geglu_shape("cpu", t({0, 4})), (Shape{0, 2}));
  expect_error([] { geglu_shape("cpu", t({2, 5})); }, "cpu backend: geglu: ", "the last dimension of [2, 5] is odd");
  expect_error([] { geglu_shape("cpu", t({})); }, "cpu backend: geglu: ", "[]");
}

TEST(OpShapes, Attention) {
  const Tensor q = t({2, 5, 16}), k = t({2, 7, 16}), v = t({2, 7, 24});
  const AttentionGeometry g = attention_geometry("cpu", q, k, v, 4, true);
  EXPECT_EQ((std::vector<int64_t>{g.batch, g.lq, g.lk, g.channels, g.value_channels, g.heads}),
            (std::vector<int64_t>{2, 5, 7, 16, 24, 4}));
  EXPECT_TRUE(g.causal);
  EXPECT_EQ(g.output_shape(), (Shape{2, 5, 24}));
  // No queries: nothing to compute, keys or not.
  const Tensor none = t({2, 0, 16});
  EXPECT_EQ(attention_geometry("cpu", none, none, none, 2, false).output_shape(), (Shape{2, 0, 16}));

  const std::string p = "webgpu backend: attention: ";
  expect_error([&] { attention_geometry("webgpu", q, k, v, 0, false); }, p, "0 heads");
  expect_error([&] { attention_geometry("webgpu", q, k, v, 3, false); }, p,
               "q [2, 5, 16], k [2, 7, 16] and v [2, 7, 24] do not fit 3 heads");
  expect_error([&] { attention_geometry("webgpu", q, t({2, 7, 12}), v, 2, false); }, p, "k [2, 7, 12]");
  expect_error([&] { attention_geometry("webgpu", q, k, t({2, 6, 16}), 2, false); }, p, "v [2, 6, 16]");
  expect_error([&] { attention_geometry("webgpu", t({3, 5, 16}), k, v, 2, false); }, p, "q [3, 5, 16]");
  expect_error([&] { attention_geometry("webgpu", t({5, 16}), k, v, 2, false); }, p, "q [5, 16]");
  expect_error([&] { attention_geometry("webgpu", q, none, none, 2, false); }, p, "k [2, 0, 16] has no keys to attend to");
}

TEST(OpShapes, Layout) {
  EXPECT_EQ(nchw_to_nlc_shape("cpu", t({2, 3, 4, 5})), (Shape{2, 20, 3}));
  expect_error([] { nchw_to_nlc_shape("cpu", t({2, 20, 3})); }, "cpu backend: nchw_to_nlc: ",
               "expects [N, C, H, W], got [2, 20, 3]");

  EXPECT_EQ(nlc_to_nchw_shape("cpu", t({2, 20, 3}), 4, 5), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(nlc_to_nchw_shape("cpu", t({2, 0, 3}), 0, 5), (Shape{2, 3, 0, 5}));
  const std::string pn = "cpu backend: nlc_to_nchw: ";
  expect_error([] { nlc_to_nchw_shape("cpu", t({2, 20, 3}), 3, 5); }, pn, "[2, 20, 3] is not a sequence of 3x5 pixels");
  expect_error([] { nlc_to_nchw_shape("cpu", t({2, 1, 3}), -1, -1); }, pn, "-1x-1");
  expect_error([] { nlc_to_nchw_shape("cpu", t({20, 3}), 4, 5); }, pn, "[20, 3]");

  EXPECT_EQ(upsample_nearest_shape("cpu", t({2, 3, 4, 5}), 8, 10), (Shape{2, 3, 8, 10}));
  EXPECT_EQ(upsample_nearest_shape("cpu", t({2, 3, 4, 5}), 3, 1), (Shape{2, 3, 3, 1}));
  EXPECT_EQ(upsample_nearest_shape("cpu", t({0, 3, 0, 5}), 3, 1), (Shape{0, 3, 3, 1}));  // nothing to read
  const std::string pu = "cpu backend: upsample_nearest: ";
  expect_error([] { upsample_nearest_shape("cpu", t({2, 20, 3}), 4, 4); }, pu, "cannot resize [2, 20, 3] to 4x4");
  expect_error([] { upsample_nearest_shape("cpu", t({2, 3, 4, 5}), 0, 4); }, pu, "to 0x4");
  expect_error([] { upsample_nearest_shape("cpu", t({2, 3, 0, 5}), 4, 4); }, pu, "cannot resize the empty image [2, 3, 0, 5]");

  EXPECT_EQ(concat_channels_shape("cpu", t({2, 3, 4, 5}), t({2, 6, 4, 5})), (Shape{2, 9, 4, 5}));
  EXPECT_EQ(concat_channels_shape("cpu", t({2, 3}), t({2, 1})), (Shape{2, 4}));
  const std::string pc = "cpu backend: concat_channels: ";
  expect_error([] { concat_channels_shape("cpu", t({2, 3, 4, 5}), t({2, 3, 5, 4})); }, pc,
               "[2, 3, 4, 5] and [2, 3, 5, 4] differ outside the channel dimension");
  expect_error([] { concat_channels_shape("cpu", t({2, 3, 4, 5}), t({1, 3, 4, 5})); }, pc, "[1, 3, 4, 5]");
  expect_error([] { concat_channels_shape("cpu", t({2, 3, 4, 5}), t({2, 3, 20})); }, pc, "[2, 3, 20]");
  expect_error([] { concat_channels_shape("cpu", t({3}), t({3})); }, pc, "[3] and [3]");
}

TEST(OpShapes, Embedding) {
  const Tensor table = t({10, 4});
  EXPECT_EQ(embedding_shape("cpu", table, std::vector<int>{0, 9, 3}), (Shape{3, 4}));
  EXPECT_EQ(embedding_shape("cpu", table, std::vector<int>{}), (Shape{0, 4}));
  const std::string p = "cpu backend: embedding: ";
  expect_error([&] { embedding_shape("cpu", table, std::vector<int>{1, 10}); }, p,
               "token id 10 outside the vocabulary of 10");
  expect_error([&] { embedding_shape("cpu", table, std::vector<int>{-1}); }, p, "token id -1");
  expect_error([] { embedding_shape("cpu", t({40}), std::vector<int>{1}); }, p, "table [40] is not [vocabulary, channels]");
}

}  // namespace
}  // namespace websd
