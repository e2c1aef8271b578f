// The pieces of the tokenizer on hand-made input: UTF-8 decoding, the pre-tokenizer, added token
// matching, BPE merge order, and what a folder's config files decide.
#include <gtest/gtest.h>

#include <algorithm>

#include "tiny_tokenizer.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace websd {
namespace {

using test::kTinyVocab;
using test::TempFolder;

std::vector<int> body_of(const ClipTokenizer& tok, const std::string& text) {
  std::vector<int> ids = tok.encode_untruncated(text);
  return {ids.begin() + 1, ids.end() - 1};
}

ClipTokenizer tiny(const TempFolder& dir, const std::string& merges) {
  return ClipTokenizer::from_files(dir.write("vocab.json", kTinyVocab), dir.write("merges.txt", merges));
}

TEST(Utf8, DecodesAndReplacesLikePython) {
  EXPECT_EQ(tokenizer::decode_utf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb6"), U"a\u00e9\u20ac\U0001F436");
  EXPECT_EQ(tokenizer::decode_utf8("\xc0\xaf"), U"\uFFFD\uFFFD");          // overlong: C0 never starts a sequence
  EXPECT_EQ(tokenizer::decode_utf8("\xe0\x80\x80"), U"\uFFFD\uFFFD\uFFFD");  // overlong 3-byte form
  EXPECT_EQ(tokenizer::decode_utf8("\xf4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");  // past U+10FFFF
  EXPECT_EQ(tokenizer::decode_utf8("\xe2\x82x"), U"\uFFFDx");
  EXPECT_EQ(tokenizer::decode_utf8(std::string("a\0b", 3)), std::u32string(U"a\0b", 3));
  EXPECT_EQ(tokenizer::encode_utf8(U"a\u00e9\U0001F436"), "a\xc3\xa9\xf0\x9f\x90\xb6");
}

TEST(PreTokenizer, SplitsLikeClipsPattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(tokenizer::pre_tokenize(U"it's 12ab!! x"), (V{"it", "'s", "1", "2", "ab", "!!", "x"}));
  EXPECT_EQ(tokenizer::pre_tokenize(U"  "), V{});
  EXPECT_EQ(tokenizer::pre_tokenize(U"'re'x"), (V{"'re", "'", "x"}));
  // CLIP's pattern keeps the literal whole; the byte-level pre-tokenizer then splits it.
  EXPECT_EQ(tokenizer::pre_tokenize(U"<|endoftext|>"), (V{"<|", "endoftext", "|>"}));
}

TEST(AddedTokens, LeftmostThenLongestMatchWins) {
  const std::vector<tokenizer::AddedToken> tokens{{U"bcd", 1}, {U"ab", 2}, {U"abc", 3}};
  const auto segments = tokenizer::split_on_added_tokens(U"xabcdab", tokens);
  ASSERT_EQ(segments.size(), 4u);
  EXPECT_EQ(segments[0].text, U"x");
  EXPECT_EQ(segments[0].id, -1);
  EXPECT_EQ(segments[1].id, 3);
  EXPECT_EQ(segments[2].text, U"d");
  EXPECT_EQ(segments[3].id, 2);
}

TEST(Bpe, LowestRankMergesFirst) {
  TempFolder dir;
  EXPECT_EQ(body_of(tiny(dir, "#version: 0.2\nb c</w>\na b\n"), "abc"), (std::vector<int>{2, 9}));
  EXPECT_EQ(body_of(tiny(dir, "#version: 0.2\na b\nb c</w>\n"), "abc"), (std::vector<int>{8, 7}));
}

TEST(Bpe, DuplicateMergeTakesItsLastRankAndCrlfIsAccepted) {
  TempFolder dir;
  EXPECT_EQ(body_of(tiny(dir, "#version: 0.2\r\na b\r\nb c</w>\r\na b\r\n"), "abc"), (std::vector<int>{2, 9}));
}

TEST(Bpe, LeftmostOfEqualRanksMergesFirst) {
  TempFolder dir;
  EXPECT_EQ(body_of(tiny(dir, "a a\n"), "aaaa"), (std::vector<int>{12, 2, 5}));
}

TEST(Bpe, UnknownBytesBecomeTheUnknownToken) {
  TempFolder dir;
  EXPECT_EQ(body_of(tiny(dir, "a b\n"), "abz x"), (std::vector<int>{8, 1, 15}));
}

TEST(TokenizerJson, MergesAsStringsOrPairsAreTheSame) {
  TempFolder dir;
  const std::string vocab = kTinyVocab;
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": ["a b", "ab c</w>"]}})");
  const ClipTokenizer strings = ClipTokenizer::from_folder(dir.str());
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": [["a", "b"], ["ab", "c</w>"]]}})");
  const ClipTokenizer pairs = ClipTokenizer::from_folder(dir.str());
  EXPECT_EQ(body_of(strings, "abc"), std::vector<int>{11});
  EXPECT_EQ(body_of(pairs, "abc"), std::vector<int>{11});
}

TEST(FolderConfig, ModelMaxLengthSetsTruncationAndPadding) {
  TempFolder dir;
  dir.write("vocab.json", kTinyVocab);
  dir.write("merges.txt", "a b\n");
  dir.write("tokenizer_config.json", R"({"model_max_length": 5, "tokenizer_class": "CLIPTokenizer"})");
  const ClipTokenizer tok = ClipTokenizer::from_folder(dir.str());
  EXPECT_EQ(tok.max_length(), 5);
  EXPECT_EQ(tok.encode("a b c x"), (std::vector<int>{0, 5, 6, 7, 1}));
  EXPECT_EQ(tok.encode("x"), (std::vector<int>{0, 15, 1, 1, 1}));
}

TEST(FolderConfig, PadTokenAsObjectInSpecialTokensMap) {
  TempFolder dir;
  dir.write("vocab.json", kTinyVocab);
  dir.write("merges.txt", "");
  dir.write("special_tokens_map.json", R"({"pad_token": {"content": "!", "lstrip": false, "normalized": false,
    "rstrip": false, "single_word": false}, "eos_token": "<|endoftext|>"})");
  const ClipTokenizer tok = ClipTokenizer::from_folder(dir.str());
  EXPECT_EQ(tok.pad_id(), 13);
  std::vector<int> want{0, 15, 13, 1};
  want.resize(77, 13);
  EXPECT_EQ(tok.encode("x!"), want);
}

