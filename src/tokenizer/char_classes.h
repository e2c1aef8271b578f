#pragma once

namespace websd::tokenizer {

// The character classes of CLIP's regular expressions as the tokenizers library (Oniguruma) reads
// them on Unicode text, with utf8proc's Unicode tables. utf8proc 2.8 knows Unicode 15.0 and
// tokenizers 0.23 knows 16.0: a code point assigned in between counts as a symbol here where
// transformers may see a letter or digit (tested equal on everything Unicode 15.0 assigns).
bool is_space(char32_t c);   // \s: the White_Space property
bool is_letter(char32_t c);  // \p{L}: general categories Lu Ll Lt Lm Lo
bool is_number(char32_t c);  // \p{N}: general categories Nd Nl No

}  // namespace websd::tokenizer
