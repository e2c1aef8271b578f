#include "tokenizer/added_tokens.h"

namespace websd::tokenizer {

std::vector<Segment> split_on_added_tokens(std::u32string_view text, const std::vector<AddedToken>& tokens) {
  std::vector<Segment> segments;
  size_t plain_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const AddedToken* best = nullptr;
    for (const AddedToken& token : tokens)
      if (!token.content.empty() && text.substr(i).starts_with(token.content) &&
          (!best || token.content.size() > best->content.size()))
        best = &token;
    if (!best) {
      ++i;
      continue;
    }
    if (plain_start < i) segments.push_back({std::u32string(text.substr(plain_start, i - plain_start)), -1});
    segments.push_back({best->content, best->id});
    i += best->content.size();
    plain_start = i;
  }
  if (plain_start < text.size()) segments.push_back({std::u32string(text.substr(plain_start)), -1});
  return segments;
}

}  // namespace websd::tokenizer
