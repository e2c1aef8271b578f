#pragma once
#include <string>
#include <vector>

namespace websd {

class ConfigReader;

// diffusers' UNet2DConditionModel config.json, resolved into per-level values. Levels count from
// the input (block_out_channels order); up-path fields are listed deepest level first, the order
// the up blocks run in.
struct UNetConfig {
  int in_channels = 4;
  int out_channels = 4;
  int sample_height = 64, sample_width = 64;  // the latent size the model was trained at

  std::vector<int> block_out_channels;
  std::vector<int> layers_per_block;  // resnets per down block; up blocks have one more
  std::vector<bool> down_attention;   // CrossAttnDownBlock2D (true) or DownBlock2D
  std::vector<bool> up_attention;     // CrossAttnUpBlock2D (true) or UpBlock2D, up order
  // Heads per level: num_attention_heads, or else attention_head_dim, which SD configs use for
  // the head count (a naming mistake kept by diffusers for compatibility).
  std::vector<int> attention_heads;
  std::vector<int> cross_attention_dim;                   // per level
  std::vector<std::vector<int>> down_transformer_layers;  // per level, per resnet
  int mid_transformer_layers = 1;
  std::vector<std::vector<int>> up_transformer_layers;  // per up block (up order), per resnet
  bool use_linear_projection = false;

  int norm_num_groups = 32;
  float norm_eps = 1e-5f;
  int conv_in_kernel = 3, conv_out_kernel = 3;
  int downsample_padding = 1;
  float mid_block_scale_factor = 1.0f;

  bool flip_sin_to_cos = true;
  float freq_shift = 0;
  int time_embed_dim = 1280;  // time_embedding_dim, or 4 · block_out_channels[0]

  // SDXL's addition_embed_type "text_time": pooled text embeddings and sinusoidal embeddings of
  // the size/crop conditioning (time_ids) are projected and added to the time embedding.
  bool text_time = false;
  int addition_time_embed_dim = 0;
  int projection_class_embeddings_input_dim = 0;

  static UNetConfig load(const std::string& config_json);
  // From a config already read (a single-file checkpoint's sized standard config).
  static UNetConfig parse(ConfigReader reader);
};

}  // namespace websd
