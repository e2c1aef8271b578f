// Every prompt of the reference fixtures, tokenized by transformers 5.17's CLIPTokenizer.
#include <gtest/gtest.h>

#include "io/config.h"
#include "support/fixtures.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd {
namespace {

ClipTokenizer fixture_tokenizer() {
  return ClipTokenizer::from_files(test::fixture("tokenizer/vocab.json"), test::fixture("tokenizer/merges.txt"));
}

void expect_cases(const ClipTokenizer& tok, const std::string& file) {
  const nlohmann::json cases = read_json_file(test::fixture("tokenizer/" + file));
  ASSERT_EQ(cases["max_length"].get<int>(), tok.max_length());
  ASSERT_EQ(cases["cases"].size(), 20u);
  for (const auto& c : cases["cases"]) {
    const std::string prompt = c["prompt"].get<std::string>();
    EXPECT_EQ(tok.encode(prompt), c["input_ids"].get<std::vector<int>>()) << file << ": " << prompt;
    EXPECT_EQ(tok.encode_untruncated(prompt), c["untruncated_ids"].get<std::vector<int>>()) << file << ": " << prompt;
  }
}

TEST(ClipTokenizerFixtures, DefaultPadMatchesTransformers) { expect_cases(fixture_tokenizer(), "clip_ids.json"); }

TEST(ClipTokenizerFixtures, BangPadMatchesTransformers) {
  ClipTokenizer tok = fixture_tokenizer();
  tok.set_pad_token("!");
  EXPECT_EQ(tok.pad_id(), 0);
  expect_cases(tok, "clip_ids_pad_bang.json");
}

TEST(ClipTokenizerFixtures, ModelFoldersGiveTheSameIds) {
  expect_cases(ClipTokenizer::from_folder(test::fixture("tiny-sd15/model/tokenizer")), "clip_ids.json");
  expect_cases(ClipTokenizer::from_folder(test::asset("tiny-shapes/model/tokenizer")), "clip_ids.json");
  // SDXL's pair, both as tokenizer.json: the second pads with "!" because its folder says so.
  expect_cases(ClipTokenizer::from_folder(test::fixture("tiny-sdxl/model/tokenizer")), "clip_ids.json");
  expect_cases(ClipTokenizer::from_folder(test::fixture("tiny-sdxl/model/tokenizer_2")), "clip_ids_pad_bang.json");
}

// SDXL's second tokenizer, stored as tokenizer.json whose tokenizer_config.json pads with "!".
TEST(ClipTokenizerFixtures, TokenizerJsonFolderGivesTheSameIds) {
  ClipTokenizer tok = ClipTokenizer::from_folder(test::fixture("tokenizer_json"));
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.bos_id(), 49406);
  EXPECT_EQ(tok.eos_id(), 49407);
  expect_cases(tok, "clip_ids_pad_bang.json");
  // tokenizer.json lists "!" among its added tokens, so transformers keeps matching it as one
  // even when asked to pad with another token.
  tok.set_pad_token("<|endoftext|>");
  std::vector<int> want{49406, 3306, 267, 1002, 0, 49407};
  want.resize(77, 49407);
  EXPECT_EQ(tok.encode("hello, world!"), want);
}

}  // namespace
}  // namespace websd
