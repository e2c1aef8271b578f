#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace websd::tokenizer {

// Splits normalized text into the words that BPE encodes one at a time, returned as UTF-8.
// CLIPTokenizer chains two pre-tokenizers:
//  1. Split on <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//     keeping the matches and dropping what lies between them (only whitespace can);
//  2. ByteLevel(use_regex) on each match: GPT-2's pattern. On text without whitespace that only
//     changes one thing: a literal "<|endoftext|>" that the normalizer made (say from
//     "<|EndOfText|>") falls apart into "<|", "endoftext", "|>".
std::vector<std::string> pre_tokenize(std::u32string_view normalized);

}  // namespace websd::tokenizer
