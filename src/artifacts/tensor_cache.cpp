#include "artifacts/tensor_cache.h"

#include <algorithm>
#include <map>
#include <set>

#include "artifacts/safe_path.h"
#include "core/error.h"
#include "io/config.h"
#include "io/sha256.h"

namespace websd {
namespace {

// Dimensions and element counts beyond these are no Stable Diffusion weight: refusing them keeps
// every size computation far from overflow.
constexpr int64_t kMaxDim = int64_t{1} << 31;
constexpr int64_t kMaxElements = int64_t{1} << 40;

const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(what + ": field '" + key + "' is missing");
  return *it;
}

std::string string_field(const nlohmann::json& j, const char* key, const std::string& what) {
  const nlohmann::json& v = field(j, key, what);
  if (!v.is_string()) throw Error(what + ": field '" + key + "' must be a string");
  return v.get<std::string>();
}

uint64_t size_field(const nlohmann::json& j, const char* key, const std::string& what, uint64_t max) {
  const nlohmann::json& v = field(j, key, what);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw Error(what + ": field '" + key + "' must be a non-negative integer");
  const uint64_t n = v.get<uint64_t>();
  if (n > max) throw Error(what + ": " + key + " " + std::to_string(n) + " is absurd (at most " + std::to_string(max) + ")");
  return n;
}

WeightBytes::DType parse_dtype(const std::string& s, const std::string& what) {
  if (s == "float16") return WeightBytes::DType::F16;
  if (s == "float32") return WeightBytes::DType::F32;
  throw Error(what + ": dtype '" + s + "' is not supported (float16 or float32)");
}

CachedTensor parse_tensor(const nlohmann::json& j, const std::string& shard_what, uint64_t shard_bytes) {
  if (!j.is_object()) throw Error(shard_what + ": each tensor record must be an object");
  CachedTensor t;
  t.name = string_field(j, "name", shard_what + ": a tensor");
  const std::string what = shard_what + ": tensor '" + t.name + "'";
  const size_t slash = t.name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == t.name.size())
    throw Error(what + ": a name must be component/tensor (e.g. unet/conv_in.weight)");
  const nlohmann::json& shape = field(j, "shape", what);
  if (!shape.is_array()) throw Error(what + ": shape must be an array of sizes");
  int64_t elements = 1;
  for (const nlohmann::json& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxDim)
      throw Error(what + ": shape " + shape.dump() + " has a size that is not an integer in [1, 2^31]");
    t.shape.push_back(d.get<int64_t>());
    elements *= t.shape.back();
    if (elements > kMaxElements) throw Error(what + ": shape " + shape.dump() + " is absurd");
  }
  t.dtype = parse_dtype(string_field(j, "dtype", what), what);
  const std::string format = string_field(j, "format", what);
  if (format != "raw") throw Error(what + ": format '" + format + "' is not supported (raw)");
  t.nbytes = size_field(j, "nbytes", what, TensorCache::kMaxShardBytes);
  t.byte_offset = size_field(j, "byteOffset", what, TensorCache::kMaxShardBytes);
  const uint64_t expected = static_cast<uint64_t>(elements) * (t.dtype == WeightBytes::DType::F16 ? 2 : 4);
  if (t.nbytes != expected)
    throw Error(what + ": nbytes " + std::to_string(t.nbytes) + " does not match shape " + shape_str(t.shape) + " in " +
                dtype_name(t.dtype) + " (" + std::to_string(expected) + " bytes)");
  // Kernels read whole 4-byte words, so a tensor's padding must lie inside the shard too.
  if (t.byte_offset % 4 != 0 || t.byte_offset + (t.nbytes + 3) / 4 * 4 > shard_bytes)
    throw Error(what + ": bytes [" + std::to_string(t.byte_offset) + ", " + std::to_string(t.byte_offset + t.nbytes) +
                ") do not fit the shard's " + std::to_string(shard_bytes) + " bytes in whole 4-byte words");
  return t;
}

