#pragma once
#include <optional>

#include "models/weights.h"

namespace websd {

// Building blocks shared by the text encoders, the UNet and the VAE. Each loads its parameters
// from a Weights view (named as in diffusers' state dicts) and checks their shapes against the
// sizes the config implies.

struct Linear {
  Tensor weight;
  std::optional<Tensor> bias;
  static Linear load(const Weights& w, int64_t in, int64_t out, bool bias = true);
  Tensor operator()(Backend& be, const Tensor& x, const Fusion& fusion = {}) const;
};

struct Conv2d {
  Tensor weight;
  std::optional<Tensor> bias;
  Conv2dParams params;
  static Conv2d load(const Weights& w, int64_t in, int64_t out, int kernel, Conv2dParams params);
  Tensor operator()(Backend& be, const Tensor& x, const Fusion& fusion = {}) const;
};

struct GroupNorm {
  Tensor gamma, beta;
  int groups = 32;
  float eps = 1e-5f;
  static GroupNorm load(const Weights& w, int64_t channels, int groups, float eps);
  // Handed its last reference (std::move), x is normalised in place (Backend::group_norm).
  Tensor operator()(Backend& be, Tensor x, bool silu = false) const;
};

struct LayerNorm {
  Tensor gamma, beta;
  float eps = 1e-5f;
  static LayerNorm load(const Weights& w, int64_t dim, float eps);
  Tensor operator()(Backend& be, const Tensor& x) const;
};

// diffusers' ResnetBlock2D (resnet_time_scale_shift "default"): GroupNorm·SiLU → conv → (+ time
// embedding projection) → GroupNorm·SiLU → conv, plus a 1x1 shortcut when channels change.
struct ResnetBlock2D {
  GroupNorm norm1, norm2;
  Conv2d conv1, conv2;
  std::optional<Linear> time_emb_proj;
  std::optional<Conv2d> conv_shortcut;
  float output_scale_factor = 1.0f;
  // temb_channels 0: no time embedding (the VAE).
  static ResnetBlock2D load(const Weights& w, int64_t in, int64_t out, int64_t temb_channels, int groups, float eps,
                            float output_scale_factor = 1.0f);
  // temb_silu: SiLU of the UNet's time embedding [N, temb_channels], or null. diffusers applies the
  // SiLU in every resnet; it is the same for all of them, so the UNet applies it once. Handed its
  // last reference (std::move), x is normalised in place where no shortcut still needs it.
  Tensor operator()(Backend& be, Tensor x, const Tensor* temb_silu) const;
};

// A stride-2 3x3 conv. diffusers' padding=1 pads all sides; padding=0 (the VAE encoder) pads
// only bottom and right.
struct Downsample2D {
  Conv2d conv;
  static Downsample2D load(const Weights& w, int64_t channels, int padding);
  Tensor operator()(Backend& be, const Tensor& x) const { return conv(be, x); }
};

// Nearest-neighbour upsampling then a 3x3 conv; out_h/out_w let the UNet match the skip
// connection when a latent size was odd on the way down. Handed its last reference (std::move), x
// is freed before the conv's output is made.
struct Upsample2D {
  Conv2d conv;
  static Upsample2D load(const Weights& w, int64_t channels);
  Tensor operator()(Backend& be, Tensor x, int64_t out_h, int64_t out_w) const;
};

}  // namespace websd
