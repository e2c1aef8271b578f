#include "io/config.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace websd {

namespace {

// Python's json module writes Infinity, -Infinity and NaN as bare words (diffusers configs carry
// lambda_min_clipped: -Infinity); strict JSON has no such values, so they become strings that
// get_double understands.
std::string quote_python_nonfinite(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const char* word : {"-Infinity", "Infinity", "NaN"}) {
      const size_t n = std::char_traits<char>::length(word);
      if (text.compare(i, n, word) == 0) {
        out += std::string("\"") + word + "\"";
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (does the file exist?)");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxTextFileBytes)
    throw Error(path + ": " + std::to_string(size) + " bytes is too large for a config, tokenizer or manifest file (at most " +
                std::to_string(kMaxTextFileBytes >> 20) + " MiB)");
  in.seekg(0);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json_file(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(quote_python_nonfinite(read_text_file(path)), nullptr, false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return j;
}

ConfigReader::ConfigReader(nlohmann::json json, std::string file) : json_(std::move(json)), file_(std::move(file)) {
  if (!json_.is_object()) throw Error(file_ + ": expected a JSON object");
}

ConfigReader ConfigReader::load(const std::string& path) { return ConfigReader(read_json_file(path), path); }

bool ConfigReader::has(const std::string& key) const {
  auto it = json_.find(key);
  return it != json_.end() && !it->is_null();
}

const nlohmann::json* ConfigReader::lookup(const std::string& key) {
  used_.insert(key);
  auto it = json_.find(key);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

void ConfigReader::fail(const std::string& key, const std::string& what) const {
  auto it = json_.find(key);
  std::string value = it == json_.end() ? "(absent)" : it->dump();
  throw Error(file_ + ": field '" + key + "' = " + value + ": " + what);
}

int ConfigReader::get_int(const std::string& key, int fallback) {
  const nlohmann::json* v = lookup(key);
  if (!v) return fallback;
  if (v->is_number_integer()) {
    const int64_t i = v->get<int64_t>();
    if (i >= INT32_MIN && i <= INT32_MAX) return static_cast<int>(i);
    fail(key, "integer out of range");
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::fabs(d) < 2147483647.0 && d == std::floor(d)) return static_cast<int>(d);
  }
  fail(key, "expected an integer");
}

int ConfigReader::get_positive_int(const std::string& key, int fallback) {
  const int v = get_int(key, fallback);
  if (v <= 0) fail(key, "must be positive");
  return v;
}

double ConfigReader::get_double(const std::string& key, double fallback) {
  const nlohmann::json* v = lookup(key);
  if (!v) return fallback;
  if (v->is_string()) {
    const std::string word = v->get<std::string>();
    if (word == "Infinity") return INFINITY;
    if (word == "-Infinity") return -INFINITY;
    if (word == "NaN") return NAN;
  }
  if (!v->is_number()) fail(key, "expected a number");
  return v->get<double>();
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) {
  const nlohmann::json* v = lookup(key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(key, "expected true or false");
  return v->get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) {
  const nlohmann::json* v = lookup(key);
  if (!v) return fallback;
  if (!v->is_string()) fail(key, "expected a string");
  return v->get<std::string>();
}

std::vector<int> ConfigReader::get_int_list(const std::string& key, const std::vector<int>& fallback, size_t count) {
  const nlohmann::json* v = lookup(key);
  std::vector<int> out;
  if (!v) {
    out = fallback;
  } else if (v->is_number_integer()) {
    out.assign(count ? count : 1, v->get<int>());
  } else if (v->is_array()) {
    for (auto& e : *v) {
      if (!e.is_number_integer()) fail(key, "expected a list of integers");
      out.push_back(e.get<int>());
    }
  } else {
    fail(key, "expected an integer or a list of integers");
  }
  // A copy of the value: assign() from a reference into the vector itself is undefined (libc++ breaks).
  if (count && out.size() == 1 && count > 1) out = std::vector<int>(count, out[0]);
  if (count && out.size() != count)
    fail(key, "expected " + std::to_string(count) + " entries (one per block), got " + std::to_string(out.size()));
  return out;
}

std::vector<std::string> ConfigReader::get_string_list(const std::string& key, const std::vector<std::string>& fallback) {
  const nlohmann::json* v = lookup(key);
  if (!v) return fallback;
  if (!v->is_array()) fail(key, "expected a list of strings");
  std::vector<std::string> out;
  for (auto& e : *v) {
    if (!e.is_string()) fail(key, "expected a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<double> ConfigReader::get_double_list(const std::string& key) {
  const nlohmann::json* v = lookup(key);
  std::vector<double> out;
  if (!v) return out;
  if (!v->is_array()) fail(key, "expected a list of numbers");
  for (auto& e : *v) {
    if (!e.is_number()) fail(key, "expected a list of numbers");
    out.push_back(e.get<double>());
  }
  return out;
}

void ConfigReader::expect(const std::string& key, std::initializer_list<nlohmann::json> supported) {
  const nlohmann::json* v = lookup(key);
  if (!v) return;
  for (auto& s : supported)
    if (*v == s) return;
  std::string list;
  for (auto& s : supported) list += (list.empty() ? "" : ", ") + s.dump();
  fail(key, "not supported by websd (supported: " + (list.empty() ? std::string("null") : list) + ")");
}

void ConfigReader::ignore(std::initializer_list<const char*> keys) {
  for (const char* k : keys) used_.insert(k);
}

void ConfigReader::finish() const {
  for (auto& [key, value] : json_.items()) {
    if (!key.empty() && key[0] == '_') continue;
    if (!used_.count(key)) throw Error(file_ + ": field '" + key + "' = " + value.dump() + " is not supported by websd");
  }
}

}  // namespace websd
