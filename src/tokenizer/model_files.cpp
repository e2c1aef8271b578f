// Reading the BPE model: vocab.json, merges.txt, tokenizer.json.
#include <climits>
#include <fstream>

#include "core/error.h"
#include "io/config.h"
#include "tokenizer/tokenizer_files.h"

namespace websd::tokenizer {

namespace {

Vocabulary parse_vocab(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw Error(where + ": expected a JSON object mapping each token to its id");
  Vocabulary vocab;
  vocab.reserve(json.size());
  for (const auto& [token, id] : json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT_MAX)
      throw Error(where + ": token '" + token + "' has id " + id.dump() + "; expected a non-negative integer");
    vocab.emplace(token, id.get<int>());
  }
  if (vocab.empty()) throw Error(where + ": the vocabulary is empty");
  return vocab;
}

// One merge as tokenizers reads it: exactly two tokens separated by one space.
std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& where) {
  const size_t space = line.find(' ');
  if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
    throw Error(where + ": '" + line + "' is not a merge (two tokens separated by one space)");
  return {line.substr(0, space), line.substr(space + 1)};
}

bool get_flag(const nlohmann::json& object, const char* key, bool fallback, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw Error(where + ": field '" + key + "' must be true or false");
  return it->get<bool>();
}

}  // namespace

TokenDecl parse_token_decl(const nlohmann::json& value, bool special, const std::string& where) {
  if (value.is_string()) return TokenDecl{value.get<std::string>(), !special};
  auto content = value.is_object() ? value.find("content") : value.end();
  if (!value.is_object() || content == value.end() || !content->is_string())
    throw Error(where + ": expected a token string or an object with a \"content\" string, got " + value.dump());
  for (const char* flag : {"lstrip", "rstrip", "single_word"})
    if (get_flag(value, flag, false, where))
      throw Error(where + ": token " + content->dump() + " sets '" + flag + "', which websd does not support");
  TokenDecl token{content->get<std::string>()};
  token.normalized = get_flag(value, "normalized", !get_flag(value, "special", special, where), where);
  if (token.content.empty()) throw Error(where + ": a token is the empty string");
  return token;
}

Vocabulary read_vocab_json(const std::string& path) { return parse_vocab(read_json_file(path), path); }

MergeList read_merges_txt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (does the file exist?)");
  MergeList merges;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.starts_with("#version")) continue;
    merges.push_back(split_merge(line, path + ":" + std::to_string(number)));
  }
  return merges;
}

std::vector<TokenDecl> read_tokenizer_json(const std::string& path, TokenizerFiles& files) {
  const nlohmann::json json = read_json_file(path);
  auto model = json.is_object() ? json.find("model") : json.end();
  if (model == json.end() || !model->is_object()) throw Error(path + ": no \"model\" object; is this a tokenizers tokenizer.json?");
  if (model->contains("type") && (*model)["type"] != "BPE")
    throw Error(path + ": model type " + (*model)["type"].dump() + " is not BPE; a CLIP tokenizer is BPE");
  files.vocab = parse_vocab(model->value("vocab", nlohmann::json()), path + ": model.vocab");

  const nlohmann::json merges = model->value("merges", nlohmann::json());
  if (!merges.is_array()) throw Error(path + ": model.merges must be a list");
  files.merges.clear();
  files.merges.reserve(merges.size());
  for (const auto& merge : merges) {
    // Older files write a merge as "a b", newer ones as ["a", "b"] (tokens may then hold spaces).
    if (merge.is_string()) {
      files.merges.push_back(split_merge(merge.get<std::string>(), path + ": model.merges"));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      files.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      throw Error(path + ": model.merges entry " + merge.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }

  std::vector<TokenDecl> added;
  const nlohmann::json list = json.value("added_tokens", nlohmann::json::array());
  if (!list.is_array()) throw Error(path + ": \"added_tokens\" must be a list");
  for (const auto& entry : list) {
    TokenDecl token = parse_token_decl(entry, false, path + ": added_tokens");
    if (!entry.contains("id") || !entry["id"].is_number_integer() || entry["id"].get<int64_t>() < 0 ||
        entry["id"].get<int64_t>() > INT_MAX)
      throw Error(path + ": added token " + entry.dump() + " has no valid \"id\"");
    token.id = entry["id"].get<int>();
    added.push_back(std::move(token));
  }
  files.source = path;
  return added;
}

TokenizerFiles read_vocab_and_merges(const std::string& vocab_json, const std::string& merges_txt) {
  TokenizerFiles files;
  files.vocab = read_vocab_json(vocab_json);
  files.merges = read_merges_txt(merges_txt);
  files.source = vocab_json;
  return files;
}

}  // namespace websd::tokenizer
