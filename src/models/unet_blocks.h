#pragma once
#include <optional>
#include <vector>

#include "models/layers.h"
#include "models/transformer_2d.h"

namespace websd {

// What every resnet of one UNet shares.
struct ResnetSpec {
  int64_t temb_channels = 1280;
  int groups = 32;
  float eps = 1e-5f;
};

// The blocks of diffusers' UNet2DConditionModel. A block with attention (CrossAttnDownBlock2D,
// CrossAttnUpBlock2D) follows each resnet with a Transformer2D; `attentions` then has one spec
// per resnet, and is empty for the plain variants (DownBlock2D, UpBlock2D).
//
// Their temb is SiLU of the UNet's time embedding (ResnetBlock2D); context, the generation's text.
//
// The down path pushes the conv_in output, every resnet output and every downsampled output onto
// a skip stack that the up path pops, one per resnet. Loading walks the same stack of channel
// counts, so the resnet input sizes follow from the block sequence exactly as in the forward pass.

class UNetDownBlock {
 public:
  // downsample_padding: nullopt for the last level, which keeps its resolution.
  static UNetDownBlock load(const Weights& w, int64_t in, int64_t out, int num_resnets, const ResnetSpec& resnet,
                            const std::vector<Transformer2D::Spec>& attentions, std::optional<int> downsample_padding,
                            std::vector<int64_t>& skip_channels);
  Tensor operator()(Backend& be, Tensor h, const Tensor& temb, TextContext& context, std::vector<Tensor>& skips) const;
  const std::vector<Transformer2D>& attentions() const { return attentions_; }

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
  std::optional<Downsample2D> downsample_;
};

// UNetMidBlock2DCrossAttn: resnet, then (Transformer2D, resnet) per entry of attentions.
class UNetMidBlock {
 public:
  static UNetMidBlock load(const Weights& w, int64_t channels, const ResnetSpec& resnet,
                           const std::vector<Transformer2D::Spec>& attentions, float output_scale_factor);
  Tensor operator()(Backend& be, Tensor h, const Tensor& temb, TextContext& context) const;
  const std::vector<Transformer2D>& attentions() const { return attentions_; }

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
};

class UNetUpBlock {
 public:
  // in: the channels coming from the block below (prev_output_channel in diffusers).
  static UNetUpBlock load(const Weights& w, int64_t in, int64_t out, int num_resnets, const ResnetSpec& resnet,
                          const std::vector<Transformer2D::Spec>& attentions, bool upsample,
                          std::vector<int64_t>& skip_channels);
  // Upsamples to the size of the skip connection it meets next, which is how diffusers handles
  // latent sizes not divisible by 2^(levels-1) (the down path rounded them up).
  Tensor operator()(Backend& be, Tensor h, const Tensor& temb, TextContext& context, std::vector<Tensor>& skips) const;
  const std::vector<Transformer2D>& attentions() const { return attentions_; }

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2D> attentions_;
  std::optional<Upsample2D> upsample_;
};

}  // namespace websd
