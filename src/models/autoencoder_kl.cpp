#include "models/autoencoder_kl.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace websd {
namespace {

void check_input(const Tensor& x, int64_t channels, const char* what) {
  if (x.shape.size() != 4 || x.dim(1) != channels)
    throw Error(std::string("VAE: ") + what + " [N, " + std::to_string(channels) + ", H, W] (its config.json), got " +
                shape_str(x.shape));
}

}  // namespace

AutoencoderKL AutoencoderKL::load(const std::string& dir, Backend& backend) {
  AutoencoderKLConfig config = AutoencoderKLConfig::load(dir + "/config.json");
  return build(std::move(config), Weights::open_component(dir, backend));
}

AutoencoderKL AutoencoderKL::build(AutoencoderKLConfig config, const Weights& w) {
  AutoencoderKL m;
  m.config_ = std::move(config);
  m.backend_ = &w.backend();
  const AutoencoderKLConfig& c = m.config_;
  m.encoder_ = VaeEncoder::load(w["encoder"], c);
  m.decoder_ = VaeDecoder::load(w["decoder"], c);
  const int64_t latent = c.latent_channels;
  if (c.use_quant_conv)
    m.quant_conv_ = Conv2d::load(w["quant_conv"], 2 * latent, 2 * latent, 1, Conv2dParams::same(0));
  if (c.use_post_quant_conv)
    m.post_quant_conv_ = Conv2d::load(w["post_quant_conv"], latent, latent, 1, Conv2dParams::same(0));
  w.check_all_used();
  return m;
}

Tensor AutoencoderKL::decode(const Tensor& latents) const {
  check_input(latents, config_.latent_channels, "decode() takes latents");
  Backend& be = *backend_;
  if (!post_quant_conv_) return decoder_(be, latents);
  return decoder_(be, (*post_quant_conv_)(be, latents));
}

AutoencoderKL::Posterior AutoencoderKL::encode(const Tensor& image) const {
  check_input(image, config_.in_channels, "encode() takes images");
  Backend& be = *backend_;
  Tensor moments = encoder_(be, image);
  if (quant_conv_) moments = (*quant_conv_)(be, moments);
  return posterior(moments);
}

// diffusers' DiagonalGaussianDistribution: the first half of the channels is the mean, the second
// the log-variance, clamped to [-30, 20] before std = exp(logvar / 2). The backend has no clamp or
// exp, and the latent is small, so this runs on the host.
AutoencoderKL::Posterior AutoencoderKL::posterior(const Tensor& moments) const {
  Backend& be = *backend_;
  const std::vector<float> m = be.download(moments);
  const int64_t n = moments.dim(0), ch = config_.latent_channels, plane = moments.dim(2) * moments.dim(3);
  const Shape shape{n, ch, moments.dim(2), moments.dim(3)};
  std::vector<float> mean(static_cast<size_t>(numel(shape))), stddev(mean.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < ch * plane; ++i) {
      const size_t dst = static_cast<size_t>(b * ch * plane + i), src = static_cast<size_t>(2 * b * ch * plane + i);
      mean[dst] = m[src];
      stddev[dst] = std::exp(0.5f * std::clamp(m[src + static_cast<size_t>(ch * plane)], -30.0f, 20.0f));
    }
  return Posterior{be.upload(shape, mean), be.upload(shape, stddev)};
}

}  // namespace websd
