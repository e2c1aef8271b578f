#include "io/sha256.h"

#include <cctype>

#include "core/error.h"

#ifndef __EMSCRIPTEN__
#include <openssl/evp.h>
#endif

namespace websd {

#ifndef __EMSCRIPTEN__
struct Sha256::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) throw Error("sha256: OpenSSL failed to start a digest");
}

void Sha256::update(std::span<const uint8_t> bytes) {
  if (EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) != 1) throw Error("sha256: OpenSSL digest update failed");
}

Sha256::Digest Sha256::finish() {
  Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(state_->ctx, digest.data(), &length) != 1 || length != digest.size())
    throw Error("sha256: OpenSSL digest failed");
  return digest;
}
#else
struct Sha256::State {};

Sha256::Sha256() {
  throw Error("sha256: this WebAssembly build leaves verification to the JS host (web/lib loads artifact models)");
}
void Sha256::update(std::span<const uint8_t>) {}
Sha256::Digest Sha256::finish() { return {}; }
#endif

Sha256::~Sha256() = default;

std::string Sha256::sri(const Digest& digest) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "sha256-";
  for (size_t i = 0; i < digest.size(); i += 3) {
    const uint32_t b0 = digest[i], b1 = i + 1 < digest.size() ? digest[i + 1] : 0, b2 = i + 2 < digest.size() ? digest[i + 2] : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < digest.size() ? digits[(v >> 6) & 63] : '=';
    out += i + 2 < digest.size() ? digits[v & 63] : '=';
  }
  return out;
}

std::string Sha256::hex(const Digest& digest) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string sha256_integrity(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.update(bytes);
  return h.integrity();
}

bool is_sha256_integrity(const std::string& text) {
  // 32 bytes are 43 base64 digits and one '=' of padding; the 43rd digit carries 2 bits only.
  const std::string prefix = "sha256-";
  if (text.size() != prefix.size() + 44 || text.compare(0, prefix.size(), prefix) != 0 || text.back() != '=') return false;
  for (size_t i = prefix.size(); i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  }
  return true;
}

}  // namespace websd
