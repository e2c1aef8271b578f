#include "models/unet.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace websd {

namespace {

// The Transformer2D of each resnet of a block at `level`, or none for a block without attention.
std::vector<Transformer2D::Spec> attention_specs(const UNetConfig& c, size_t level, const std::vector<int>& depths,
                                                 bool has_attention) {
  std::vector<Transformer2D::Spec> specs;
  if (!has_attention) return specs;
  for (int depth : depths)
    specs.push_back(
        {c.attention_heads[level], c.cross_attention_dim[level], depth, c.norm_num_groups, c.use_linear_projection});
  return specs;
}

Conv2d load_conv(const Weights& w, int64_t in, int64_t out, int kernel) {
  return Conv2d::load(w, in, out, kernel, Conv2dParams::same((kernel - 1) / 2));
}

}  // namespace

UNet2DConditionModel::UNet2DConditionModel(const UNetConfig& cfg, const Weights& w)
    : config_(cfg), backend_(&w.backend()) {
  const std::vector<int>& ch = cfg.block_out_channels;
  const size_t n = ch.size();
  conv_in_ = load_conv(w["conv_in"], cfg.in_channels, ch[0], cfg.conv_in_kernel);
  time_embedding_ = TimestepEmbedding::load(w["time_embedding"], ch[0], cfg.time_embed_dim);
  if (cfg.text_time)
    add_embedding_ =
        TimestepEmbedding::load(w["add_embedding"], cfg.projection_class_embeddings_input_dim, cfg.time_embed_dim);

  const ResnetSpec resnet{cfg.time_embed_dim, cfg.norm_num_groups, cfg.norm_eps};
  std::vector<int64_t> skip_channels{ch[0]};
  for (size_t i = 0; i < n; ++i) {
    const std::optional<int> downsample = i + 1 < n ? std::optional<int>(cfg.downsample_padding) : std::nullopt;
    down_blocks_.push_back(UNetDownBlock::load(
        w["down_blocks"][static_cast<int>(i)], ch[i == 0 ? 0 : i - 1], ch[i], cfg.layers_per_block[i], resnet,
        attention_specs(cfg, i, cfg.down_transformer_layers[i], cfg.down_attention[i]), downsample, skip_channels));
  }
  mid_block_ =
      UNetMidBlock::load(w["mid_block"], ch[n - 1], resnet,
                         attention_specs(cfg, n - 1, {cfg.mid_transformer_layers}, true), cfg.mid_block_scale_factor);
  for (size_t i = 0; i < n; ++i) {
    const size_t level = n - 1 - i;
    up_blocks_.push_back(UNetUpBlock::load(
        w["up_blocks"][static_cast<int>(i)], ch[i == 0 ? level : level + 1], ch[level], cfg.layers_per_block[level] + 1,
        resnet, attention_specs(cfg, level, cfg.up_transformer_layers[i], cfg.up_attention[i]), level > 0,
        skip_channels));
  }
  conv_norm_out_ = GroupNorm::load(w["conv_norm_out"], ch[0], cfg.norm_num_groups, cfg.norm_eps);
  conv_out_ = load_conv(w["conv_out"], ch[0], cfg.out_channels, cfg.conv_out_kernel);
}

UNet2DConditionModel UNet2DConditionModel::load(const std::string& dir, Backend& backend) {
  const UNetConfig cfg = UNetConfig::load((std::filesystem::path(dir) / "config.json").string());
  return build(cfg, Weights::open_component(dir, backend));
}

UNet2DConditionModel UNet2DConditionModel::build(const UNetConfig& cfg, const Weights& weights) {
  UNet2DConditionModel model(cfg, weights);
  weights.check_all_used();
  return model;
}

UNet2DConditionModel UNet2DConditionModel::random(const UNetConfig& cfg, Backend& backend, uint64_t seed) {
  return UNet2DConditionModel(cfg, Weights::random(backend, seed));
}

Tensor UNet2DConditionModel::added_conditioning(const HostTensor& text, const HostTensor& ids) const {
  Backend& be = *backend_;
  const UNetConfig& c = config_;
  if (!add_embedding_)
    throw Error("UNet: text_embeds/time_ids are SDXL conditioning, but this UNet's config.json has no "
                "addition_embed_type \"text_time\"");
  if (text.shape.size() != 2 || ids.shape.size() != 2 || text.shape[0] != ids.shape[0])
    throw Error("UNet: text_embeds " + shape_str(text.shape) + " and time_ids " + shape_str(ids.shape) +
                " must be [N, D] and [N, k] with the same N");
  // Each time id gets its own sinusoidal embedding; a batch entry's are laid side by side after
  // its text embedding.
  const int64_t batch = text.shape[0];
  const int64_t text_dim = text.shape[1], ids_dim = ids.shape[1] * c.addition_time_embed_dim;
  if (text_dim + ids_dim != c.projection_class_embeddings_input_dim)
    throw Error("UNet: text_embeds " + shape_str(text.shape) + " and time_ids " + shape_str(ids.shape) + " make " +
                std::to_string(text_dim + ids_dim) +
                " features, but config.json's projection_class_embeddings_input_dim is " +
                std::to_string(c.projection_class_embeddings_input_dim));
  const HostTensor ids_emb = sinusoidal_embedding(ids.data, c.addition_time_embed_dim, c.flip_sin_to_cos, c.freq_shift);
  HostTensor added({batch, text_dim + ids_dim});
  for (int64_t b = 0; b < batch; ++b) {
    float* row = added.data.data() + b * (text_dim + ids_dim);
    std::copy_n(text.data.begin() + b * text_dim, text_dim, row);
    std::copy_n(ids_emb.data.begin() + b * ids_dim, ids_dim, row + text_dim);
  }
  return (*add_embedding_)(be, be.upload(added));
}

