#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace websd::tokenizer {

// A token matched in the prompt before BPE (the special tokens, SDXL's "!" pad, tokens a
// fine-tune added): tokenizers' AddedVocabulary.
struct AddedToken {
  std::u32string content;
  int id = -1;
};

// A stretch of the prompt: an added token (id >= 0) or text to tokenize further (id < 0).
struct Segment {
  std::u32string text;
  int id = -1;
};

// Cuts text at the added tokens, leftmost match first and the longest of those, as the
// Aho-Corasick LeftmostLongest automaton of tokenizers does.
std::vector<Segment> split_on_added_tokens(std::u32string_view text, const std::vector<AddedToken>& tokens);

}  // namespace websd::tokenizer
