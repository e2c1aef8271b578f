#pragma once
#include <optional>
#include <string>

#include "models/vae.h"

namespace websd {

// diffusers' AutoencoderKL: images ↔ latents. Latents here are the VAE's own; pipelines multiply
// by scaling_factor (after subtracting shift_factor, where set) on the way in to the UNet and undo
// that before decode().
class AutoencoderKL {
 public:
  // A component folder (config.json and the weights), e.g. <model>/vae.
  static AutoencoderKL load(const std::string& dir, Backend& backend);
  // From a config and opened weights (Weights::random measures full-size models without a checkpoint).
  static AutoencoderKL build(AutoencoderKLConfig config, const Weights& weights);

  // [N, latent_channels, h, w] → [N, out_channels, h·f, w·f], roughly in [-1, 1] (diffusers'
  // vae.decode(latents).sample, before the pipeline's /2 + 0.5).
  Tensor decode(const Tensor& latents) const;

  // The diagonal Gaussian the encoder predicts, each [N, latent_channels, H/f, W/f].
  struct Posterior {
    Tensor mean;
    Tensor std;
  };
  Posterior encode(const Tensor& image) const;  // image in [-1, 1], [N, in_channels, H, W]

  float scaling_factor() const { return config_.scaling_factor; }
  std::optional<float> shift_factor() const { return config_.shift_factor; }
  int downscale_factor() const { return config_.downscale_factor(); }  // f
  int latent_channels() const { return config_.latent_channels; }
  const AutoencoderKLConfig& config() const { return config_; }

 private:
  Posterior posterior(const Tensor& moments) const;

  AutoencoderKLConfig config_;
  Backend* backend_ = nullptr;
  VaeEncoder encoder_;
  VaeDecoder decoder_;
  std::optional<Conv2d> quant_conv_, post_quant_conv_;
};

}  // namespace websd
