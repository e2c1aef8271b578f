#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace websd {

// SHA-256 in Subresource Integrity form ("sha256-" + base64 of the digest), the form artifact
// manifests name their shards by. Native builds use OpenSSL's libcrypto; in the WebAssembly build
// the JS host verifies shards (WebCrypto, node:crypto) before they reach the engine, and these
// functions say so.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  using Digest = std::array<uint8_t, 32>;
  void update(std::span<const uint8_t> bytes);
  Digest finish();
  std::string integrity() { return sri(finish()); }

  static std::string sri(const Digest& digest);  // "sha256-<base64>"
  static std::string hex(const Digest& digest);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_integrity(std::span<const uint8_t> bytes);

// Whether text has the form "sha256-" followed by the base64 of 32 bytes.
bool is_sha256_integrity(const std::string& text);

}  // namespace websd
