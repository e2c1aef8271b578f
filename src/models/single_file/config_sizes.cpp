#include "models/single_file/config_sizes.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace websd::single_file {
namespace {

// No Stable Diffusion weight has a dimension above 2^20 (CLIP's vocabulary, the largest, has 49,408
// rows); refusing larger ones keeps the config sizes below, and the products of them, within an int.
constexpr int64_t kMaxDim = int64_t{1} << 20;

const Shape& checked(const std::string& name, const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0 || d > kMaxDim)
      throw Error("tensor '" + name + "' has shape " + shape_str(shape) + ", larger than any Stable Diffusion weight's");
  return shape;
}

class Shapes {
 public:
  explicit Shapes(const DiffusersTensors& t) : t_(t) {}
  bool has(const std::string& name) const { return t_.count(name) != 0; }
  const Shape& operator[](const std::string& name) const {
    auto it = t_.find(name);
    if (it == t_.end()) throw Error("no tensor '" + name + "', which every model of this kind has");
    return checked(name, it->second.shape);
  }
  // How many of head + i + tail exist for i = 0, 1, ... (stopping at the first gap).
  int count(const std::string& head, const std::string& tail) const {
    int n = 0;
    while (has(head + std::to_string(n) + tail)) ++n;
    return n;
  }
  // The first tensor whose name ends with `tail`, if any.
  const Shape* any_ending(const std::string& tail) const {
    for (const auto& [name, recipe] : t_)
      if (name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0)
        return &checked(name, recipe.shape);
    return nullptr;
  }

 private:
  const DiffusersTensors& t_;
};

int dim(const Shape& s, size_t i) { return i < s.size() ? static_cast<int>(s[i]) : 0; }

// diffusers' "int or one per block" fields: an int when every block agrees.
nlohmann::json int_or_list(const std::vector<int>& v) {
  if (!v.empty() && std::all_of(v.begin(), v.end(), [&](int x) { return x == v.front(); })) return v.front();
  return v;
}

// Channels per attention head in the standard config, when it fixes them (a list of head counts
// matching a list of widths), else 0 (a fixed head count).
int standard_head_width(const nlohmann::json& widths, const nlohmann::json& heads) {
  if (!heads.is_array() || !widths.is_array() || heads.size() != widths.size() || heads.empty()) return 0;
  int width = 0;
  for (size_t i = 0; i < heads.size(); ++i) {
    const int w = widths[i].get<int>() / std::max(heads[i].get<int>(), 1);
    if (width && w != width) return 0;
    width = w;
  }
  return width;
}

[[noreturn]] void heads_unknown(const std::string& where, int width, int head_width) {
  throw Error(where + ": " + std::to_string(width) + " channels are no multiple of the standard " +
              std::to_string(head_width) +
              "-channel attention heads, and the weights cannot tell the head count; give the model's configs "
              "(a diffusers folder of the same architecture) with --config");
}

}  // namespace

nlohmann::json unet_sizes(const DiffusersTensors& tensors) {
  const Shapes t(tensors);
  const Shape &conv_in = t["conv_in.weight"], &conv_out = t["conv_out.weight"];
  const int levels = t.count("down_blocks.", ".resnets.0.conv1.weight");
  if (levels == 0) throw Error("no tensor 'down_blocks.0.resnets.0.conv1.weight', which every UNet has");
  std::vector<int> channels, layers, depths;
  nlohmann::json down_types = nlohmann::json::array(), up_types = nlohmann::json::array();
  for (int i = 0; i < levels; ++i) {
    const std::string down = "down_blocks." + std::to_string(i) + ".";
    const std::string up = "up_blocks." + std::to_string(levels - 1 - i) + ".";
    channels.push_back(dim(t[down + "resnets.0.conv1.weight"], 0));
    layers.push_back(t.count(down + "resnets.", ".conv1.weight"));
    const bool down_attention = t.has(down + "attentions.0.proj_in.weight");
    down_types.push_back(down_attention ? "CrossAttnDownBlock2D" : "DownBlock2D");
    // A level's transformer depth, from whichever path has attention there (1 where none does).
    const std::string attention = down_attention ? down : up;
    const int depth = t.count(attention + "attentions.0.transformer_blocks.", ".norm1.weight");
    depths.push_back(std::max(depth, 1));
  }
  for (int u = 0; u < levels; ++u)
    up_types.push_back(t.has("up_blocks." + std::to_string(u) + ".attentions.0.proj_in.weight") ? "CrossAttnUpBlock2D"
                                                                                                 : "UpBlock2D");
  nlohmann::json j = {{"in_channels", dim(conv_in, 1)},
                      {"out_channels", dim(conv_out, 0)},
                      {"conv_in_kernel", dim(conv_in, 2)},
                      {"conv_out_kernel", dim(conv_out, 2)},
                      {"block_out_channels", channels},
                      {"layers_per_block", int_or_list(layers)},
                      {"down_block_types", down_types},
                      {"up_block_types", up_types},
                      {"transformer_layers_per_block", int_or_list(depths)}};
  if (const Shape* to_k = t.any_ending(".attn2.to_k.weight")) j["cross_attention_dim"] = dim(*to_k, 1);
  // SD 1.x projects into and out of its transformers with 1×1 convolutions, SD 2.x and SDXL with linears.
  if (const Shape* proj_in = t.any_ending(".proj_in.weight")) j["use_linear_projection"] = proj_in->size() == 2;
  const int time_embed = dim(t["time_embedding.linear_1.weight"], 0);
  if (time_embed != 4 * channels[0]) j["time_embedding_dim"] = time_embed;
  if (t.has("add_embedding.linear_1.weight")) {
    j["addition_embed_type"] = "text_time";
    j["projection_class_embeddings_input_dim"] = dim(t["add_embedding.linear_1.weight"], 1);
  }
  return j;
}

