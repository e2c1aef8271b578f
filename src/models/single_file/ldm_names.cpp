#include "models/single_file/ldm_names.h"

#include <optional>
#include <utility>
#include <vector>

#include "core/error.h"

namespace websd::single_file {
namespace {

using Parts = std::vector<std::string>;

Parts split(const std::string& name) {
  Parts parts;
  size_t start = 0;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
    parts.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(name.substr(start));
  return parts;
}

// parts[from..] joined with dots; "" when nothing is left.
std::string join(const Parts& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

std::optional<int> index_of(const std::string& part) {
  if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoi(part);
}

// Whether the name has more parts than `head` and begins with it.
bool starts(const Parts& parts, std::initializer_list<const char*> head) {
  if (parts.size() <= head.size()) return false;
  size_t i = 0;
  for (const char* h : head)
    if (parts[i++] != h) return false;
  return true;
}

// `rest` with its leading part renamed by `table`, or nullopt when no entry applies.
std::optional<std::string> rename_head(const std::string& rest,
                                       std::initializer_list<std::pair<const char*, const char*>> table) {
  for (auto [from, to] : table) {
    const std::string f = std::string(from) + ".";
    if (rest.compare(0, f.size(), f) == 0) return std::string(to) + "." + rest.substr(f.size());
  }
  return std::nullopt;
}

std::optional<std::string> prefixed(const std::string& prefix, const std::optional<std::string>& rest) {
  return rest ? std::optional<std::string>(prefix + *rest) : std::nullopt;
}

[[noreturn]] void unknown(const std::string& name) {
  throw Error("tensor '" + name + "' has no counterpart in diffusers' layout (is this an SD 1.x or SDXL checkpoint?)");
}

class Mapper {
 public:
  explicit Mapper(const StoredTensors& stored) : stored_(stored) {}
  void copy(const std::string& to, const std::string& from) { out_[to] = TensorRecipe::copy(from, stored_.at(from)); }
  void add(const std::string& to, TensorRecipe recipe) { out_[to] = std::move(recipe); }
  DiffusersTensors take() { return std::move(out_); }

 private:
  const StoredTensors& stored_;
  DiffusersTensors out_;
};

// A UNet resnet's layers: ResBlock's in_layers = [GroupNorm, SiLU, conv], out_layers = [GroupNorm,
// SiLU, Dropout, conv], emb_layers = [SiLU, Linear].
std::optional<std::string> unet_resnet(const std::string& rest) {
  return rename_head(rest, {{"in_layers.0", "norm1"},
                            {"in_layers.2", "conv1"},
                            {"out_layers.0", "norm2"},
                            {"out_layers.3", "conv2"},
                            {"emb_layers.1", "time_emb_proj"},
                            {"skip_connection", "conv_shortcut"}});
}

std::string level_prefix(const char* blocks, int level, const char* kind, int index) {
  return std::string(blocks) + "." + std::to_string(level) + "." + kind + "." + std::to_string(index) + ".";
}

}  // namespace

DiffusersTensors map_unet(const StoredTensors& stored) {
  // LDM numbers the blocks of each path consecutively; diffusers groups them by level. A down
  // level ends with its downsampler (an "op" conv), an up level with its upsampler (a "conv" after
  // the resnet and, if any, the attention), so the levels follow from the blocks present.
  std::map<int, bool> input_blocks;   // index → is a downsampler
  std::map<int, int> output_blocks;   // index → the slot of its upsampler, 0 if none
  for (const auto& entry : stored) {
    const Parts p = split(entry.first);
    const auto k = p.size() > 3 ? index_of(p[1]) : std::nullopt, s = p.size() > 3 ? index_of(p[2]) : std::nullopt;
    if (!k || !s) continue;
    if (p[0] == "input_blocks" && *k > 0) input_blocks[*k] |= *s == 0 && p[3] == "op";
    if (p[0] == "output_blocks") {
      int& slot = output_blocks[*k];
      if (*s > 0 && p[3] == "conv") slot = *s;
    }
  }
  std::map<int, std::pair<int, int>> down_at, up_at;  // block index → (level, position in level)
  int level = 0, position = 0;
  for (auto [k, downsampler] : input_blocks) {
    down_at[k] = {level, downsampler ? -1 : position++};
    if (downsampler) {
      ++level;
      position = 0;
    }
  }
  level = 0;
  position = 0;
  for (auto [k, upsampler] : output_blocks) {
    up_at[k] = {level, position++};
    if (upsampler) {
      ++level;
      position = 0;
    }
  }

  Mapper m(stored);
  for (const auto& entry : stored) {
    const std::string& name = entry.first;
    const Parts p = split(name);
    std::optional<std::string> to;
    if (starts(p, {"time_embed"}) && (p[1] == "0" || p[1] == "2") && p.size() == 3)
      to = "time_embedding.linear_" + std::string(p[1] == "0" ? "1" : "2") + "." + p[2];
    else if (starts(p, {"label_emb", "0"}) && (p[2] == "0" || p[2] == "2") && p.size() == 4)
      to = "add_embedding.linear_" + std::string(p[2] == "0" ? "1" : "2") + "." + p[3];
    else if (starts(p, {"out"}) && (p[1] == "0" || p[1] == "2") && p.size() == 3)
      to = (p[1] == "0" ? "conv_norm_out." : "conv_out.") + p[2];
    else if (starts(p, {"input_blocks", "0", "0"}) && p.size() == 4)
      to = "conv_in." + p[3];
    else if (starts(p, {"middle_block"}) && p.size() > 2) {
      const std::string rest = join(p, 2);
      if (p[1] == "1") to = "mid_block.attentions.0." + rest;
      else if (auto r = unet_resnet(rest); r && (p[1] == "0" || p[1] == "2"))
        to = "mid_block.resnets." + std::string(p[1] == "0" ? "0." : "1.") + *r;
    } else if (p.size() > 3 && (p[0] == "input_blocks" || p[0] == "output_blocks")) {
      const bool down = p[0] == "input_blocks";
      const auto k = index_of(p[1]), s = index_of(p[2]);
      const auto& at = down ? down_at : up_at;
      const std::string rest = join(p, 3);
      if (k && s && at.count(*k)) {
        const auto [lvl, pos] = at.at(*k);
        const char* blocks = down ? "down_blocks" : "up_blocks";
        if (down && pos < 0 && *s == 0 && p[3] == "op")
          to = std::string(blocks) + "." + std::to_string(lvl) + ".downsamplers.0.conv." + join(p, 4);
        else if (!down && *s > 0 && *s == output_blocks.at(*k))
          to = std::string(blocks) + "." + std::to_string(lvl) + ".upsamplers.0." + rest;
        else if (pos >= 0 && *s == 0)
          to = prefixed(level_prefix(blocks, lvl, "resnets", pos), unet_resnet(rest));
        else if (pos >= 0 && *s == 1)
          to = level_prefix(blocks, lvl, "attentions", pos) + rest;
      }
    }
    if (!to) unknown(name);
    m.copy(*to, name);
  }
  return m.take();
}

namespace {

std::optional<std::string> vae_resnet(const std::string& rest) {
  return rename_head(rest, {{"norm1", "norm1"}, {"conv1", "conv1"}, {"norm2", "norm2"}, {"conv2", "conv2"},
                            {"nin_shortcut", "conv_shortcut"}});
}

}  // namespace

DiffusersTensors map_vae(const StoredTensors& stored) {
  // The decoder's levels are numbered from the deepest in LDM (up.0 is the last to run) and in
  // running order in diffusers (up_blocks.0 runs first).
  int up_levels = 0;
  for (const auto& entry : stored) {
    const Parts p = split(entry.first);
    if (starts(p, {"decoder", "up"}))
      if (auto i = index_of(p[2])) up_levels = std::max(up_levels, *i + 1);
  }
  Mapper m(stored);
  for (const auto& [name, shape] : stored) {
    const Parts p = split(name);
    std::optional<std::string> to;
    if (p[0] == "quant_conv" || p[0] == "post_quant_conv") {
      to = name;
    } else if ((p[0] == "encoder" || p[0] == "decoder") && p.size() > 2) {
      const std::string part = p[0] + ".", rest = join(p, 1);
      // down.i.block.j / up.i.upsample: level i, resnet j (-1: not an index).
      const int i = p.size() > 4 ? index_of(p[2]).value_or(-1) : -1, j = p.size() > 4 ? index_of(p[4]).value_or(-1) : -1;
      if (p[1] == "conv_in" || p[1] == "conv_out") {
        to = name;
      } else if (p[1] == "norm_out") {
        to = part + "conv_norm_out." + join(p, 2);
      } else if (p[1] == "mid" && (p[2] == "block_1" || p[2] == "block_2")) {
        to = prefixed(part + "mid_block.resnets." + (p[2] == "block_1" ? "0." : "1."), vae_resnet(join(p, 3)));
      } else if (p[1] == "mid" && p[2] == "attn_1" && p.size() == 5) {
        static const std::map<std::string, std::string> attention = {
            {"norm", "group_norm"}, {"q", "to_q"}, {"k", "to_k"}, {"v", "to_v"}, {"proj_out", "to_out.0"}};
        if (auto it = attention.find(p[3]); it != attention.end()) {
          const std::string target = part + "mid_block.attentions.0." + it->second + "." + p[4];
          // LDM's AttnBlock computes q, k, v and the output with 1×1 convolutions; diffusers'
          // Attention with linears of the same [C, C] weights.
          if (p[4] == "weight" && shape.size() == 4) {
            m.add(target, {name, TensorRecipe::Op::kReshape, {shape[0], shape[1]}, 0});
            continue;
          }
          to = target;
        }
      } else if ((p[1] == "down" || p[1] == "up") && i >= 0) {
        const bool down = p[1] == "down";
        const int level = down ? i : up_levels - 1 - i;
        const std::string blocks = part + (down ? "down_blocks." : "up_blocks.") + std::to_string(level) + ".";
        if (p[3] == "block" && j >= 0)
          to = prefixed(blocks + "resnets." + std::to_string(j) + ".", vae_resnet(join(p, 5)));
        else if (p[3] == (down ? "downsample" : "upsample"))
          to = blocks + (down ? "downsamplers.0." : "upsamplers.0.") + join(p, 4);
      }
    }
    if (!to) unknown(name);
    m.copy(*to, name);
  }
  return m.take();
}

DiffusersTensors map_clip(const StoredTensors& stored) {
  DiffusersTensors out;
  for (const auto& [name, shape] : stored) out[name] = TensorRecipe::copy(name, shape);
  return out;
}

DiffusersTensors map_open_clip(const StoredTensors& stored) {
  Mapper m(stored);
  for (const auto& [name, shape] : stored) {
    const Parts p = split(name);
    std::optional<std::string> to;
    // CLIP's contrastive temperature and the causal mask buffer: the text tower's forward pass
    // uses neither (transformers builds the causal mask itself).
    if (name == "logit_scale" || name == "attn_mask") continue;
    if (name == "token_embedding.weight") {
      to = "text_model.embeddings.token_embedding.weight";
    } else if (name == "positional_embedding") {
      to = "text_model.embeddings.position_embedding.weight";
    } else if (p[0] == "ln_final" && p.size() == 2) {
      to = "text_model.final_layer_norm." + p[1];
    } else if (name == "text_projection.weight") {
      to = name;  // already transformers' Linear layout
    } else if (name == "text_projection" && shape.size() == 2) {
      // OpenCLIP multiplies x @ text_projection; transformers' Linear stores the transpose.
      m.add("text_projection.weight", {name, TensorRecipe::Op::kTranspose, {shape[1], shape[0]}, 0});
      continue;
    } else if (starts(p, {"transformer", "resblocks"}) && p.size() > 3 && index_of(p[2])) {
      const std::string layer = "text_model.encoder.layers." + p[2] + ".", rest = join(p, 3);
      if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
        // torch's MultiheadAttention keeps q, k and v stacked along the first dimension.
        if (shape.empty() || shape[0] % 3 != 0) unknown(name);
        const bool weight = rest == "attn.in_proj_weight";
        Shape part = shape;
        part[0] /= 3;
        for (int i = 0; i < 3; ++i)
          m.add(layer + "self_attn." + "qkv"[i] + "_proj." + (weight ? "weight" : "bias"),
                {name, TensorRecipe::Op::kRows, part, i * part[0]});
        continue;
      }
      to = prefixed(layer, rename_head(rest, {{"ln_1", "layer_norm1"},
                                              {"ln_2", "layer_norm2"},
                                              {"mlp.c_fc", "mlp.fc1"},
                                              {"mlp.c_proj", "mlp.fc2"},
                                              {"attn.out_proj", "self_attn.out_proj"}}));
    }
    if (!to) unknown(name);
    m.copy(*to, name);
  }
  return m.take();
}

}  // namespace websd::single_file
