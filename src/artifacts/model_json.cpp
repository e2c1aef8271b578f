#include "artifacts/model_json.h"

#include <set>

#include "artifacts/safe_path.h"
#include "core/error.h"
#include "io/config.h"
#include "io/sha256.h"

namespace websd {
namespace {

template <typename T>
T get(const nlohmann::json& j, const char* key, const std::string& where, bool (nlohmann::json::*is)() const noexcept,
      const char* kind) {
  auto it = j.find(key);
  if (it == j.end() || !((*it).*is)()) throw Error(where + ": field '" + key + "' must be " + kind);
  return it->get<T>();
}

}  // namespace

ModelJson ModelJson::parse(const std::string& text, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(where + ": not valid JSON (is this an artifact model made by `websd convert`?)");
  if (!j.is_object()) throw Error(where + ": expected a JSON object");
  const auto str = [&](const char* key) { return get<std::string>(j, key, where, &nlohmann::json::is_string, "a string"); };
  const auto size = [&](const char* key) {
    return get<uint64_t>(j, key, where, &nlohmann::json::is_number_unsigned, "a non-negative integer");
  };
  if (str("format") != kFormat) throw Error(where + ": field 'format' must be \"" + std::string(kFormat) + "\"");
  const int64_t version = get<int64_t>(j, "formatVersion", where, &nlohmann::json::is_number_integer, "an integer");
  if (version < 1 || version > kFormatVersion)
    throw Error(where + ": format version " + std::to_string(version) + " is newer than this websd reads (" +
                std::to_string(kFormatVersion) + "); update websd");
  ModelJson m;
  m.pipeline_class = str("pipeline");
  m.family = str("family");
  if (m.family != "sd" && m.family != "sdxl") throw Error(where + ": field 'family' must be \"sd\" or \"sdxl\"");
  m.dtype = str("dtype");
  if (m.dtype != "float16" && m.dtype != "float32") throw Error(where + ": field 'dtype' must be \"float16\" or \"float32\"");
  m.converter = str("converter");
  const auto defaults = j.find("defaults");
  if (defaults == j.end() || !defaults->is_object()) throw Error(where + ": field 'defaults' must be an object");
  const nlohmann::json& d = *defaults;
  const std::string dw = where + " defaults";
  // Read as uint64: an int would wrap a larger number into a negative one.
  const auto positive = [&](const char* key) {
    const uint64_t v = get<uint64_t>(d, key, dw, &nlohmann::json::is_number_unsigned, "a positive integer");
    if (v < 1 || v > INT32_MAX) throw Error(dw + ": field '" + key + "' must be a positive integer below 2^31");
    return static_cast<int>(v);
  };
  m.default_width = positive("width");
  m.default_height = positive("height");
  m.default_steps = positive("steps");
  m.default_guidance_scale = get<double>(d, "guidanceScale", dw, &nlohmann::json::is_number, "a number");
  m.default_scheduler = get<std::string>(d, "scheduler", dw, &nlohmann::json::is_string, "a string");
  m.weight_bytes = size("weightBytes");
  m.total_bytes = size("totalBytes");
  m.tensor_cache = str("tensorCache");
  const auto files = j.find("files");
  if (files == j.end() || !files->is_array()) throw Error(where + ": field 'files' must be an array of files");
  std::set<std::string> seen;
  for (const nlohmann::json& f : *files) {
    if (!f.is_object()) throw Error(where + ": each file must be an object {path, nbytes, integrity}");
    File file;
    file.path = get<std::string>(f, "path", where + " files", &nlohmann::json::is_string, "a string");
    const std::string what = where + ": file '" + file.path + "'";
    if (!is_safe_relative_path(file.path))
      throw Error(what + " must be a relative path inside the model's folder (no '..', no absolute path or URL)");
    if (!seen.insert(file.path).second) throw Error(what + " is listed twice");
    file.nbytes = get<uint64_t>(f, "nbytes", what, &nlohmann::json::is_number_unsigned, "a non-negative integer");
    if (file.nbytes > kMaxFileBytes) throw Error(what + ": nbytes " + std::to_string(file.nbytes) + " is absurd for a config file");
    file.integrity = get<std::string>(f, "integrity", what, &nlohmann::json::is_string, "a string");
    if (!is_sha256_integrity(file.integrity)) throw Error(what + ": integrity '" + file.integrity + "' is not sha256-<base64>");
    m.files.push_back(std::move(file));
  }
  if (!seen.count(m.tensor_cache)) throw Error(where + ": the weights manifest '" + m.tensor_cache + "' is not among its files");
  return m;
}

ModelJson ModelJson::load(const std::string& path) { return parse(read_text_file(path), path); }

const ModelJson::File* ModelJson::file(const std::string& path) const {
  for (const File& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

nlohmann::json ModelJson::to_json() const {
  nlohmann::json file_list = nlohmann::json::array();
  for (const File& f : files) file_list.push_back({{"path", f.path}, {"nbytes", f.nbytes}, {"integrity", f.integrity}});
  return {{"format", kFormat},
          {"formatVersion", kFormatVersion},
          {"converter", converter},
          {"pipeline", pipeline_class},
          {"family", family},
          {"dtype", dtype},
          {"defaults",
           {{"width", default_width},
            {"height", default_height},
            {"steps", default_steps},
            {"guidanceScale", default_guidance_scale},
            {"scheduler", default_scheduler}}},
          {"weightBytes", weight_bytes},
          {"totalBytes", total_bytes},
          {"tensorCache", tensor_cache},
          {"files", file_list}};
}

}  // namespace websd