Tensor UNet2DConditionModel::time_embedding(int64_t batch, std::span<const float> timesteps, const Tensor* added) const {
  Backend& be = *backend_;
  const UNetConfig& c = config_;
  Tensor emb = time_embedding_(
      be, be.upload(sinusoidal_embedding(timesteps, c.block_out_channels[0], c.flip_sin_to_cos, c.freq_shift)));
  if (!add_embedding_) {
    if (added)
      throw Error("UNet: added conditioning is SDXL's, but this UNet's config.json has no addition_embed_type "
                  "\"text_time\"; pass none");
    return emb;
  }
  if (!added)
    throw Error("UNet: config.json has addition_embed_type \"text_time\" (SDXL); pass added_conditioning(text_embeds, "
                "time_ids)");
  if (added->shape != emb.shape)
    throw Error("UNet: added conditioning has shape " + shape_str(added->shape) + "; the time embedding is " +
                shape_str(emb.shape) + " (one row per batch entry, N = " + std::to_string(batch) + ")");
  return be.add(emb, *added);
}

Tensor UNet2DConditionModel::forward(const Tensor& sample, std::span<const float> timesteps, const Tensor& context,
                                     const Tensor* added) const {
  TextContext text(context);
  return forward(sample, timesteps, text, added);
}

void UNet2DConditionModel::check_states(const Tensor& context) const {
  if (context.shape.size() != 3)
    throw Error("UNet: context has shape " + shape_str(context.shape) + "; expected [N, length, cross_attention_dim]");
  const size_t n = config_.block_out_channels.size();
  for (size_t level = 0; level < n; ++level) {
    const bool attends = config_.down_attention[level] || config_.up_attention[n - 1 - level] || level + 1 == n;
    if (attends && context.dim(2) != config_.cross_attention_dim[level])
      throw Error("UNet: context has " + std::to_string(context.dim(2)) +
                  " channels; config.json's cross_attention_dim is " +
                  std::to_string(config_.cross_attention_dim[level]));
  }
}

TextContext UNet2DConditionModel::text_context(const Tensor& states) const {
  check_states(states);
  TextContext context(states);
  for (const UNetDownBlock& block : down_blocks_)
    for (const Transformer2D& t : block.attentions()) t.make_keys_values(*backend_, context);
  for (const Transformer2D& t : mid_block_.attentions()) t.make_keys_values(*backend_, context);
  for (const UNetUpBlock& block : up_blocks_)
    for (const Transformer2D& t : block.attentions()) t.make_keys_values(*backend_, context);
  return context;
}

Tensor UNet2DConditionModel::forward(const Tensor& sample, std::span<const float> timesteps, TextContext& text,
                                     const Tensor* added) const {
  Backend& be = *backend_;
  const Tensor& context = text.states();
  if (sample.shape.size() != 4 || sample.dim(1) != config_.in_channels)
    throw Error("UNet: sample has shape " + shape_str(sample.shape) + "; config.json expects [N, " +
                std::to_string(config_.in_channels) + ", height, width]");
  const int64_t batch = sample.dim(0);
  if (static_cast<int64_t>(timesteps.size()) != batch)
    throw Error("UNet: " + std::to_string(timesteps.size()) + " timesteps for a batch of " + std::to_string(batch) +
                "; pass one per batch entry");
  check_states(context);
  if (context.dim(0) != batch)
    throw Error("UNet: context has shape " + shape_str(context.shape) + "; expected [" + std::to_string(batch) +
                ", length, cross_attention_dim]");
  const Tensor temb = be.unary(time_embedding(batch, timesteps, added), UnaryOp::SiLU);

  Tensor h = conv_in_(be, sample);
  std::vector<Tensor> skips{h};
  for (const UNetDownBlock& block : down_blocks_) {
    be.stop_point();
    h = block(be, std::move(h), temb, text, skips);
  }
  be.stop_point();
  h = mid_block_(be, std::move(h), temb, text);
  for (const UNetUpBlock& block : up_blocks_) {
    be.stop_point();
    h = block(be, std::move(h), temb, text, skips);
  }
  h = conv_norm_out_(be, std::move(h), true);
  return conv_out_(be, h);
}

}  // namespace websd
