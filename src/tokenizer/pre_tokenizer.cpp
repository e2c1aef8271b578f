#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/char_classes.h"
#include "tokenizer/utf8.h"

namespace websd::tokenizer {

namespace {

constexpr std::u32string_view kContractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
constexpr std::u32string_view kSpecialLiterals[] = {U"<|startoftext|>", U"<|endoftext|>"};

bool is_other(char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

template <class Predicate>
size_t run_end(std::u32string_view s, size_t i, Predicate in_run) {
  while (i < s.size() && in_run(s[i])) ++i;
  return i;
}

size_t literal_end(std::u32string_view s, size_t i, std::u32string_view literal) {
  return s.substr(i).starts_with(literal) ? i + literal.size() : i;
}

// End of the match of CLIP's pattern at i (== i: none). Alternatives are tried in the pattern's
// order, as a backtracking engine does, so "'s" wins over a run of symbols starting with "'".
size_t clip_match_end(std::u32string_view s, size_t i) {
  for (auto literal : kSpecialLiterals)
    if (size_t end = literal_end(s, i, literal); end != i) return end;
  for (auto literal : kContractions)
    if (size_t end = literal_end(s, i, literal); end != i) return end;
  if (is_letter(s[i])) return run_end(s, i, is_letter);
  if (is_number(s[i])) return i + 1;
  if (is_other(s[i])) return run_end(s, i, is_other);
  return i;
}

// GPT-2's pattern restricted to text without whitespace (the optional leading space and the
// whitespace alternatives can never match there): contractions, \p{L}+, \p{N}+, other+.
size_t gpt2_match_end(std::u32string_view s, size_t i) {
  for (auto literal : kContractions)
    if (size_t end = literal_end(s, i, literal); end != i) return end;
  if (is_letter(s[i])) return run_end(s, i, is_letter);
  if (is_number(s[i])) return run_end(s, i, is_number);
  return run_end(s, i, is_other);
}

}  // namespace

std::vector<std::string> pre_tokenize(std::u32string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    const size_t end = clip_match_end(text, i);
    if (end == i) {  // whitespace: dropped
      ++i;
      continue;
    }
    const std::u32string_view piece = text.substr(i, end - i);
    for (size_t j = 0; j < piece.size();) {
      const size_t word_end = gpt2_match_end(piece, j);
      words.push_back(encode_utf8(piece.substr(j, word_end - j)));
      j = word_end;
    }
    i = end;
  }
  return words;
}

}  // namespace websd::tokenizer
