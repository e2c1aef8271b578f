#pragma once

namespace websd::tokenizer {

// GPT-2's bytes_to_unicode: BPE runs on bytes, each shown as one printable code point so that the
// vocabulary can be stored as text. Printable Latin-1 bytes stand for themselves; the other 68
// (controls, space, 0x7F-0xA0, 0xAD) take U+0100 onwards in byte order.
char32_t byte_to_unicode(unsigned char byte);

}  // namespace websd::tokenizer
