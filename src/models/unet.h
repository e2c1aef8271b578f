#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/timestep_embedding.h"
#include "models/unet_blocks.h"
#include "models/unet_config.h"

namespace websd {

// diffusers' UNet2DConditionModel, built from its config.json: the noise predictor of SD 1.x/2.x
// and (with addition_embed_type "text_time") SDXL.
class UNet2DConditionModel {
 public:
  // A component folder (config.json and the weights), e.g. <model>/unet.
  static UNet2DConditionModel load(const std::string& dir, Backend& backend);
  // From a config and opened weights (a folder's, or a single-file checkpoint's view).
  static UNet2DConditionModel build(const UNetConfig& cfg, const Weights& weights);
  // Made-up weights (Weights::random), for measuring memory and speed of full-size models.
  static UNet2DConditionModel random(const UNetConfig& cfg, Backend& backend, uint64_t seed);

  // SDXL's added conditioning: the pooled text embeddings [N, D] and the size/crop time ids [N, k],
  // each id embedded as a sinusoid, through the add embedding → [N, time embedding width]. It is
  // the same at every step of a generation, so it is made once, from host values (nothing is read
  // back from the device), and handed to each forward().
  Tensor added_conditioning(const HostTensor& text_embeds, const HostTensor& time_ids) const;

  // sample [N, in_channels, h, w] (any h, w); one timestep per batch entry; context's states [N, L,
  // cross_attention_dim] → [N, out_channels, h, w]. added: added_conditioning()'s result, required
  // exactly when the config has addition_embed_type "text_time" (SDXL). The steps of one generation
  // share one TextContext, so its cross-attention keys and values are made once.
  Tensor forward(const Tensor& sample, std::span<const float> timesteps, TextContext& context,
                 const Tensor* added = nullptr) const;
  // The text context of a generation, its states [N, L, cross_attention_dim] checked and every
  // cross-attention layer's keys and values made now, so that each step does the same work (and
  // asks the backend for the same buffers) as every other.
  TextContext text_context(const Tensor& states) const;
  // One forward pass on its own.
  Tensor forward(const Tensor& sample, std::span<const float> timesteps, const Tensor& context,
                 const Tensor* added = nullptr) const;

  const UNetConfig& config() const { return config_; }

 private:
  UNet2DConditionModel(const UNetConfig& cfg, const Weights& w);
  Tensor time_embedding(int64_t batch, std::span<const float> timesteps, const Tensor* added) const;
  void check_states(const Tensor& context) const;  // what can be checked without a sample

  UNetConfig config_;
  Backend* backend_;
  Conv2d conv_in_;
  TimestepEmbedding time_embedding_;
  std::optional<TimestepEmbedding> add_embedding_;
  std::vector<UNetDownBlock> down_blocks_;
  UNetMidBlock mid_block_;
  std::vector<UNetUpBlock> up_blocks_;
  GroupNorm conv_norm_out_;
  Conv2d conv_out_;
};

}  // namespace websd
