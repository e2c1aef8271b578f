#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"

namespace websd {

// One weight in a shard: its bytes are [byte_offset, byte_offset + nbytes), little-endian, in the
// layout the ops read (PyTorch's), padded to whole 4-byte words.
struct CachedTensor {
  std::string name;       // component/tensor, e.g. "unet/conv_in.weight"
  Shape shape;
  WeightBytes::DType dtype = WeightBytes::DType::F16;
  uint64_t byte_offset = 0;
  uint64_t nbytes = 0;

  std::string component() const { return name.substr(0, name.find('/')); }
  std::string tensor_name() const { return name.substr(name.find('/') + 1); }
};

// One shard file: a run of tensors of one component.
struct TensorShard {
  std::string data_path;  // relative to the model's folder
  uint64_t nbytes = 0;
  std::string integrity;  // "sha256-<base64>"
  std::vector<CachedTensor> tensors;

  std::string component() const { return tensors.empty() ? "" : tensors.front().component(); }
};

// An artifact model's weights manifest, `ndarray-cache.json` in tvmjs' schema (metadata, records
// of shards with dataPath, format "raw-shard", nbytes and their tensors' name, shape, dtype,
// format "raw", nbytes, byteOffset), so MLC's readers understand it, extended with each shard's
// `integrity`. parse() checks everything a loader relies on before any shard is fetched, with one
// error naming the shard or tensor: paths that stay in the model's folder, no shard listed twice,
// sizes that agree with shapes and dtypes and fit their shard, no overlapping tensors, one
// component per shard, no tensor named twice.
struct TensorCache {
  static constexpr const char* kFileName = "ndarray-cache.json";
  // A shard larger than this cannot be held as one JavaScript ArrayBuffer everywhere.
  static constexpr uint64_t kMaxShardBytes = 1ull << 31;

  nlohmann::json metadata = nlohmann::json::object();
  std::vector<TensorShard> shards;

  static TensorCache parse(const std::string& text, const std::string& where);
  static TensorCache load(const std::string& path);
  nlohmann::json to_json() const;

  uint64_t total_bytes() const;
  int64_t total_params() const;
};

const char* dtype_name(WeightBytes::DType dtype);

}  // namespace websd
