#include "models/clip_text_model.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace websd {

ClipTextModel ClipTextModel::load(const std::string& dir, Backend& backend) {
  ClipTextConfig config = ClipTextConfig::load(dir + "/config.json");
  return build(std::move(config), Weights::open_component(dir, backend));
}

ClipTextModel ClipTextModel::build(ClipTextConfig config, const Weights& root) {
  ClipTextModel m;
  m.config_ = std::move(config);
  m.backend_ = &root.backend();
  const ClipTextConfig& c = m.config_;
  const int64_t width = c.hidden_size, inner = c.intermediate_size;
  const float eps = c.layer_norm_eps;

  // transformers 5 saves CLIPTextModel without the "text_model." prefix that older versions (and
  // CLIPTextModelWithProjection) use; both layouts are in circulation.
  const Weights w = root.has("text_model.embeddings.token_embedding.weight") ? root["text_model"] : root;
  m.token_embedding_ = w.get("embeddings.token_embedding.weight", {c.vocab_size, width});
  m.position_embedding_ = w.get("embeddings.position_embedding.weight", {c.max_position_embeddings, width});
  // Older transformers saved the position index buffer (0, 1, 2, ...); current versions drop it on
  // load and always use 0..L-1, so it is accepted and not used.
  if (w.has("embeddings.position_ids")) w.get_host("embeddings.position_ids", {1, c.max_position_embeddings});

  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const Weights l = w["encoder"]["layers"][i];
    const Weights attn = l["self_attn"];
    m.layers_.push_back(Layer{LayerNorm::load(l["layer_norm1"], width, eps),
                              LayerNorm::load(l["layer_norm2"], width, eps),
                              Linear::load(attn["q_proj"], width, width),
                              Linear::load(attn["k_proj"], width, width),
                              Linear::load(attn["v_proj"], width, width),
                              Linear::load(attn["out_proj"], width, width),
                              Linear::load(l["mlp"]["fc1"], width, inner),
                              Linear::load(l["mlp"]["fc2"], inner, width)});
  }
  m.final_layer_norm_ = LayerNorm::load(w["final_layer_norm"], width, eps);
  if (c.with_projection) m.text_projection_ = Linear::load(root["text_projection"], width, c.projection_dim, false);
  root.check_all_used();
  return m;
}

Tensor ClipTextModel::run_layer(const Layer& layer, const Tensor& h) const {
  Backend& be = *backend_;
  Tensor x = layer.layer_norm1(be, h);
  x = be.attention(layer.q_proj(be, x), layer.k_proj(be, x), layer.v_proj(be, x), config_.num_attention_heads, true);
  const Tensor mid = be.add(h, layer.out_proj(be, x));
  x = layer.fc1(be, layer.layer_norm2(be, mid));
  x = layer.fc2(be, be.unary(x, config_.hidden_act));
  return be.add(mid, x);
}

std::vector<int> ClipTextModel::pooling_rows(std::span<const int> ids, int batch, int64_t length) const {
  std::vector<int> rows(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    const std::span<const int> row = ids.subspan(static_cast<size_t>(b * length), static_cast<size_t>(length));
    // Both follow torch.argmax: the first position wins, and position 0 when no token is end-of-text.
    auto it = config_.eos_token_id == 2 ? std::max_element(row.begin(), row.end())
                                        : std::find(row.begin(), row.end(), config_.eos_token_id);
    const int64_t pos = it == row.end() ? 0 : it - row.begin();
    rows[static_cast<size_t>(b)] = static_cast<int>(b * length + pos);
  }
  return rows;
}

const Tensor& ClipTextModel::Output::hidden_state(int index) const {
  const int count = static_cast<int>(hidden_states.size());
  if (index < -count || index >= count)
    throw Error("text encoder: hidden state " + std::to_string(index) + " does not exist (it has " + std::to_string(count) +
                ": the embeddings and one per layer)");
  return hidden_states[static_cast<size_t>(index < 0 ? count + index : index)];
}

ClipTextModel::Output ClipTextModel::forward(std::span<const int> ids, int batch) const {
  Backend& be = *backend_;
  const ClipTextConfig& c = config_;
  if (batch <= 0 || ids.empty() || ids.size() % static_cast<size_t>(batch) != 0)
    throw Error("text encoder: " + std::to_string(ids.size()) + " token ids do not split into " +
                std::to_string(batch) + " rows");
  const int64_t length = static_cast<int64_t>(ids.size()) / batch, width = c.hidden_size;
  if (length > c.max_position_embeddings)
    throw Error("text encoder: " + std::to_string(length) + " tokens per prompt, but its config.json allows " +
                std::to_string(c.max_position_embeddings) + " (max_position_embeddings); truncate the prompt");
  for (int id : ids)
    if (id < 0 || id >= c.vocab_size)
      throw Error("text encoder: token id " + std::to_string(id) + " is outside its vocabulary (vocab_size " +
                  std::to_string(c.vocab_size) + "); the tokenizer does not belong to this text encoder");

  std::vector<int> positions(static_cast<size_t>(length));
  std::iota(positions.begin(), positions.end(), 0);
  Tensor h = be.add(be.embedding(token_embedding_, ids).reshaped({batch, length, width}),
                    be.embedding(position_embedding_, positions));

  Output out;
  out.hidden_states.push_back(h);
  for (const Layer& layer : layers_) {
    be.stop_point();
    h = run_layer(layer, h);
    out.hidden_states.push_back(h);
  }
  out.penultimate_hidden_state = out.hidden_state(-2);
  out.last_hidden_state = final_layer_norm_(be, h);
  // Gathering rows of the flattened states picks each prompt's pooling position.
  out.pooled = be.embedding(out.last_hidden_state.reshaped({batch * length, width}), pooling_rows(ids, batch, length));
  if (text_projection_) out.text_embeds = (*text_projection_)(be, out.pooled);
  return out;
}

}  // namespace websd
