// Edge cases of the real CLIP vocabulary. The expected ids come from the tokenizers library 0.23
// (the Rust code behind transformers 5's CLIPTokenizer) run on the same vocabulary, not from
// this implementation.
#include <gtest/gtest.h>

#include <thread>

#include "support/fixtures.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd {
namespace {

constexpr int kBos = 49406;
constexpr int kEos = 49407;

class ClipEdgeCases : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = new ClipTokenizer(
        ClipTokenizer::from_files(test::fixture("tokenizer/vocab.json"), test::fixture("tokenizer/merges.txt")));
  }
  static void TearDownTestSuite() { delete tok_; }
  // The ids between BOS and EOS.
  static std::vector<int> body(const std::string& text) {
    std::vector<int> ids = tok_->encode_untruncated(text);
    EXPECT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), kBos);
    EXPECT_EQ(ids.back(), kEos);
    return {ids.begin() + 1, ids.end() - 1};
  }
  static ClipTokenizer* tok_;
};
ClipTokenizer* ClipEdgeCases::tok_ = nullptr;

TEST_F(ClipEdgeCases, DefaultsAreClips) {
  EXPECT_EQ(tok_->bos_id(), kBos);
  EXPECT_EQ(tok_->eos_id(), kEos);
  EXPECT_EQ(tok_->pad_id(), kEos);
  EXPECT_EQ(tok_->max_length(), 77);
}

TEST_F(ClipEdgeCases, EmptyAndWhitespaceOnly) {
  std::vector<int> want{kBos, kEos};
  want.resize(77, kEos);
  EXPECT_EQ(tok_->encode(""), want);
  EXPECT_EQ(tok_->encode("\t \n\u3000"), want);
  EXPECT_EQ(tok_->encode_untruncated(""), (std::vector<int>{kBos, kEos}));
}

TEST_F(ClipEdgeCases, LongPromptIsTruncatedKeepingEos) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "a ";
  std::vector<int> want{kBos};
  want.resize(76, 320);  // "a</w>"
  want.push_back(kEos);
  EXPECT_EQ(tok_->encode(text), want);
  EXPECT_EQ(tok_->encode_untruncated(text).size(), 102u);
}

TEST_F(ClipEdgeCases, SeventyFiveTokensFitExactly) {
  std::string text;
  for (int i = 0; i < 75; ++i) text += "cat ";
  const std::vector<int> ids = tok_->encode(text);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids[75], 2368);  // "cat</w>": no token lost, nothing padded
  EXPECT_EQ(ids[76], kEos);
  EXPECT_EQ(tok_->encode(text + "dog")[75], 2368);
}

TEST_F(ClipEdgeCases, NfcComposition) {
  EXPECT_EQ(body("café"), std::vector<int>{15304});
  EXPECT_EQ(body("cafe\u0301"), std::vector<int>{15304});
  for (const char* angstrom : {"Å", "A\u030a", "\u212b"}) EXPECT_EQ(body(angstrom), (std::vector<int>{127, 354})) << angstrom;
}

TEST_F(ClipEdgeCases, LowerCasing) {
  EXPECT_EQ(body("UPPER lower MiXeD"), (std::vector<int>{7067, 4909, 6780}));
  EXPECT_EQ(body("upper lower mixed"), (std::vector<int>{7067, 4909, 6780}));
  // U+0130 lower-cases to "i" + U+0307; sigma has no final form (one code point at a time).
  EXPECT_EQ(body("İstanbul"), (std::vector<int>{328, 16384, 11231}));
  EXPECT_EQ(body("ΣΊΣΥΦΟΣ"),
            (std::vector<int>{139, 225, 138, 107, 139, 225, 139, 227, 139, 228, 138, 123, 139, 481}));
  EXPECT_EQ(body("Straße ﬁne"), (std::vector<int>{1894, 127, 253, 324, 171, 105, 223, 1422}));
}

TEST_F(ClipEdgeCases, Emoji) {
  EXPECT_EQ(body("🐶"), std::vector<int>{10631});
  EXPECT_EQ(body("👨‍👩‍👧"), (std::vector<int>{25023, 26304, 964, 356}));
}

TEST_F(ClipEdgeCases, PunctuationRuns) {
  EXPECT_EQ(body("wow!!! great?!"), (std::vector<int>{2781, 995, 830, 2835}));
  EXPECT_EQ(body("(((masterpiece)))"), (std::vector<int>{33287, 12066, 18305}));
}

