#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/error.h"
#include "tokenizer/char_classes.h"
#include "tokenizer/utf8.h"

namespace websd::tokenizer {

namespace {

std::u32string nfc(std::u32string_view text) {
  if (text.empty()) return {};
  const std::string utf8 = encode_utf8(text);
  utf8proc_uint8_t* composed = nullptr;
  const utf8proc_ssize_t size = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                                             static_cast<utf8proc_ssize_t>(utf8.size()), &composed,
                                             static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(composed, &std::free);
  // The input is valid UTF-8 by construction, so only running out of memory can land here.
  if (size < 0) throw Error(std::string("prompt: Unicode NFC normalisation failed: ") + utf8proc_errmsg(size));
  return decode_utf8(std::string_view(reinterpret_cast<const char*>(composed), static_cast<size_t>(size)));
}

void append_lowercase(std::u32string& out, char32_t c) {
  // The one unconditional lowercase mapping to two code points (SpecialCasing.txt); utf8proc only
  // has the one-to-one mappings, which Rust uses for every other character.
  if (c == 0x130) {
    out += U"i\u0307";
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

}  // namespace

std::u32string normalize(std::u32string_view text) {
  const std::u32string composed = nfc(text);
  std::u32string out;
  out.reserve(composed.size());
  bool in_space = false;
  for (char32_t c : composed) {
    if (is_space(c)) {
      if (!in_space) out.push_back(U' ');
      in_space = true;
      continue;
    }
    in_space = false;
    append_lowercase(out, c);
  }
  return out;
}

}  // namespace websd::tokenizer
