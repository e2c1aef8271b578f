// Bad tokenizer files and arguments fail with a websd::Error that names the file or thing at
// fault, never with a crash.
#include <gtest/gtest.h>

#include "support/fixtures.h"
#include "tiny_tokenizer.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd {
namespace {

using test::kTinyVocab;
using test::TempFolder;

// A folder with a valid model whose config files the test writes.
struct TinyFolder : TempFolder {
  TinyFolder() {
    write("vocab.json", kTinyVocab);
    write("merges.txt", "#version: 0.2\na b\n");
  }
};

TEST(TokenizerErrors, MissingFiles) {
  TempFolder dir;
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.str() + "/vocab.json", dir.str() + "/merges.txt"), "vocab.json: cannot open");
  const std::string vocab = dir.write("vocab.json", kTinyVocab);
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(vocab, dir.str() + "/merges.txt"), "merges.txt: cannot open");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str() + "/nowhere"), "not a folder");
  TempFolder empty;
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(empty.str()), "no tokenizer.json and no vocab.json + merges.txt");
}

TEST(TokenizerErrors, MalformedVocabulary) {
  TempFolder dir;
  const std::string merges = dir.write("merges.txt", "a b\n");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.write("vocab.json", "{\"a\": 1,"), merges), "vocab.json: not valid JSON");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.write("vocab.json", "[1, 2]"), merges), "expected a JSON object");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.write("vocab.json", R"({"a": "1"})"), merges), "token 'a' has id \"1\"");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.write("vocab.json", R"({"a": -3})"), merges), "token 'a' has id -3");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.write("vocab.json", "{}"), merges), "vocabulary is empty");
  // No unknown token: the tokenizer could not stand for bytes the vocabulary lacks.
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(dir.write("vocab.json", R"({"a": 0, "b": 1, "ab": 2})"), merges),
                        "unknown token '<|endoftext|>' is not in the vocabulary");
}

TEST(TokenizerErrors, MalformedMerges) {
  TempFolder dir;
  const std::string vocab = dir.write("vocab.json", kTinyVocab);
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(vocab, dir.write("merges.txt", "#version: 0.2\na b\na b c\n")),
                        "merges.txt:3: 'a b c' is not a merge");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(vocab, dir.write("merges.txt", "ab\n")), "'ab' is not a merge");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(vocab, dir.write("merges.txt", "a q\n")), "merge part 'q' is not in the vocabulary");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_files(vocab, dir.write("merges.txt", "b a\n")), "merge result 'ba' is not in the vocabulary");
}

TEST(TokenizerErrors, MalformedTokenizerJson) {
  TempFolder dir;
  const std::string vocab = kTinyVocab;
  dir.write("tokenizer.json", "{\"model\": ");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "tokenizer.json: not valid JSON");
  dir.write("tokenizer.json", R"({"version": "1.0"})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "no \"model\" object");
  dir.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "model type \"Unigram\" is not BPE");
  dir.write("tokenizer.json", R"({"model": {"merges": []}})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "model.vocab: expected a JSON object");
  dir.write("tokenizer.json", R"({"model": {"vocab": )" + vocab + "}}");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "model.merges must be a list");
  dir.write("tokenizer.json", R"({"model": {"vocab": )" + vocab + R"(, "merges": [["a"]]}})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "entry [\"a\"] is neither");
  dir.write("tokenizer.json", R"({"model": {"vocab": )" + vocab + R"(, "merges": []}, "added_tokens": [{"content": "!"}]})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "has no valid \"id\"");
}

TEST(TokenizerErrors, UnsupportedOrMalformedConfig) {
  TinyFolder dir;
  dir.write("tokenizer_config.json", "{\"pad_token\": ");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "tokenizer_config.json: not valid JSON");
  dir.write("tokenizer_config.json", R"({"tokenizer_class": "T5Tokenizer"})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "field 'tokenizer_class' = \"T5Tokenizer\"");
  dir.write("tokenizer_config.json", R"({"padding_side": "left"})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "field 'padding_side'");
  dir.write("tokenizer_config.json", R"({"strip_accents": true})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "field 'strip_accents' = true is not supported");
  dir.write("tokenizer_config.json", R"({"model_max_length": 1})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "field 'model_max_length' = 1");
  dir.write("tokenizer_config.json", R"({"pad_token": 7})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "field 'pad_token': expected a token string or an object");
  dir.write("tokenizer_config.json", R"({"pad_token": {"content": "!", "lstrip": true}})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "sets 'lstrip', which websd does not support");
  dir.write("tokenizer_config.json", R"({"added_tokens_decoder": {"x": {"content": "!"}}})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "key 'x' is not a token id");
}

TEST(TokenizerErrors, UnknownPadToken) {
  TinyFolder dir;
  dir.write("tokenizer_config.json", R"({"pad_token": "<pad>"})");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "pad token '<pad>' is not in the vocabulary");
  dir.write("special_tokens_map.json", R"({"pad_token": {"content": "<pad>"}})");
  dir.write("tokenizer_config.json", "{}");
  EXPECT_ERROR_CONTAINS(ClipTokenizer::from_folder(dir.str()), "pad token '<pad>' is not in the vocabulary");

  ClipTokenizer tok = ClipTokenizer::from_folder(test::fixture("tiny-sd15/model/tokenizer"));
  EXPECT_ERROR_CONTAINS(tok.set_pad_token("<pad>"), "tiny-sd15/model/tokenizer: pad token '<pad>' is not in the vocabulary");
  EXPECT_ERROR_CONTAINS(tok.set_pad_token(""), "pad token '' is not in the vocabulary");
  EXPECT_EQ(tok.pad_id(), 49407);  // a refused pad token changes nothing
  EXPECT_EQ(tok.encode("!").back(), 49407);
}

}  // namespace
}  // namespace websd