TEST_F(ClipEdgeCases, Contractions) {
  EXPECT_EQ(body("IT'S"), (std::vector<int>{585, 568}));
  EXPECT_EQ(body("we'd've"), (std::vector<int>{649, 1896, 1200}));
  EXPECT_EQ(body("rock'n'roll"), (std::vector<int>{2172, 262, 333, 262, 3341}));
  EXPECT_EQ(body("!'s"), (std::vector<int>{13222, 338}));  // a symbol run swallows the apostrophe
}

TEST_F(ClipEdgeCases, SpecialTokensWrittenInThePrompt) {
  EXPECT_EQ(body("<|startoftext|>hello<|endoftext|>"), (std::vector<int>{kBos, 3306, kEos}));
  EXPECT_EQ(body("a<|endoftext|>b"), (std::vector<int>{320, kEos, 321}));
  // Matched case-sensitively in the raw prompt; lower-cased it is ordinary text.
  EXPECT_EQ(body("<|EndOfText|>"), (std::vector<int>{27, 347, 40786, 4160, 91, 285}));
}

TEST_F(ClipEdgeCases, WhitespaceIsUnicodeWhiteSpace) {
  EXPECT_EQ(body("a\u00a0b"), (std::vector<int>{320, 321}));
  EXPECT_EQ(body("a\u0085b"), (std::vector<int>{320, 321}));
  EXPECT_EQ(body("a\u180eb"), (std::vector<int>{320, 157, 254, 492, 321}));  // not White_Space since Unicode 6.3
  EXPECT_EQ(body("x\u200by"), (std::vector<int>{343, 9844, 344}));           // zero width space is not either
}

TEST_F(ClipEdgeCases, NumbersSplitIntoSingleCharacters) {
  EXPECT_EQ(body("١٢٣ ²½ Ⅻ"), (std::vector<int>{149, 350, 149, 351, 149, 352, 41175, 33613, 158, 227, 375}));
}

// transformers only sees Python strings; bytes that are not UTF-8 are read as
// bytes.decode("utf-8", errors="replace") would: one U+FFFD per maximal ill-formed subsequence.
TEST_F(ClipEdgeCases, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(body("caf\xe9"), (std::vector<int>{20867, 39802}));
  EXPECT_EQ(body("caf\xe9"), body("caf\ufffd"));
  EXPECT_EQ(body("\xff\xfe"), (std::vector<int>{47356, 39802}));
  EXPECT_EQ(body("\xed\xa0\x80"), body("\ufffd\ufffd\ufffd"));  // a surrogate: three subparts
  EXPECT_EQ(body("\xe2\x82 x"), body("\ufffd x"));              // a truncated sequence: one
  EXPECT_EQ(body("\xf0\x9f\x90"), body("\ufffd"));
}

TEST_F(ClipEdgeCases, VeryLongWordAndRepeatedCallsAgree) {
  const std::string word(20000, 'x');
  const std::vector<int> first = tok_->encode_untruncated(word);
  EXPECT_EQ(tok_->encode_untruncated(word), first);
  EXPECT_EQ(first.size(), 2u + 20000u / 4u);  // "xxxx" is one token
}

// A WebAssembly build without pthreads cannot start threads, so there is nothing to race.
#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
TEST_F(ClipEdgeCases, ConcurrentEncodingIsSafe) {
  const std::string prompt = "a photo of an astronaut riding a horse on mars, highly detailed";
  const std::vector<int> want = tok_->encode(prompt);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ok[t] += tok_->encode(prompt + " v" + std::to_string(i)).size() == 77;
      ok[t] += tok_->encode(prompt) == want;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 51);
}
#endif

TEST_F(ClipEdgeCases, BangPadIsMatchedInThePrompt) {
  ClipTokenizer tok = *tok_;  // copies share the model; the pad token is per copy
  tok.set_pad_token("!");
  EXPECT_EQ(tok.pad_id(), 0);
  std::vector<int> ids = tok.encode_untruncated("!!!");
  EXPECT_EQ(ids, (std::vector<int>{kBos, 0, 0, 0, kEos}));
  EXPECT_EQ(tok.encode_untruncated("wow!!! great?!"), (std::vector<int>{kBos, 2781, 0, 0, 0, 830, 286, 0, kEos}));
  EXPECT_EQ(tok.encode_untruncated("hello!world"), (std::vector<int>{kBos, 3306, 0, 1002, kEos}));
  EXPECT_EQ(tok.encode("")[2], 0);
  EXPECT_EQ(tok_->encode_untruncated("!!!"), (std::vector<int>{kBos, 995, kEos}));  // the original is untouched
  tok.set_pad_token("<|endoftext|>");
  EXPECT_EQ(tok.encode_untruncated("!!!"), (std::vector<int>{kBos, 995, kEos}));
}

}  // namespace
}  // namespace websd
