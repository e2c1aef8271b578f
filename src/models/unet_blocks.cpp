#include "models/unet_blocks.h"

namespace websd {

namespace {

ResnetBlock2D load_resnet(const Weights& w, int64_t in, int64_t out, const ResnetSpec& s, float output_scale = 1.0f) {
  return ResnetBlock2D::load(w, in, out, s.temb_channels, s.groups, s.eps, output_scale);
}

// Taken off the stack inside the expression that consumes it, so it is freed with that expression.
Tensor pop(std::vector<Tensor>& skips) {
  Tensor t = std::move(skips.back());
  skips.pop_back();
  return t;
}

}  // namespace

UNetDownBlock UNetDownBlock::load(const Weights& w, int64_t in, int64_t out, int num_resnets, const ResnetSpec& resnet,
                                  const std::vector<Transformer2D::Spec>& attentions,
                                  std::optional<int> downsample_padding, std::vector<int64_t>& skip_channels) {
  UNetDownBlock b;
  for (int i = 0; i < num_resnets; ++i) {
    b.resnets_.push_back(load_resnet(w["resnets"][i], i == 0 ? in : out, out, resnet));
    if (!attentions.empty()) b.attentions_.push_back(Transformer2D::load(w["attentions"][i], out, attentions[i]));
    skip_channels.push_back(out);
  }
  if (downsample_padding) {
    b.downsample_ = Downsample2D::load(w["downsamplers"][0], out, *downsample_padding);
    skip_channels.push_back(out);
  }
  return b;
}

Tensor UNetDownBlock::operator()(Backend& be, Tensor h, const Tensor& temb, TextContext& context,
                                 std::vector<Tensor>& skips) const {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = resnets_[i](be, std::move(h), &temb);
    if (!attentions_.empty()) h = attentions_[i](be, h, context);
    skips.push_back(h);
  }
  if (downsample_) {
    h = (*downsample_)(be, h);
    skips.push_back(h);
  }
  return h;
}

UNetMidBlock UNetMidBlock::load(const Weights& w, int64_t channels, const ResnetSpec& resnet,
                                const std::vector<Transformer2D::Spec>& attentions, float output_scale_factor) {
  UNetMidBlock b;
  b.resnets_.push_back(load_resnet(w["resnets"][0], channels, channels, resnet, output_scale_factor));
  for (size_t i = 0; i < attentions.size(); ++i) {
    b.attentions_.push_back(Transformer2D::load(w["attentions"][static_cast<int>(i)], channels, attentions[i]));
    b.resnets_.push_back(
        load_resnet(w["resnets"][static_cast<int>(i) + 1], channels, channels, resnet, output_scale_factor));
  }
  return b;
}

Tensor UNetMidBlock::operator()(Backend& be, Tensor h, const Tensor& temb, TextContext& context) const {
  h = resnets_[0](be, std::move(h), &temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    h = attentions_[i](be, h, context);
    h = resnets_[i + 1](be, std::move(h), &temb);
  }
  return h;
}

UNetUpBlock UNetUpBlock::load(const Weights& w, int64_t in, int64_t out, int num_resnets, const ResnetSpec& resnet,
                              const std::vector<Transformer2D::Spec>& attentions, bool upsample,
                              std::vector<int64_t>& skip_channels) {
  UNetUpBlock b;
  for (int i = 0; i < num_resnets; ++i) {
    const int64_t skip = skip_channels.back();
    skip_channels.pop_back();
    b.resnets_.push_back(load_resnet(w["resnets"][i], (i == 0 ? in : out) + skip, out, resnet));
    if (!attentions.empty()) b.attentions_.push_back(Transformer2D::load(w["attentions"][i], out, attentions[i]));
  }
  if (upsample) b.upsample_ = Upsample2D::load(w["upsamplers"][0], out);
  return b;
}

Tensor UNetUpBlock::operator()(Backend& be, Tensor h, const Tensor& temb, TextContext& context,
                               std::vector<Tensor>& skips) const {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = be.concat_channels(h, pop(skips));
    h = resnets_[i](be, std::move(h), &temb);
    if (!attentions_.empty()) h = attentions_[i](be, h, context);
  }
  if (upsample_) h = (*upsample_)(be, std::move(h), skips.back().dim(2), skips.back().dim(3));
  return h;
}

}  // namespace websd
