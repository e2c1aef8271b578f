#include "reference.h"

namespace websd::test {
namespace {

struct AttentionCase {
  int64_t batch, lq, lk, c, cv;
  int heads;
  bool causal;
  float range;  // q and k are uniform in [-range, range]; large values saturate the softmax
};

void PrintTo(const AttentionCase& c, std::ostream* os) {
  *os << "batch " << c.batch << ", Lq " << c.lq << ", Lk " << c.lk << ", C " << c.c << ", Cv " << c.cv << ", "
      << c.heads << " heads" << (c.causal ? ", causal" : "") << ", |q|,|k| <= " << c.range;
}

std::vector<double> reference_attention(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, const AttentionCase& c) {
  const int64_t d = c.c / c.heads, dv = c.cv / c.heads;
  std::vector<double> y(static_cast<size_t>(c.batch * c.lq * c.cv));
  std::vector<double> p(static_cast<size_t>(c.lk));
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.lq; ++i) {
        const int64_t len = c.causal ? std::min(i + 1, c.lk) : c.lk;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < len; ++j) {
          double s = 0;
          for (int64_t t = 0; t < d; ++t)
            s += static_cast<double>(q[(b * c.lq + i) * c.c + h * d + t]) * k[(b * c.lk + j) * c.c + h * d + t];
          p[j] = s / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, p[j]);
        }
        for (int64_t j = 0; j < len; ++j) sum += p[j] = std::exp(p[j] - mx);
        for (int64_t t = 0; t < dv; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < len; ++j) acc += p[j] * v[(b * c.lk + j) * c.cv + h * dv + t];
          y[(b * c.lq + i) * c.cv + h * dv + t] = acc / sum;
        }
      }
  return y;
}

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesDoubleReference) {
  const AttentionCase& c = GetParam();
  CpuBackend be;
  const auto q = random_data(c.batch * c.lq * c.c, 41, -c.range, c.range);
  const auto k = random_data(c.batch * c.lk * c.c, 42, -c.range, c.range);
  const auto v = random_data(c.batch * c.lk * c.cv, 43);
  Tensor y = be.attention(be.upload({c.batch, c.lq, c.c}, q), be.upload({c.batch, c.lk, c.c}, k),
                          be.upload({c.batch, c.lk, c.cv}, v), c.heads, c.causal);
  expect_close(be, y, {c.batch, c.lq, c.cv}, reference_attention(q, k, v, c));
}

// UNet self-attention (8 heads of 40 and of 160), cross-attention on 77 text tokens, the CLIP
// encoder's causal 12 heads of 64, the VAE's single 512-wide head, value width != query width,
// causal masks with Lq != Lk both ways, one key, and sequences long enough to span many blocks.
INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(AttentionCase{2, 37, 37, 40, 40, 1, false, 1.0f},
                                           AttentionCase{2, 300, 300, 320, 320, 8, false, 1.0f},
                                           AttentionCase{2, 300, 77, 320, 320, 8, false, 1.0f},
                                           AttentionCase{1, 70, 70, 1280, 1280, 8, false, 1.0f},
                                           AttentionCase{1, 77, 77, 768, 768, 12, true, 1.0f},
                                           AttentionCase{1, 300, 300, 512, 512, 1, false, 1.0f},
                                           AttentionCase{2, 33, 45, 32, 48, 4, false, 1.0f},
                                           AttentionCase{1, 5, 9, 16, 16, 2, true, 1.0f},
                                           AttentionCase{1, 9, 5, 16, 16, 2, true, 1.0f},
                                           AttentionCase{2, 7, 1, 24, 24, 3, false, 1.0f},
                                           AttentionCase{1, 129, 129, 64, 64, 2, false, 8.0f},
                                           AttentionCase{1, 700, 700, 160, 160, 4, true, 1.0f},
                                           AttentionCase{1, 4096, 4096, 8, 8, 1, false, 2.0f}));

// With v = identity (one value channel per key) the output rows are the softmax probabilities.
TEST(Attention, SoftmaxRowsSumToOne) {
  CpuBackend be;
  for (bool causal : {false, true}) {
    const int64_t L = 50;
    std::vector<float> eye(static_cast<size_t>(2 * L * L), 0.0f);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < L; ++j) eye[(b * L + j) * L + j] = 1.0f;
    Tensor p = be.attention(random_tensor(be, {2, L, 16}, 44, -3.0f, 3.0f), random_tensor(be, {2, L, 16}, 45, -3.0f, 3.0f),
                            be.upload({2, L, L}, eye), 1, causal);
    const auto out = be.download(p);
    for (int64_t r = 0; r < 2 * L; ++r) {
      double sum = 0;
      for (int64_t j = 0; j < L; ++j) {
        const float pj = out[r * L + j];
        EXPECT_GE(pj, 0.0f);
        if (causal && j > r % L) {
          EXPECT_EQ(pj, 0.0f) << "row " << r << " sees future key " << j;
        }
        sum += pj;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r << (causal ? " (causal)" : "");
    }
  }
}

// Work is handed to threads dynamically, but each value is summed in a fixed order: repeated
// runs must agree bit for bit.
TEST(Attention, RepeatsBitForBit) {
  CpuBackend be;
  Tensor q = random_tensor(be, {2, 300, 64}, 46), k = random_tensor(be, {2, 300, 64}, 47), v = random_tensor(be, {2, 300, 64}, 48);
  const auto first = be.download(be.attention(q, k, v, 4, false));
  for (int run = 0; run < 3; ++run) EXPECT_EQ(be.download(be.attention(q, k, v, 4, false)), first);
}

TEST(AttentionErrors, NameOpAndShapes) {
  CpuBackend be;
  Tensor q = random_tensor(be, {2, 5, 16}, 1), k = random_tensor(be, {2, 7, 16}, 2), v = random_tensor(be, {2, 7, 16}, 3);
  Tensor k_bad = random_tensor(be, {2, 7, 12}, 2), v_bad = random_tensor(be, {2, 6, 16}, 3), q_batch = random_tensor(be, {3, 5, 16}, 1);
  expect_error([&] { be.attention(q, k, v, 3, false); }, {"attention", "3 heads", "[2, 5, 16]"});
  expect_error([&] { be.attention(q, k_bad, v, 2, false); }, {"attention", "[2, 7, 12]"});
  expect_error([&] { be.attention(q, k, v_bad, 2, false); }, {"attention", "[2, 6, 16]"});
  expect_error([&] { be.attention(q_batch, k, v, 2, false); }, {"attention", "[3, 5, 16]"});
  expect_error([&] { be.attention(q, k, v, 0, false); }, {"attention", "0 heads"});
}

}  // namespace
}  // namespace websd::test
