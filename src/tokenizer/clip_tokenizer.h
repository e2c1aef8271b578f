#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer_files.h"

namespace websd {

// transformers 5's CLIPTokenizer as diffusers calls it: the prompt's added tokens are cut out
// (special tokens, and SDXL's "!" pad), the rest is NFC-normalized, whitespace-collapsed,
// lower-cased, split by CLIP's pattern and byte-level BPE-encoded with "</w>" ends; then
// <|startoftext|> ... <|endoftext|>, truncated to max_length keeping the final EOS, padded with the
// pad token. Copies are cheap and share the (thread-safe) BPE model and its word cache.
class ClipTokenizer {
 public:
  // A tokenizer folder: vocab.json + merges.txt, or tokenizer.json; tokenizer_config.json /
  // special_tokens_map.json (if present) give pad token and model_max_length.
  static ClipTokenizer from_folder(const std::string& dir);
  // CLIP's defaults: pad with <|endoftext|>, 77 ids.
  static ClipTokenizer from_files(const std::string& vocab_json, const std::string& merges_txt);

  // Like transformers' pad_token argument, the new pad token also becomes a special token of the
  // prompt: with "!" (SDXL's second tokenizer) a "!" in the prompt is id 0, not "!</w>".
  // Throws websd::Error if the token is not in the vocabulary.
  void set_pad_token(const std::string& token);

  // `text` is UTF-8; bytes that are not are read as U+FFFD, as Python's errors="replace" would
  // decode them before transformers saw the string (see tokenizer/utf8.h): any byte string is accepted.
  std::vector<int> encode(const std::string& text) const;              // exactly max_length ids
  std::vector<int> encode_untruncated(const std::string& text) const;  // BOS ... EOS, no padding/truncation

  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  int max_length() const { return max_length_; }

 private:
  explicit ClipTokenizer(tokenizer::TokenizerFiles files);
  int token_id(const tokenizer::TokenDecl& token, const std::string& role) const;
  void build_added_tokens();
  std::vector<int> tokenize(const std::string& text) const;  // without BOS and EOS

  std::shared_ptr<const tokenizer::Vocabulary> vocab_;
  std::shared_ptr<const tokenizer::Bpe> bpe_;
  // Tokens matched in prompts, in the order transformers adds them (the first declaration of a
  // content decides whether it is matched raw or normalized); the pad token comes last.
  std::vector<tokenizer::TokenDecl> declared_;
  tokenizer::TokenDecl pad_;
  std::vector<tokenizer::AddedToken> raw_tokens_;
  std::vector<tokenizer::AddedToken> normalized_tokens_;
  int bos_id_ = -1, eos_id_ = -1, pad_id_ = -1, max_length_ = 77;
  std::string source_;
};

}  // namespace websd