// With an added_tokens_decoder, transformers takes the special tokens from tokenizer_config.json
// alone; a normalized added token is matched after lower-casing.
TEST(FolderConfig, AddedTokensDecoder) {
  TempFolder dir;
  dir.write("vocab.json", kTinyVocab);
  dir.write("merges.txt", "a b\n");
  dir.write("tokenizer_config.json", R"({"added_tokens_decoder": {
      "16": {"content": "<Cat>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false, "special": false},
      "17": {"content": "<RAW>", "normalized": false, "special": false}},
    "pad_token": "<|endoftext|>"})");
  dir.write("special_tokens_map.json", R"({"pad_token": "!"})");
  const ClipTokenizer tok = ClipTokenizer::from_folder(dir.str());
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(body_of(tok, "x<CAT>x <RAW>"), (std::vector<int>{15, 16, 15, 17}));
  const std::vector<int> lower = body_of(tok, "<raw>");
  EXPECT_EQ(std::count(lower.begin(), lower.end(), 17), 0);
}

TEST(FolderConfig, TokenizerJsonWinsOverVocabAndMerges) {
  TempFolder dir;
  dir.write("vocab.json", kTinyVocab);
  dir.write("merges.txt", "");
  dir.write("tokenizer.json", R"({"model": {"vocab": )" + std::string(kTinyVocab) + R"(, "merges": ["a b</w>"]}})");
  EXPECT_EQ(body_of(ClipTokenizer::from_folder(dir.str()), "ab"), std::vector<int>{10});
}

}  // namespace
}  // namespace websd
