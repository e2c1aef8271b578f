#include "models/vae.h"

namespace websd {
namespace {

// diffusers builds every VAE norm (resnets, attention, output) with eps 1e-6.
constexpr float kEps = 1e-6f;

}  // namespace

VaeAttention VaeAttention::load(const Weights& w, int64_t channels, int groups) {
  // Checkpoints saved before diffusers 0.14 name the projections query/key/value/proj_attn;
  // diffusers still renames them on load, so both layouts are in circulation.
  const bool legacy = w.has("query.weight");
  return VaeAttention{GroupNorm::load(w["group_norm"], channels, groups, kEps),
                      Linear::load(w[legacy ? "query" : "to_q"], channels, channels),
                      Linear::load(w[legacy ? "key" : "to_k"], channels, channels),
                      Linear::load(w[legacy ? "value" : "to_v"], channels, channels),
                      Linear::load(legacy ? w["proj_attn"] : w["to_out"][0], channels, channels)};
}

Tensor VaeAttention::operator()(Backend& be, const Tensor& x) const {
  Tensor t = be.nchw_to_nlc(group_norm(be, x));
  t = be.attention(to_q(be, t), to_k(be, t), to_v(be, t), 1, false);
  return to_out(be, t, {x.dim(2), x.dim(3), &x});
}

VaeMidBlock VaeMidBlock::load(const Weights& w, const AutoencoderKLConfig& c) {
  const int64_t ch = c.block_out_channels.back();
  const int g = c.norm_num_groups;
  VaeMidBlock m{ResnetBlock2D::load(w["resnets"][0], ch, ch, 0, g, kEps), std::nullopt,
                ResnetBlock2D::load(w["resnets"][1], ch, ch, 0, g, kEps)};
  if (c.mid_block_add_attention) m.attention = VaeAttention::load(w["attentions"][0], ch, g);
  return m;
}

Tensor VaeMidBlock::operator()(Backend& be, Tensor x) const {
  Tensor h = resnet_in(be, std::move(x), nullptr);
  if (attention) h = (*attention)(be, h);
  return resnet_out(be, std::move(h), nullptr);
}

VaeEncoder VaeEncoder::load(const Weights& w, const AutoencoderKLConfig& c) {
  const std::vector<int>& chans = c.block_out_channels;
  const int g = c.norm_num_groups;
  VaeEncoder e;
  e.conv_in = Conv2d::load(w["conv_in"], c.in_channels, chans[0], 3, Conv2dParams::same(1));
  int64_t in = chans[0];
  for (size_t i = 0; i < chans.size(); ++i) {
    const Weights block = w["down_blocks"][static_cast<int>(i)];
    Stage s;
    for (int j = 0; j < c.layers_per_block; ++j) {
      s.resnets.push_back(ResnetBlock2D::load(block["resnets"][j], in, chans[i], 0, g, kEps));
      in = chans[i];
    }
    if (i + 1 < chans.size()) s.downsample = Downsample2D::load(block["downsamplers"][0], chans[i], 0);
    e.stages.push_back(std::move(s));
  }
  e.mid_block = VaeMidBlock::load(w["mid_block"], c);
  e.conv_norm_out = GroupNorm::load(w["conv_norm_out"], chans.back(), g, kEps);
  // Twice the latent channels: the mean and the log-variance of the posterior.
  e.conv_out = Conv2d::load(w["conv_out"], chans.back(), 2 * c.latent_channels, 3, Conv2dParams::same(1));
  return e;
}

Tensor VaeEncoder::operator()(Backend& be, const Tensor& image) const {
  Tensor h = conv_in(be, image);
  for (const Stage& s : stages) {
    for (const ResnetBlock2D& r : s.resnets) h = r(be, std::move(h), nullptr);
    if (s.downsample) h = (*s.downsample)(be, h);
  }
  h = mid_block(be, std::move(h));
  h = conv_norm_out(be, std::move(h), true);
  return conv_out(be, h);
}

VaeDecoder VaeDecoder::load(const Weights& w, const AutoencoderKLConfig& c) {
  const std::vector<int>& chans = c.block_out_channels;
  const int g = c.norm_num_groups;
  const size_t n = chans.size();
  VaeDecoder d;
  d.conv_in = Conv2d::load(w["conv_in"], c.latent_channels, chans.back(), 3, Conv2dParams::same(1));
  d.mid_block = VaeMidBlock::load(w["mid_block"], c);
  int64_t in = chans.back();
  for (size_t i = 0; i < n; ++i) {  // block_out_channels in reverse
    const int64_t out = chans[n - 1 - i];
    const Weights block = w["up_blocks"][static_cast<int>(i)];
    Stage s;
    for (int j = 0; j < c.layers_per_block + 1; ++j) {
      s.resnets.push_back(ResnetBlock2D::load(block["resnets"][j], in, out, 0, g, kEps));
      in = out;
    }
    if (i + 1 < n) s.upsample = Upsample2D::load(block["upsamplers"][0], out);
    d.stages.push_back(std::move(s));
  }
  d.conv_norm_out = GroupNorm::load(w["conv_norm_out"], chans[0], g, kEps);
  d.conv_out = Conv2d::load(w["conv_out"], chans[0], c.out_channels, 3, Conv2dParams::same(1));
  return d;
}

Tensor VaeDecoder::operator()(Backend& be, const Tensor& latents) const {
  be.stop_point();
  Tensor h = mid_block(be, conv_in(be, latents));
  // Each tensor handed on (std::move) as its last use, so that the 512² stage holds no copy.
  for (const Stage& s : stages) {
    be.stop_point();
    for (const ResnetBlock2D& r : s.resnets) h = r(be, std::move(h), nullptr);
    if (s.upsample) {
      const int64_t out_h = 2 * h.dim(2), out_w = 2 * h.dim(3);
      h = (*s.upsample)(be, std::move(h), out_h, out_w);
    }
  }
  h = conv_norm_out(be, std::move(h), true);
  return conv_out(be, h);
}

}  // namespace websd
