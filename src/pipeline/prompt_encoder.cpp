#include "pipeline/prompt_encoder.h"

#include <algorithm>

#include "core/error.h"

namespace websd {
namespace {

// a and b [1, L, Ca], [1, L, Cb] → [1, L, Ca + Cb] (torch.concat(..., dim=-1)).
HostTensor concat_channels(const HostTensor& a, const HostTensor& b) {
  const int64_t rows = a.shape[0] * a.shape[1], ca = a.shape[2], cb = b.shape[2];
  HostTensor out({a.shape[0], a.shape[1], ca + cb});
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(a.data.begin() + r * ca, ca, out.data.begin() + r * (ca + cb));
    std::copy_n(b.data.begin() + r * cb, cb, out.data.begin() + r * (ca + cb) + ca);
  }
  return out;
}

HostTensor zeros_like(const HostTensor& t) { return HostTensor(t.shape); }

}  // namespace

PromptEncoder::PromptEncoder(Backend& backend, std::vector<TextStage> stages, bool force_zeros_for_empty_prompt)
    : backend_(&backend), stages_(std::move(stages)), force_zeros_(force_zeros_for_empty_prompt) {
  if (stages_.empty() || stages_.size() > 2) throw Error("a pipeline has one or two text encoders");
  if (has_pooled() && !stages_.back().text_encoder.config().with_projection)
    throw Error("text_encoder_2 must be a CLIPTextModelWithProjection: SDXL's pooled embeddings are its text_embeds");
}

int PromptEncoder::max_clip_skip() const {
  // hidden_states has num_hidden_layers + 1 entries; SD reaches back to index -(k+1), SDXL to -(k+2).
  int most = stages_.front().text_encoder.config().num_hidden_layers;
  for (const TextStage& s : stages_) most = std::min(most, s.text_encoder.config().num_hidden_layers);
  return has_pooled() ? most - 1 : most;
}

PromptEmbeddings PromptEncoder::encode(const std::string& prompt, int clip_skip) const {
  if (clip_skip < 0 || clip_skip > max_clip_skip())
    throw Error("clip skip " + std::to_string(clip_skip) + " is out of range: the text encoders have layers for 0 to " +
                std::to_string(max_clip_skip()));
  Backend& be = *backend_;
  PromptEmbeddings out;
  if (!has_pooled()) {
    const TextStage& s = stages_.front();
    const ClipTextModel::Output o = s.text_encoder.forward(s.tokenizer.encode(prompt), 1);
    out.embeds = be.to_host(clip_skip == 0 ? o.last_hidden_state
                                           : s.text_encoder.final_layer_norm(o.hidden_state(-(clip_skip + 1))));
    return out;
  }
  for (const TextStage& s : stages_) {
    const ClipTextModel::Output o = s.text_encoder.forward(s.tokenizer.encode(prompt), 1);
    const HostTensor h = be.to_host(o.hidden_state(-(clip_skip + 2)));
    out.embeds = out.embeds.data.empty() ? h : concat_channels(out.embeds, h);
    if (o.text_embeds) out.pooled = be.to_host(*o.text_embeds);
  }
  return out;
}

PromptEmbeddings PromptEncoder::encode_negative(const std::optional<std::string>& negative_prompt,
                                                const PromptEmbeddings& positive) const {
  if (!negative_prompt && force_zeros_) {
    PromptEmbeddings zeros{zeros_like(positive.embeds), std::nullopt};
    if (positive.pooled) zeros.pooled = zeros_like(*positive.pooled);
    return zeros;
  }
  return encode(negative_prompt.value_or(""), 0);
}

}  // namespace websd
