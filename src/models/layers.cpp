#include "models/layers.h"

namespace websd {

Linear Linear::load(const Weights& w, int64_t in, int64_t out, bool bias) {
  Linear l{w.get("weight", {out, in}), std::nullopt};
  if (bias) l.bias = w.get("bias", {out});
  return l;
}

Tensor Linear::operator()(Backend& be, const Tensor& x, const Fusion& e) const {
  return be.linear(x, weight, bias ? &*bias : nullptr, e);
}

Conv2d Conv2d::load(const Weights& w, int64_t in, int64_t out, int kernel, Conv2dParams params) {
  return Conv2d{w.get("weight", {out, in, kernel, kernel}), w.get("bias", {out}), params};
}

Tensor Conv2d::operator()(Backend& be, const Tensor& x, const Fusion& e) const {
  return be.conv2d(x, weight, bias ? &*bias : nullptr, params, e);
}

GroupNorm GroupNorm::load(const Weights& w, int64_t channels, int groups, float eps) {
  return GroupNorm{w.get("weight", {channels}), w.get("bias", {channels}), groups, eps};
}

Tensor GroupNorm::operator()(Backend& be, Tensor x, bool silu) const {
  return be.group_norm(std::move(x), gamma, beta, groups, eps, silu);
}

LayerNorm LayerNorm::load(const Weights& w, int64_t dim, float eps) {
  return LayerNorm{w.get("weight", {dim}), w.get("bias", {dim}), eps};
}

Tensor LayerNorm::operator()(Backend& be, const Tensor& x) const { return be.layer_norm(x, gamma, beta, eps); }

ResnetBlock2D ResnetBlock2D::load(const Weights& w, int64_t in, int64_t out, int64_t temb_channels, int groups,
                                  float eps, float output_scale_factor) {
  ResnetBlock2D r{GroupNorm::load(w["norm1"], in, groups, eps),
                  GroupNorm::load(w["norm2"], out, groups, eps),
                  Conv2d::load(w["conv1"], in, out, 3, Conv2dParams::same(1)),
                  Conv2d::load(w["conv2"], out, out, 3, Conv2dParams::same(1)),
                  std::nullopt,
                  std::nullopt,
                  output_scale_factor};
  if (temb_channels > 0) r.time_emb_proj = Linear::load(w["time_emb_proj"], temb_channels, out);
  if (in != out) r.conv_shortcut = Conv2d::load(w["conv_shortcut"], in, out, 1, Conv2dParams::same(0));
  return r;
}

Tensor ResnetBlock2D::operator()(Backend& be, Tensor x, const Tensor* temb_silu) const {
  const std::optional<Tensor> temb = time_emb_proj && temb_silu ? std::optional((*time_emb_proj)(be, *temb_silu)) : std::nullopt;
  // The shortcut first: then x, if it was handed over and the shortcut made skip, has no other use
  // and norm1 normalises it in place (the VAE decode's first 512² resnet would otherwise hold its
  // 256-channel input twice). Where skip is x, it shares x's storage and norm1 leaves x alone.
  const Tensor skip = conv_shortcut ? (*conv_shortcut)(be, x) : x;
  Tensor h = conv1(be, norm1(be, std::move(x), true), {.channel_add = temb ? &*temb : nullptr});
  h = norm2(be, std::move(h), true);
  Tensor y = conv2(be, h, {.residual = &skip});
  return output_scale_factor == 1.0f ? y : be.scale(y, 1.0f / output_scale_factor);
}

Downsample2D Downsample2D::load(const Weights& w, int64_t channels, int padding) {
  Conv2dParams p = padding == 0 ? Conv2dParams{2, 0, 1, 0, 1} : Conv2dParams::same(padding, 2);
  return Downsample2D{Conv2d::load(w["conv"], channels, channels, 3, p)};
}

Upsample2D Upsample2D::load(const Weights& w, int64_t channels) {
  return Upsample2D{Conv2d::load(w["conv"], channels, channels, 3, Conv2dParams::same(1))};
}

Tensor Upsample2D::operator()(Backend& be, Tensor x, int64_t out_h, int64_t out_w) const {
  const Tensor up = be.upsample_nearest(x, out_h, out_w);
  x = {};  // the caller's last reference, if it handed x over: freed before the conv allocates
  return conv(be, up);
}

}  // namespace websd
