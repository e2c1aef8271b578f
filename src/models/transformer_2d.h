#pragma once
#include <map>
#include <utility>
#include <vector>

#include "models/layers.h"

namespace websd {

struct Attention;

// What the UNet's cross-attention layers read of a generation's text: the encoder's hidden states
// [N, L, D] and each layer's keys and values made of them. Those depend on the text alone, so
// every denoising step would make the same ones again: they are made once (all of them up front by
// UNet2DConditionModel::text_context, else by a layer's first use), the steps reuse them, and they
// are freed with the context at the end of the generation.
class TextContext {
 public:
  explicit TextContext(Tensor states) : states_(std::move(states)) {}
  const Tensor& states() const { return states_; }
  // `layer`'s keys and values, made by the first call for that layer.
  const std::pair<Tensor, Tensor>& keys_values(Backend& be, const Attention& layer);

 private:
  Tensor states_;
  std::map<const Attention*, std::pair<Tensor, Tensor>> keys_values_;
};

// diffusers' Attention as the UNet uses it: bias-free q/k/v projections, biased output
// projection, softmax(q·kᵀ/√head_dim)·v over `heads` heads.
struct Attention {
  Linear to_q, to_k, to_v, to_out;
  int heads = 1;
  // context_dim: the size of what keys and values are made from (dim for self-attention).
  static Attention load(const Weights& w, int64_t dim, int64_t context_dim, int heads);
  // Self-attention, then cross-attention; the fusion is to_out's (a residual, say).
  Tensor operator()(Backend& be, const Tensor& x, const Fusion& fusion = {}) const;
  Tensor operator()(Backend& be, const Tensor& x, TextContext& context, const Fusion& fusion = {}) const;

 private:
  Tensor attend(Backend& be, const Tensor& x, const Tensor& k, const Tensor& v, const Fusion& fusion) const;
};

// diffusers' BasicTransformerBlock (layer_norm type, GEGLU feed-forward of width 4·dim): pre-norm
// self-attention, cross-attention on the text context, feed-forward, each added to the residual.
struct BasicTransformerBlock {
  LayerNorm norm1, norm2, norm3;
  Attention attn1, attn2;
  Linear ff_proj, ff_out;
  static BasicTransformerBlock load(const Weights& w, int64_t dim, int64_t context_dim, int heads);
  Tensor operator()(Backend& be, const Tensor& x, TextContext& context) const;  // x [N, L, dim]
};

// diffusers' Transformer2DModel on continuous (image) input: GroupNorm → proj_in → blocks on
// the H·W tokens → proj_out, added to the input. The projections are stored as 1x1 convolutions,
// or as linear layers when use_linear_projection is set (SD 2.x, SDXL); both are the same linear
// map on the tokens, so both are applied as one.
class Transformer2D {
 public:
  struct Spec {
    int heads = 8;
    int64_t context_dim = 768;
    int num_layers = 1;
    int groups = 32;
    bool linear_projection = false;
  };
  // channels is split into spec.heads heads of channels / heads (rounded down, as diffusers does).
  static Transformer2D load(const Weights& w, int64_t channels, const Spec& spec);
  Tensor operator()(Backend& be, const Tensor& x, TextContext& context) const;  // x [N, C, H, W]
  // Makes each block's cross-attention keys and values in `context`.
  void make_keys_values(Backend& be, TextContext& context) const;

 private:
  GroupNorm norm_;
  Linear proj_in_, proj_out_;
  std::vector<BasicTransformerBlock> blocks_;
};

}  // namespace websd
