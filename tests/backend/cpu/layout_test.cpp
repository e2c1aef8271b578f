#include "reference.h"

namespace websd::test {
namespace {

// Data movement must be exact, so these compare with tolerance 0.
void expect_exact(Backend& be, const Tensor& got, const Shape& shape, const std::vector<double>& want) {
  expect_close(be, got, shape, want, 0.0);
}

const Shape kImages[] = {{1, 1, 1, 1}, {2, 5, 3, 7}, {2, 320, 17, 9}, {1, 3, 64, 65}};

TEST(Upload, RoundTripsExactly) {
  CpuBackend be;
  const auto x = random_data(1001, 61);
  Tensor t = be.upload({7, 11, 13}, x);
  EXPECT_EQ(t.shape, (Shape{7, 11, 13}));
  EXPECT_EQ(be.download(t), x);
  EXPECT_EQ(be.download(t.reshaped({1001})), x);
}

TEST(Layout, NchwToNlcAndBack) {
  CpuBackend be;
  for (const Shape& s : kImages) {
    const int64_t N = s[0], C = s[1], S = s[2] * s[3];
    const auto x = random_data(numel(s), 62);
    std::vector<double> want(x.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < S; ++i) want[(n * S + i) * C + c] = x[(n * C + c) * S + i];
    SCOPED_TRACE(shape_str(s));
    Tensor nlc = be.nchw_to_nlc(be.upload(s, x));
    expect_exact(be, nlc, {N, S, C}, want);
    expect_exact(be, be.nlc_to_nchw(nlc, s[2], s[3]), s, std::vector<double>(x.begin(), x.end()));
  }
}

// torch's 'nearest' picks source floor(dst · in/out), the ratio taken in float32, clamped.
int64_t nearest_source(int64_t dst, int64_t in_size, int64_t out_size) {
  const float ratio = static_cast<float>(in_size) / static_cast<float>(out_size);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(dst) * ratio)), in_size - 1);
}

TEST(Layout, UpsampleNearest) {
  CpuBackend be;
  for (const Shape& s : kImages)
    for (const auto& [OH, OW] : {std::pair{2 * s[2], 2 * s[3]}, std::pair{s[2] + 3, 2 * s[3] + 1}, std::pair{int64_t{1}, s[3]}}) {
      const int64_t NC = s[0] * s[1], H = s[2], W = s[3];
      const auto x = random_data(numel(s), 63);
      std::vector<double> want(static_cast<size_t>(NC * OH * OW));
      for (int64_t nc = 0; nc < NC; ++nc)
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j)
            want[(nc * OH + i) * OW + j] = x[(nc * H + nearest_source(i, H, OH)) * W + nearest_source(j, W, OW)];
      SCOPED_TRACE(shape_str(s) + " to " + std::to_string(OH) + "x" + std::to_string(OW));
      expect_exact(be, be.upsample_nearest(be.upload(s, x), OH, OW), {s[0], s[1], OH, OW}, want);
    }
}

TEST(Layout, ConcatChannels) {
  CpuBackend be;
  for (const auto& [a_shape, b_shape] : {std::pair{Shape{2, 3, 4, 5}, Shape{2, 7, 4, 5}},
                                         std::pair{Shape{1, 1, 1, 1}, Shape{1, 2, 1, 1}},
                                         std::pair{Shape{2, 320, 9, 9}, Shape{2, 640, 9, 9}}}) {
    const int64_t N = a_shape[0], Ca = a_shape[1], Cb = b_shape[1], S = a_shape[2] * a_shape[3];
    const auto a = random_data(numel(a_shape), 64), b = random_data(numel(b_shape), 65);
    std::vector<double> want;
    for (int64_t n = 0; n < N; ++n) {
      want.insert(want.end(), a.begin() + n * Ca * S, a.begin() + (n + 1) * Ca * S);
      want.insert(want.end(), b.begin() + n * Cb * S, b.begin() + (n + 1) * Cb * S);
    }
    SCOPED_TRACE(shape_str(a_shape) + " + " + shape_str(b_shape));
    expect_exact(be, be.concat_channels(be.upload(a_shape, a), be.upload(b_shape, b)),
                 {N, Ca + Cb, a_shape[2], a_shape[3]}, want);
  }
}

TEST(Layout, EmbeddingPicksRows) {
  CpuBackend be;
  const auto table = random_data(49 * 13, 66);
  const std::vector<int> ids = {0, 48, 7, 7, 13};
  std::vector<double> want;
  for (int id : ids) want.insert(want.end(), table.begin() + id * 13, table.begin() + (id + 1) * 13);
  expect_exact(be, be.embedding(be.upload({49, 13}, table), ids), {5, 13}, want);
}

struct ForeignBuffer : DeviceBuffer {};

TEST(LayoutErrors, NameOpAndShapes) {
  CpuBackend be;
  expect_error([&] { be.upload({2, 3}, std::vector<float>(5)); }, {"upload", "[2, 3]"});
  Tensor x = random_tensor(be, {2, 3, 4, 5}, 1), seq = random_tensor(be, {2, 20, 3}, 2);
  expect_error([&] { be.nlc_to_nchw(seq, 3, 5); }, {"nlc_to_nchw", "[2, 20, 3]", "3x5"});
  expect_error([&] { be.nchw_to_nlc(seq); }, {"nchw_to_nlc", "[2, 20, 3]"});
  expect_error([&] { be.upsample_nearest(seq, 4, 4); }, {"upsample_nearest", "[2, 20, 3]"});
  expect_error([&] { be.upsample_nearest(x, 0, 4); }, {"upsample_nearest", "0x4"});
  Tensor y = random_tensor(be, {2, 3, 5, 4}, 3);
  expect_error([&] { be.concat_channels(x, y); }, {"concat_channels", "[2, 3, 4, 5]", "[2, 3, 5, 4]"});
  Tensor table = random_tensor(be, {10, 4}, 4);
  const std::vector<int> bad = {3, 10};
  expect_error([&] { be.embedding(table, bad); }, {"embedding", "10"});
  Tensor foreign{{2, 2}, std::make_shared<ForeignBuffer>()};
  expect_error([&] { be.download(foreign); }, {"[2, 2]", "cpu"});
}

}  // namespace
}  // namespace websd::test
