#pragma once
#include <optional>
#include <string>
#include <vector>

#include "models/layers.h"

namespace websd {

class ConfigReader;

// diffusers' AutoencoderKL config, restricted to the DownEncoderBlock2D / UpDecoderBlock2D
// family that the Stable Diffusion VAEs use.
struct AutoencoderKLConfig {
  int in_channels = 3;
  int out_channels = 3;
  int latent_channels = 4;
  std::vector<int> block_out_channels = {64};
  int layers_per_block = 1;
  int norm_num_groups = 32;
  float scaling_factor = 0.18215f;
  std::optional<float> shift_factor;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  bool mid_block_add_attention = true;
  int sample_size = 32;  // pixels; diffusers reads the first entry of a [height, width] list

  int downscale_factor() const { return 1 << (block_out_channels.size() - 1); }  // pixels per latent

  static AutoencoderKLConfig load(const std::string& config_json);
  // From a config already read (a single-file checkpoint's sized standard config).
  static AutoencoderKLConfig parse(ConfigReader reader);
};

// diffusers' Attention as UNetMidBlock2D builds it for the VAE: GroupNorm, then self-attention over
// the pixels with one head as wide as the channels, then a residual connection.
struct VaeAttention {
  GroupNorm group_norm;
  Linear to_q, to_k, to_v, to_out;
  static VaeAttention load(const Weights& w, int64_t channels, int groups);
  Tensor operator()(Backend& be, const Tensor& x) const;
};

// UNetMidBlock2D without time embedding: resnet, (attention, resnet).
struct VaeMidBlock {
  ResnetBlock2D resnet_in;
  std::optional<VaeAttention> attention;
  ResnetBlock2D resnet_out;
  static VaeMidBlock load(const Weights& w, const AutoencoderKLConfig& c);
  Tensor operator()(Backend& be, Tensor x) const;
};

// diffusers' vae.Encoder: image [N, in_channels, H, W] → moments [N, 2·latent_channels, H/f, W/f].
struct VaeEncoder {
  struct Stage {  // DownEncoderBlock2D
    std::vector<ResnetBlock2D> resnets;
    std::optional<Downsample2D> downsample;
  };
  Conv2d conv_in;
  std::vector<Stage> stages;
  VaeMidBlock mid_block;
  GroupNorm conv_norm_out;
  Conv2d conv_out;
  static VaeEncoder load(const Weights& w, const AutoencoderKLConfig& c);
  Tensor operator()(Backend& be, const Tensor& image) const;
};

// diffusers' vae.Decoder: latents [N, latent_channels, h, w] → image [N, out_channels, h·f, w·f].
struct VaeDecoder {
  struct Stage {  // UpDecoderBlock2D
    std::vector<ResnetBlock2D> resnets;
    std::optional<Upsample2D> upsample;
  };
  Conv2d conv_in;
  VaeMidBlock mid_block;
  std::vector<Stage> stages;
  GroupNorm conv_norm_out;
  Conv2d conv_out;
  static VaeDecoder load(const Weights& w, const AutoencoderKLConfig& c);
  Tensor operator()(Backend& be, const Tensor& latents) const;
};

}  // namespace websd