TensorShard parse_shard(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": each record must be an object");
  TensorShard s;
  s.data_path = string_field(j, "dataPath", where + ": a record");
  const std::string what = where + ": shard '" + s.data_path + "'";
  if (!is_safe_relative_path(s.data_path))
    throw Error(what + ": dataPath must stay inside the model's folder (a relative path of plain names, no '..', "
                "no absolute path or URL)");
  const std::string format = string_field(j, "format", what);
  if (format != "raw-shard") throw Error(what + ": format '" + format + "' is not supported (raw-shard)");
  s.nbytes = size_field(j, "nbytes", what, TensorCache::kMaxShardBytes);
  s.integrity = string_field(j, "integrity", what);
  if (!is_sha256_integrity(s.integrity))
    throw Error(what + ": integrity '" + s.integrity + "' is not sha256-<base64 of 32 bytes>");
  const nlohmann::json& records = field(j, "records", what);
  if (!records.is_array() || records.empty()) throw Error(what + ": records must be a non-empty array of tensors");
  for (const nlohmann::json& r : records) s.tensors.push_back(parse_tensor(r, what, s.nbytes));

  for (const CachedTensor& t : s.tensors)
    if (t.component() != s.component())
      throw Error(what + ": holds tensors of two components ('" + s.component() + "' and '" + t.component() + "')");
  std::vector<const CachedTensor*> by_offset;
  for (const CachedTensor& t : s.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const CachedTensor* a, const CachedTensor* b) { return a->byte_offset < b->byte_offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->byte_offset + by_offset[i - 1]->nbytes > by_offset[i]->byte_offset)
      throw Error(what + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  return s;
}

}  // namespace

const char* dtype_name(WeightBytes::DType dtype) { return dtype == WeightBytes::DType::F16 ? "float16" : "float32"; }

TensorCache TensorCache::parse(const std::string& text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(where + ": not valid JSON (is this an artifact model's " + kFileName + "?)");
  if (!j.is_object()) throw Error(where + ": expected a JSON object");
  TensorCache c;
  if (j.contains("metadata")) {
    if (!j["metadata"].is_object()) throw Error(where + ": field 'metadata' must be an object");
    c.metadata = j["metadata"];
  }
  const nlohmann::json& records = field(j, "records", where);
  if (!records.is_array() || records.empty()) throw Error(where + ": records must be a non-empty array of shards");
  std::set<std::string> paths, names;
  for (const nlohmann::json& r : records) {
    TensorShard s = parse_shard(r, where);
    if (!paths.insert(s.data_path).second) throw Error(where + ": shard '" + s.data_path + "' is listed twice");
    for (const CachedTensor& t : s.tensors)
      if (!names.insert(t.name).second) throw Error(where + ": tensor '" + t.name + "' is listed twice");
    c.shards.push_back(std::move(s));
  }
  return c;
}

TensorCache TensorCache::load(const std::string& path) { return parse(read_text_file(path), path); }

nlohmann::json TensorCache::to_json() const {
  nlohmann::json records = nlohmann::json::array();
  for (const TensorShard& s : shards) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const CachedTensor& t : s.tensors)
      tensors.push_back({{"name", t.name}, {"shape", t.shape}, {"dtype", dtype_name(t.dtype)}, {"format", "raw"},
                         {"nbytes", t.nbytes}, {"byteOffset", t.byte_offset}});
    records.push_back({{"dataPath", s.data_path}, {"format", "raw-shard"}, {"nbytes", s.nbytes},
                       {"integrity", s.integrity}, {"records", tensors}});
  }
  return {{"metadata", metadata}, {"records", records}};
}

uint64_t TensorCache::total_bytes() const {
  uint64_t n = 0;
  for (const TensorShard& s : shards) n += s.nbytes;
  return n;
}

int64_t TensorCache::total_params() const {
  int64_t n = 0;
  for (const TensorShard& s : shards)
    for (const CachedTensor& t : s.tensors) n += numel(t.shape);
  return n;
}

}  // namespace websd
