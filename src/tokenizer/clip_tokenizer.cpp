#include "tokenizer/clip_tokenizer.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace websd {

using namespace tokenizer;

ClipTokenizer ClipTokenizer::from_folder(const std::string& dir) { return ClipTokenizer(read_tokenizer_folder(dir)); }

ClipTokenizer ClipTokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt) {
  return ClipTokenizer(read_vocab_and_merges(vocab_json, merges_txt));
}

ClipTokenizer::ClipTokenizer(TokenizerFiles files)
    : vocab_(std::make_shared<const Vocabulary>(std::move(files.vocab))),
      bpe_(std::make_shared<const Bpe>(*vocab_, files.merges, files.unk.content, files.source)),
      declared_(std::move(files.added)),
      pad_(std::move(files.pad)),
      max_length_(files.max_length),
      source_(std::move(files.source)) {
  for (const TokenDecl* named : {&files.bos, &files.eos, &files.unk}) declared_.push_back(*named);
  declared_.insert(declared_.end(), files.other_special.begin(), files.other_special.end());
  bos_id_ = token_id(files.bos, "BOS token");
  eos_id_ = token_id(files.eos, "EOS token");
  pad_id_ = token_id(pad_, "pad token");
  build_added_tokens();
}

int ClipTokenizer::token_id(const TokenDecl& token, const std::string& role) const {
  if (auto it = vocab_->find(token.content); it != vocab_->end()) return it->second;
  for (const TokenDecl& declared : declared_)
    if (declared.content == token.content && declared.id >= 0) return declared.id;
  if (token.id >= 0) return token.id;
  throw Error(source_ + ": " + role + " '" + token.content +
              "' is not in the vocabulary; use a token that vocab.json / tokenizer.json has");
}

void ClipTokenizer::build_added_tokens() {
  raw_tokens_.clear();
  normalized_tokens_.clear();
  std::set<std::string> seen;
  auto add = [&](const TokenDecl& token) {
    if (!seen.insert(token.content).second) return;
    const int id = token_id(token, "added token");
    if (token.normalized)
      normalized_tokens_.push_back({normalize(decode_utf8(token.content)), id});
    else
      raw_tokens_.push_back({decode_utf8(token.content), id});
  };
  for (const TokenDecl& token : declared_) add(token);
  add(pad_);
}

void ClipTokenizer::set_pad_token(const std::string& token) {
  TokenDecl pad{token, false};
  pad_id_ = token_id(pad, "pad token");  // throws before anything changes
  pad_ = std::move(pad);
  build_added_tokens();
}

std::vector<int> ClipTokenizer::tokenize(const std::string& text) const {
  std::vector<int> ids;
  for (const Segment& raw : split_on_added_tokens(decode_utf8(text), raw_tokens_)) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    for (const Segment& piece : split_on_added_tokens(normalize(raw.text), normalized_tokens_)) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      for (const std::string& word : pre_tokenize(piece.text)) bpe_->encode_word(word, ids);
    }
  }
  return ids;
}

std::vector<int> ClipTokenizer::encode_untruncated(const std::string& text) const {
  std::vector<int> ids{bos_id_};
  const std::vector<int> body = tokenize(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_id_);
  return ids;
}

std::vector<int> ClipTokenizer::encode(const std::string& text) const {
  const std::vector<int> body = tokenize(text);
  const size_t keep = std::min(body.size(), static_cast<size_t>(max_length_ - 2));
  std::vector<int> ids;
  ids.reserve(max_length_);
  ids.push_back(bos_id_);
  ids.insert(ids.end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_id_);
  ids.resize(max_length_, pad_id_);
  return ids;
}

}  // namespace websd
