#pragma once
#include <string>
#include <string_view>

namespace websd::tokenizer {

// CLIPTokenizer's normalizer in transformers 5 (the tokenizers backend; the ftfy/BasicTokenizer
// path of the old Python tokenizer is gone): NFC, then every run of \s to one space, then lower
// case one code point at a time (Rust's char::to_lowercase: no context-dependent final sigma).
std::u32string normalize(std::u32string_view text);

}  // namespace websd::tokenizer
