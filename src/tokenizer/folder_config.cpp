// Reading a tokenizer folder: which files hold the model and which decide the special tokens.
#include <climits>
#include <filesystem>
#include <map>
#include <optional>

#include "core/error.h"
#include "io/config.h"
#include "tokenizer/tokenizer_files.h"

namespace websd::tokenizer {

namespace {

namespace fs = std::filesystem;

// transformers' SPECIAL_TOKENS_ATTRIBUTES, in the order it adds them.
constexpr const char* kNamedTokens[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                        "pad_token", "cls_token", "mask_token"};
constexpr int kMaxLengthLimit = 1 << 20;

struct Declarations {
  std::map<std::string, TokenDecl> named;
  std::vector<TokenDecl> extra;
  std::optional<std::map<int, TokenDecl>> decoder;  // added_tokens_decoder, by id
};

void read_special_tokens(ConfigReader& cfg, Declarations& decl) {
  for (const char* key : kNamedTokens) {
    if (!cfg.has(key)) continue;
    decl.named[key] = parse_token_decl(cfg.json()[key], true, cfg.file() + ": field '" + key + "'");
    cfg.ignore({key});
  }
  // transformers 5 renamed additional_special_tokens to extra_special_tokens, which may also be a
  // name -> token object; either way each one is matched in prompts like the named ones.
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (!cfg.has(key)) continue;
    const nlohmann::json& list = cfg.json()[key];
    if (!list.is_array() && !list.is_object()) cfg.fail(key, "expected a list of tokens");
    for (const auto& token : list) decl.extra.push_back(parse_token_decl(token, true, cfg.file() + ": field '" + key + "'"));
    cfg.ignore({key});
  }
}

void read_added_tokens_decoder(ConfigReader& cfg, Declarations& decl) {
  if (!cfg.has("added_tokens_decoder")) return;
  const nlohmann::json& object = cfg.json()["added_tokens_decoder"];
  if (!object.is_object()) cfg.fail("added_tokens_decoder", "expected an object mapping ids to tokens");
  auto& decoder = decl.decoder.emplace();
  for (const auto& [key, value] : object.items()) {
    if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos)
      cfg.fail("added_tokens_decoder", "key '" + key + "' is not a token id");
    TokenDecl token = parse_token_decl(value, false, cfg.file() + ": added_tokens_decoder");
    token.id = std::stoi(key);
    decoder[token.id] = std::move(token);
  }
  cfg.ignore({"added_tokens_decoder"});
}

void read_tokenizer_config(const std::string& path, Declarations& decl, int& max_length) {
  ConfigReader cfg = ConfigReader::load(path);
  cfg.expect("tokenizer_class", {"CLIPTokenizer", "CLIPTokenizerFast"});
  cfg.expect("padding_side", {"right"});
  cfg.expect("truncation_side", {"right"});
  cfg.expect("split_special_tokens", {false});
  cfg.expect("add_prefix_space", {false});
  max_length = cfg.get_int("model_max_length", max_length);
  if (max_length < 2 || max_length > kMaxLengthLimit)
    cfg.fail("model_max_length", "expected 2 to " + std::to_string(kMaxLengthLimit) + " (room for BOS and EOS)");
  read_special_tokens(cfg, decl);
  read_added_tokens_decoder(cfg, decl);
  // Decoding options, bookkeeping, and defaults for call arguments that diffusers always passes
  // (max_length, truncation): none changes the ids of a prompt. CLIPTokenizer lower-cases whatever
  // do_lower_case says.
  cfg.ignore({"backend", "clean_up_tokenization_spaces", "do_lower_case", "errors", "name_or_path",
              "special_tokens_map_file", "tokenizer_file", "vocab_file", "merges_file", "processor_class",
              "model_input_names", "add_bos_token", "add_eos_token", "max_length", "stride",
              "truncation_strategy", "pad_to_multiple_of", "pad_token_type_id", "auto_map", "use_fast",
              "is_local", "verbose"});
  cfg.finish();
}

void read_special_tokens_map(const std::string& path, Declarations& decl) {
  ConfigReader cfg = ConfigReader::load(path);
  read_special_tokens(cfg, decl);
  cfg.finish();
}

// Legacy slow-tokenizer file {"token": id}: a token that is also a special token is special and
// matched raw, any other is matched in the normalized text (transformers' rule).
void read_added_tokens_json(const std::string& path, Declarations& decl) {
  const nlohmann::json json = read_json_file(path);
  if (!json.is_object()) throw Error(path + ": expected a JSON object mapping each token to its id");
  auto is_special = [&](const std::string& content) {
    for (const auto& [key, token] : decl.named)
      if (token.content == content) return true;
    for (const auto& token : decl.extra)
      if (token.content == content) return true;
    return false;
  };
  for (const auto& [content, id] : json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT_MAX)
      throw Error(path + ": token '" + content + "' has id " + id.dump() + "; expected a non-negative integer");
    if (content.empty()) throw Error(path + ": a token is the empty string");
    (*decl.decoder)[id.get<int>()] = TokenDecl{content, !is_special(content), id.get<int>()};
  }
}

}  // namespace

const std::vector<std::string>& tokenizer_folder_files() {
  static const std::vector<std::string> names = {"tokenizer.json",        "vocab.json",           "merges.txt",
                                                 "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"};
  return names;
}

TokenizerFiles read_tokenizer_folder(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw Error(dir + ": not a folder (expected a tokenizer folder: vocab.json + merges.txt, or tokenizer.json)");
  auto file = [&](const char* name) -> std::optional<std::string> {
    const fs::path path = root / name;
    return fs::exists(path) ? std::optional<std::string>(path.string()) : std::nullopt;
  };

  TokenizerFiles files;
  std::vector<TokenDecl> json_added;
  // tokenizer.json wins when both layouts are present, as in transformers.
  if (auto tokenizer_json = file("tokenizer.json")) {
    json_added = read_tokenizer_json(*tokenizer_json, files);
  } else if (file("vocab.json") && file("merges.txt")) {
    files = read_vocab_and_merges(*file("vocab.json"), *file("merges.txt"));
  } else {
    throw Error(dir + ": no tokenizer.json and no vocab.json + merges.txt; is this a CLIP tokenizer folder?");
  }
  files.source = dir;

  Declarations decl;
  if (auto config = file("tokenizer_config.json")) read_tokenizer_config(*config, decl, files.max_length);
  if (!decl.decoder) {
    // transformers reads these only when tokenizer_config.json has no added_tokens_decoder.
    decl.decoder.emplace();
    if (auto map = file("special_tokens_map.json")) read_special_tokens_map(*map, decl);
    if (auto added = file("added_tokens.json")) read_added_tokens_json(*added, decl);
    for (TokenDecl& token : json_added) (*decl.decoder)[token.id] = std::move(token);
  }

  for (auto& [id, token] : *decl.decoder) files.added.push_back(std::move(token));
  auto take = [&](const char* key, TokenDecl& slot) {
    if (auto it = decl.named.find(key); it != decl.named.end()) slot = it->second;
  };
  take("bos_token", files.bos);
  take("eos_token", files.eos);
  take("unk_token", files.unk);
  take("pad_token", files.pad);
  for (const char* key : {"sep_token", "cls_token", "mask_token"})
    if (auto it = decl.named.find(key); it != decl.named.end()) files.other_special.push_back(it->second);
  files.other_special.insert(files.other_special.end(), decl.extra.begin(), decl.extra.end());
  return files;
}

}  // namespace websd::tokenizer
