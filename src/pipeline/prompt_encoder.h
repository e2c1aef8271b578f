#pragma once
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "models/clip_text_model.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd {

// What the UNet is conditioned on for one prompt.
struct PromptEmbeddings {
  HostTensor embeds;                 // [1, L, cross_attention_dim]
  std::optional<HostTensor> pooled;  // [1, projection_dim]: SDXL's text_embeds, absent for SD 1.x/2.x
};

// The text side of a pipeline, as diffusers' encode_prompt of each family does it.
//   SD 1.x/2.x (one encoder): the last hidden state; with clip_skip k, hidden_states[-(k+1)] through
//     the final LayerNorm.
//   SDXL (two encoders, the same prompt to both): each encoder's hidden_states[-(k+2)] (k = 0 without
//     clip_skip), no final LayerNorm, laid side by side along channels; pooled: the last encoder's
//     text_embeds.
// clip_skip 0 is diffusers' None: both index formulas give the default there.
class PromptEncoder {
 public:
  struct TextStage {
    ClipTokenizer tokenizer;
    ClipTextModel text_encoder;
  };
  // One stage: SD 1.x/2.x. Two: SDXL, the second with projection (its text_embeds are the pooled
  // embeddings); force_zeros_for_empty_prompt is the pipeline's config.
  PromptEncoder(Backend& backend, std::vector<TextStage> stages, bool force_zeros_for_empty_prompt = false);

  PromptEmbeddings encode(const std::string& prompt, int clip_skip) const;
  // The unconditional branch. negative_prompt nullopt is diffusers' None: "" is encoded, unless the
  // SDXL config forces zeros. diffusers applies clip_skip to the positive prompt only.
  PromptEmbeddings encode_negative(const std::optional<std::string>& negative_prompt,
                                   const PromptEmbeddings& positive) const;

  bool has_pooled() const { return stages_.size() > 1; }
  // The largest clip_skip the encoders have layers for (Python's index would go out of range beyond).
  int max_clip_skip() const;

 private:
  Backend* backend_;
  std::vector<TextStage> stages_;
  bool force_zeros_ = false;
};

}  // namespace websd
