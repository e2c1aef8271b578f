#pragma once
#include <string>
#include <string_view>

namespace websd::tokenizer {

// Decodes UTF-8 into code points. transformers only ever sees a Python str, so bytes that are not
// UTF-8 are taken the way Python's bytes.decode("utf-8", errors="replace") reads them: each maximal
// ill-formed subsequence (Unicode's "maximal subpart" rule, which Python follows) becomes one
// U+FFFD, which then tokenizes like any other symbol instead of failing the whole prompt.
std::u32string decode_utf8(std::string_view bytes);

void append_utf8(std::string& out, char32_t code_point);
std::string encode_utf8(std::u32string_view text);

}  // namespace websd::tokenizer
