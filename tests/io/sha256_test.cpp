// SHA-256 in the SRI form artifact manifests use: FIPS 180-2's vectors, incremental updates, the
// "sha256-<base64>" and hex spellings, and the syntax check manifests are parsed with.
#include "io/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace websd {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Sha256::Digest digest_of(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish();
}

#ifndef __EMSCRIPTEN__

TEST(Sha256, NistVectors) {
  EXPECT_EQ(Sha256::hex(digest_of(bytes_of(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::hex(digest_of(bytes_of("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::hex(digest_of(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256::hex(digest_of(bytes_of(std::string(1000000, 'a')))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, UnevenPiecesEqualOneShot) {
  std::vector<uint8_t> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 31 + i / 977) % 251);
  const Sha256::Digest whole = digest_of(data);
  Sha256 h;
  size_t at = 0, piece = 1;
  int pieces = 0;
  while (at < data.size()) {
    const size_t n = std::min(piece, data.size() - at);
    h.update(std::span<const uint8_t>(data).subspan(at, n));
    at += n;
    piece = piece * 7 % 65521 + 1;  // 1, 8, 57, 400, ... uneven, block boundaries crossed anywhere
    ++pieces;
  }
  h.update({});  // an empty update changes nothing
  EXPECT_GT(pieces, 20);
  EXPECT_EQ(h.finish(), whole);
  // The same bytes in one piece through the free function.
  EXPECT_EQ(sha256_integrity(data), Sha256::sri(whole));
  data[123456] ^= 1;
  EXPECT_NE(digest_of(data), whole);
}

TEST(Sha256, SriAndHexSpellings) {
  EXPECT_EQ(sha256_integrity(bytes_of("")), "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(sha256_integrity(bytes_of("abc")), "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  Sha256 h;
  h.update(bytes_of("abc"));
  EXPECT_EQ(h.integrity(), "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

#else

TEST(Sha256, TheWasmBuildLeavesHashingToTheHost) {
  try {
    Sha256 h;
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("JS host"), std::string::npos) << e.what();
  }
}

#endif

// sri() and hex() are plain encodings, the same in every build.
TEST(Sha256, EncodesDigests) {
  Sha256::Digest d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i * 8 + 3);
  EXPECT_EQ(Sha256::hex(d), "030b131b232b333b434b535b636b737b838b939ba3abb3bbc3cbd3dbe3ebf3fb");
  EXPECT_EQ(Sha256::sri(d), "sha256-AwsTGyMrMztDS1NbY2tze4OLk5ujq7O7w8vT2+Pr8/s=");
  EXPECT_EQ(Sha256::sri(Sha256::Digest{}), "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  Sha256::Digest ones;
  ones.fill(0xff);
  EXPECT_EQ(Sha256::hex(ones), std::string(64, 'f'));
  EXPECT_EQ(Sha256::sri(ones), "sha256-//////////////////////////////////////////8=");
  EXPECT_TRUE(is_sha256_integrity(Sha256::sri(d)));
}

TEST(Sha256, IntegritySyntax) {
  const std::string good = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
  EXPECT_TRUE(is_sha256_integrity(good));
  EXPECT_TRUE(is_sha256_integrity("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
  for (const std::string& bad : {
           std::string(""),
           std::string("sha256-"),
           good.substr(7),                                 // no prefix
           "sha384-" + good.substr(7),                     // another algorithm
           "SHA256-" + good.substr(7),                     // the prefix is lower case
           good.substr(0, good.size() - 1),                // no padding
           good.substr(0, good.size() - 2) + "==",         // padding of 31 bytes' encoding
           good + "=",                                     // too long
           good.substr(0, 20) + "-" + good.substr(21),     // base64url's '-'
           good.substr(0, 20) + "_" + good.substr(21),     // base64url's '_'
           good.substr(0, 20) + " " + good.substr(21),     // a space
           " " + good,                                     // leading space
           "sha256-" + std::string(64, 'a'),               // hex, not base64
       })
    EXPECT_FALSE(is_sha256_integrity(bad)) << bad;
}

}  // namespace
}  // namespace websd
