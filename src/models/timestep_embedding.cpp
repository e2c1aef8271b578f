#include "models/timestep_embedding.h"

#include <cmath>

namespace websd {

HostTensor sinusoidal_embedding(std::span<const float> values, int dim, bool flip_sin_to_cos, float freq_shift) {
  const int half = dim / 2;
  std::vector<float> freq(static_cast<size_t>(half));
  const float log_period = static_cast<float>(-std::log(10000.0));
  for (int i = 0; i < half; ++i)
    freq[i] = std::exp(log_period * static_cast<float>(i) / (static_cast<float>(half) - freq_shift));
  HostTensor out({static_cast<int64_t>(values.size()), dim});  // an odd dim leaves the last column 0
  const int sin_at = flip_sin_to_cos ? half : 0, cos_at = flip_sin_to_cos ? 0 : half;
  for (size_t n = 0; n < values.size(); ++n) {
    float* row = out.data.data() + n * static_cast<size_t>(dim);
    for (int i = 0; i < half; ++i) {
      const double arg = values[n] * freq[i];  // the float32 product, as torch forms it
      row[sin_at + i] = static_cast<float>(std::sin(arg));
      row[cos_at + i] = static_cast<float>(std::cos(arg));
    }
  }
  return out;
}

TimestepEmbedding TimestepEmbedding::load(const Weights& w, int64_t in, int64_t out) {
  return {Linear::load(w["linear_1"], in, out), Linear::load(w["linear_2"], out, out)};
}

Tensor TimestepEmbedding::operator()(Backend& be, const Tensor& x) const {
  return linear_2(be, be.unary(linear_1(be, x), UnaryOp::SiLU));
}

}  // namespace websd
