#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/bpe.h"

namespace websd::tokenizer {

// A token that the files name: a special token or an added one.
struct TokenDecl {
  std::string content;
  bool normalized = false;  // matched in the normalized text instead of the raw prompt
  int id = -1;              // the id the files give it; the vocabulary's id wins when it has the token
};

// Everything that decides how a CLIP tokenizer folder tokenizes, read the way transformers 5
// loads CLIPTokenizer.from_pretrained: vocabulary and merges from tokenizer.json (its normalizer
// and pre-tokenizer are not read: CLIPTokenizer rebuilds its own) or from vocab.json + merges.txt;
// special tokens and model_max_length from tokenizer_config.json, and, when that file has no
// "added_tokens_decoder", from special_tokens_map.json, added_tokens.json and tokenizer.json's
// "added_tokens" as transformers' legacy path does.
struct TokenizerFiles {
  Vocabulary vocab;
  MergeList merges;
  std::vector<TokenDecl> added;  // in id order
  TokenDecl bos{"<|startoftext|>"}, eos{"<|endoftext|>"}, unk{"<|endoftext|>"}, pad{"<|endoftext|>"};
  std::vector<TokenDecl> other_special;  // sep/cls/mask and the extra special tokens
  int max_length = 77;
  std::string source;  // the folder or file named in error messages
};

TokenizerFiles read_vocab_and_merges(const std::string& vocab_json, const std::string& merges_txt);
TokenizerFiles read_tokenizer_folder(const std::string& dir);
// Every file read_tokenizer_folder reads when present: what a copy of a tokenizer folder needs.
const std::vector<std::string>& tokenizer_folder_files();

// A token written as a string or as a serialized AddedToken object. `special` is what the object's
// missing "special" field means; `normalized` then defaults to !special, as in tokenizers.
// lstrip/rstrip/single_word are refused: no CLIP tokenizer uses them and they change matching.
TokenDecl parse_token_decl(const nlohmann::json& value, bool special, const std::string& where);

Vocabulary read_vocab_json(const std::string& path);
MergeList read_merges_txt(const std::string& path);
// tokenizer.json: vocab and merges into `files`, and its "added_tokens" (in file order).
std::vector<TokenDecl> read_tokenizer_json(const std::string& path, TokenizerFiles& files);

}  // namespace websd::tokenizer