nlohmann::json vae_sizes(const DiffusersTensors& tensors) {
  const Shapes t(tensors);
  const int levels = t.count("encoder.down_blocks.", ".resnets.0.conv1.weight");
  if (levels == 0) throw Error("no tensor 'encoder.down_blocks.0.resnets.0.conv1.weight', which every VAE has");
  std::vector<int> channels;
  for (int i = 0; i < levels; ++i)
    channels.push_back(dim(t["encoder.down_blocks." + std::to_string(i) + ".resnets.0.conv1.weight"], 0));
  return {{"in_channels", dim(t["encoder.conv_in.weight"], 1)},
          {"out_channels", dim(t["decoder.conv_out.weight"], 0)},
          {"latent_channels", dim(t["decoder.conv_in.weight"], 1)},
          {"block_out_channels", channels},
          {"layers_per_block", t.count("encoder.down_blocks.0.resnets.", ".conv1.weight")},
          {"down_block_types", std::vector<std::string>(static_cast<size_t>(levels), "DownEncoderBlock2D")},
          {"up_block_types", std::vector<std::string>(static_cast<size_t>(levels), "UpDecoderBlock2D")},
          {"use_quant_conv", t.has("quant_conv.weight")},
          {"use_post_quant_conv", t.has("post_quant_conv.weight")},
          {"mid_block_add_attention", t.has("encoder.mid_block.attentions.0.to_q.weight")}};
}

nlohmann::json clip_sizes(const DiffusersTensors& tensors) {
  const Shapes t(tensors);
  // transformers 5 saves CLIPTextModel without the "text_model." prefix; both are in circulation.
  const std::string base = t.has("text_model.embeddings.token_embedding.weight") ? "text_model." : "";
  const Shape& tokens = t[base + "embeddings.token_embedding.weight"];
  nlohmann::json j = {{"vocab_size", dim(tokens, 0)},
                      {"hidden_size", dim(tokens, 1)},
                      {"max_position_embeddings", dim(t[base + "embeddings.position_embedding.weight"], 0)},
                      {"num_hidden_layers", t.count(base + "encoder.layers.", ".layer_norm1.weight")},
                      {"intermediate_size", dim(t[base + "encoder.layers.0.mlp.fc1.weight"], 0)}};
  if (t.has("text_projection.weight")) j["projection_dim"] = dim(t["text_projection.weight"], 0);
  return j;
}

nlohmann::json sized_config(nlohmann::json standard, const nlohmann::json& sizes) {
  for (const auto& [key, value] : sizes.items()) standard[key] = value;
  return standard;
}

nlohmann::json sized_unet_config(nlohmann::json standard, const nlohmann::json& sizes, const std::string& where) {
  const int head_width = standard_head_width(standard.value("block_out_channels", nlohmann::json()),
                                             standard.value("attention_head_dim", nlohmann::json()));
  nlohmann::json c = sized_config(std::move(standard), sizes);
  if (!head_width) return c;
  nlohmann::json heads = nlohmann::json::array();
  const nlohmann::json& down_types = c["down_block_types"];
  for (size_t i = 0; i < c["block_out_channels"].size(); ++i) {
    const int channels = c["block_out_channels"][i].get<int>();
    // A level without attention needs no head count; diffusers still wants an entry for it.
    const bool attends = down_types[i] == "CrossAttnDownBlock2D" ||
                         c["up_block_types"][down_types.size() - 1 - i] == "CrossAttnUpBlock2D";
    if (attends && channels % head_width) heads_unknown(where, channels, head_width);
    heads.push_back(std::max(channels / head_width, 1));
  }
  c["attention_head_dim"] = heads;
  return c;
}

nlohmann::json sized_clip_config(nlohmann::json standard, const nlohmann::json& sizes, const std::string& where) {
  const int head_width = standard.value("hidden_size", 0) / std::max(standard.value("num_attention_heads", 1), 1);
  nlohmann::json c = sized_config(std::move(standard), sizes);
  const int hidden = c.value("hidden_size", 0);
  if (head_width < 1 || hidden % head_width) heads_unknown(where, hidden, head_width);
  c["num_attention_heads"] = hidden / head_width;
  return c;
}

}  // namespace websd::single_file
