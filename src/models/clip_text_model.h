#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/layers.h"

namespace websd {

class ConfigReader;

// transformers' CLIPTextConfig, restricted to what the text encoders of Stable Diffusion use.
struct ClipTextConfig {
  bool with_projection = false;  // CLIPTextModelWithProjection (SDXL's second encoder)
  int vocab_size = 49408;
  int hidden_size = 512;
  int intermediate_size = 2048;
  int projection_dim = 512;
  int num_hidden_layers = 12;
  int num_attention_heads = 8;
  int max_position_embeddings = 77;
  UnaryOp hidden_act = UnaryOp::QuickGELU;
  float layer_norm_eps = 1e-5f;
  // 2 marks configs written before transformers knew CLIP's real end-of-text id; those pool at
  // the largest token id instead (which is end-of-text in CLIP's vocabulary).
  int eos_token_id = 49407;

  static ClipTextConfig load(const std::string& config_json);
  // From a config already read (a single-file checkpoint's sized standard config).
  static ClipTextConfig parse(ConfigReader reader);
};

// transformers' CLIPTextModel / CLIPTextModelWithProjection: token + position embeddings, pre-LN
// causal transformer layers, final LayerNorm.
class ClipTextModel {
 public:
  // A component folder (config.json and the weights), e.g. <model>/text_encoder.
  static ClipTextModel load(const std::string& dir, Backend& backend);
  // From a config and opened weights (Weights::random measures full-size models without a checkpoint).
  static ClipTextModel build(ClipTextConfig config, const Weights& weights);

  struct Output {
    Tensor last_hidden_state;         // [batch, L, hidden] after the final LayerNorm
    Tensor penultimate_hidden_state;  // hidden_states[-2]: the input of the last layer, no LayerNorm
    // transformers' hidden_states: the embeddings, then each layer's output (num_hidden_layers + 1
    // entries, none through the final LayerNorm). Pipelines pick from it for clip_skip.
    std::vector<Tensor> hidden_states;
    // hidden_states[index] with Python's negative indexing (-1: the last layer's output), as
    // diffusers indexes it; out of range is an Error.
    const Tensor& hidden_state(int index) const;
    Tensor pooled;                    // [batch, hidden]: last_hidden_state at the first end-of-text token
    std::optional<Tensor> text_embeds;  // [batch, projection_dim]: pooled · text_projection (with projection only)
  };
  // ids: batch rows of L ≤ max_position_embeddings token ids, row-major.
  Output forward(std::span<const int> ids, int batch) const;

  // text_model.final_layer_norm, which SD 1.x pipelines apply to an earlier hidden state under clip_skip.
  Tensor final_layer_norm(const Tensor& hidden_state) const { return final_layer_norm_(*backend_, hidden_state); }

  const ClipTextConfig& config() const { return config_; }

 private:
  struct Layer {
    LayerNorm layer_norm1, layer_norm2;
    Linear q_proj, k_proj, v_proj, out_proj, fc1, fc2;
  };
  Tensor run_layer(const Layer& layer, const Tensor& h) const;
  std::vector<int> pooling_rows(std::span<const int> ids, int batch, int64_t length) const;

  ClipTextConfig config_;
  Backend* backend_ = nullptr;
  Tensor token_embedding_, position_embedding_;
  std::vector<Layer> layers_;
  LayerNorm final_layer_norm_;
  std::optional<Linear> text_projection_;
};

}  // namespace websd
