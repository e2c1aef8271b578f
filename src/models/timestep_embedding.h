#pragma once
#include <span>

#include "models/layers.h"

namespace websd {

// diffusers' get_timestep_embedding (the `Timesteps` module): values [n] → [n, dim] of sin/cos at
// geometrically spaced frequencies, computed in float32 the way torch does so that large
// timesteps round the same. Cosines come first when flip_sin_to_cos is set.
HostTensor sinusoidal_embedding(std::span<const float> values, int dim, bool flip_sin_to_cos, float freq_shift);

// diffusers' TimestepEmbedding with act_fn silu: linear_1 → SiLU → linear_2.
struct TimestepEmbedding {
  Linear linear_1, linear_2;
  static TimestepEmbedding load(const Weights& w, int64_t in, int64_t out);
  Tensor operator()(Backend& be, const Tensor& x) const;
};

}  // namespace websd
