#include "models/transformer_2d.h"

namespace websd {

Attention Attention::load(const Weights& w, int64_t dim, int64_t context_dim, int heads) {
  return {Linear::load(w["to_q"], dim, dim, false), Linear::load(w["to_k"], context_dim, dim, false),
          Linear::load(w["to_v"], context_dim, dim, false), Linear::load(w["to_out"][0], dim, dim), heads};
}

const std::pair<Tensor, Tensor>& TextContext::keys_values(Backend& be, const Attention& layer) {
  auto it = keys_values_.find(&layer);
  if (it == keys_values_.end())
    it = keys_values_.emplace(&layer, std::pair{layer.to_k(be, states_), layer.to_v(be, states_)}).first;
  return it->second;
}

Tensor Attention::attend(Backend& be, const Tensor& x, const Tensor& k, const Tensor& v, const Fusion& e) const {
  Tensor o = be.attention(to_q(be, x), k, v, heads, false);
  return to_out(be, o, e);
}

Tensor Attention::operator()(Backend& be, const Tensor& x, const Fusion& e) const {
  return attend(be, x, to_k(be, x), to_v(be, x), e);
}

Tensor Attention::operator()(Backend& be, const Tensor& x, TextContext& context, const Fusion& e) const {
  const auto& [k, v] = context.keys_values(be, *this);
  return attend(be, x, k, v, e);
}

BasicTransformerBlock BasicTransformerBlock::load(const Weights& w, int64_t dim, int64_t context_dim, int heads) {
  const int64_t ff_dim = 4 * dim;
  return {LayerNorm::load(w["norm1"], dim, 1e-5f),
          LayerNorm::load(w["norm2"], dim, 1e-5f),
          LayerNorm::load(w["norm3"], dim, 1e-5f),
          Attention::load(w["attn1"], dim, dim, heads),
          Attention::load(w["attn2"], dim, context_dim, heads),
          Linear::load(w["ff"]["net"][0]["proj"], dim, 2 * ff_dim),
          Linear::load(w["ff"]["net"][2], ff_dim, dim)};
}

Tensor BasicTransformerBlock::operator()(Backend& be, const Tensor& x, TextContext& context) const {
  Tensor h = attn1(be, norm1(be, x), {.residual = &x});
  h = attn2(be, norm2(be, h), context, {.residual = &h});
  const Tensor ff = ff_proj(be, norm3(be, h));
  return ff_out(be, ff, {.residual = &h, .geglu = true});
}

// A 1x1 convolution's weight [out, in, 1, 1] viewed as the linear layer it is on tokens.
static Linear load_projection(const Weights& w, int64_t in, int64_t out, bool linear) {
  if (linear) return Linear::load(w, in, out);
  return Linear{w.get("weight", {out, in, 1, 1}).reshaped({out, in}), w.get("bias", {out})};
}

Transformer2D Transformer2D::load(const Weights& w, int64_t channels, const Spec& spec) {
  const int64_t inner = spec.heads * (channels / spec.heads);
  Transformer2D t;
  t.norm_ = GroupNorm::load(w["norm"], channels, spec.groups, 1e-6f);
  t.proj_in_ = load_projection(w["proj_in"], channels, inner, spec.linear_projection);
  for (int i = 0; i < spec.num_layers; ++i)
    t.blocks_.push_back(BasicTransformerBlock::load(w["transformer_blocks"][i], inner, spec.context_dim, spec.heads));
  t.proj_out_ = load_projection(w["proj_out"], inner, channels, spec.linear_projection);
  return t;
}

Tensor Transformer2D::operator()(Backend& be, const Tensor& x, TextContext& context) const {
  const int64_t height = x.dim(2), width = x.dim(3);
  Tensor h = proj_in_(be, be.nchw_to_nlc(norm_(be, x)));
  for (const BasicTransformerBlock& block : blocks_) h = block(be, h, context);
  return proj_out_(be, h, {height, width, &x});
}

void Transformer2D::make_keys_values(Backend& be, TextContext& context) const {
  for (const BasicTransformerBlock& block : blocks_) context.keys_values(be, block.attn2);
}

}  // namespace websd
