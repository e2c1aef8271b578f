#pragma once
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace websd {

// Reads a diffusers/transformers config.json so that no field is silently ignored: every field
// must be read, declared irrelevant to inference (ignore), or pinned to the one value the engine
// supports (expect); finish() rejects the rest with an error naming the file and the field.
// Fields whose name starts with '_' are bookkeeping (_class_name, _diffusers_version, ...).
class ConfigReader {
 public:
  ConfigReader(nlohmann::json json, std::string file);
  static ConfigReader load(const std::string& path);

  const std::string& file() const { return file_; }
  const nlohmann::json& json() const { return json_; }
  bool has(const std::string& key) const;  // present and not null

  int get_int(const std::string& key, int fallback);
  int get_positive_int(const std::string& key, int fallback);  // sizes and counts: > 0
  double get_double(const std::string& key, double fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // An int applies to every entry (diffusers' "int or per-block list" fields); count is the
  // number of entries wanted (0: take the list as it is).
  std::vector<int> get_int_list(const std::string& key, const std::vector<int>& fallback, size_t count = 0);
  std::vector<std::string> get_string_list(const std::string& key, const std::vector<std::string>& fallback);
  std::vector<double> get_double_list(const std::string& key);  // empty when absent or null

  // Accepts the field when absent, null, or equal to one of the supported values.
  void expect(const std::string& key, std::initializer_list<nlohmann::json> supported);
  void ignore(std::initializer_list<const char*> keys);
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json* lookup(const std::string& key);
  nlohmann::json json_;
  std::string file_;
  std::set<std::string> used_;
};

// Configs, tokenizer files and manifests: the largest real one (a tokenizer.json) is under 4 MB, so
// a file above kMaxTextFileBytes is refused before it is read.
constexpr uint64_t kMaxTextFileBytes = 64ull << 20;
nlohmann::json read_json_file(const std::string& path);
std::string read_text_file(const std::string& path);

}  // namespace websd
