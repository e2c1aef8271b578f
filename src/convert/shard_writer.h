#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "artifacts/tensor_cache.h"
#include "core/tensor.h"

namespace websd {

// Writes an artifact model's weights: tensors appended in the order a model reads them, packed
// into shard files of about `shard_bytes` (a tensor larger than that gets a shard of its own; a
// shard never mixes components), each tensor at a 64-byte boundary, stored as float16 (rounded to
// nearest even) or float32. A shard's name carries its content hash, so a re-published model
// never mixes with an older cached copy; its manifest entry carries the SHA-256 in SRI form.
class ShardWriter {
 public:
  ShardWriter(std::string dir, WeightBytes::DType dtype, uint64_t shard_bytes);

  // name: component/tensor.
  void add(const std::string& name, const HostTensor& values);
  // Writes the last shard; then cache() is complete.
  void finish();
  const TensorCache& cache() const { return cache_; }
  uint64_t bytes_written() const { return written_; }

 private:
  void flush();

  std::string dir_;
  WeightBytes::DType dtype_;
  uint64_t shard_bytes_;
  TensorShard current_;
  std::vector<uint8_t> buffer_;
  TensorCache cache_;
  uint64_t written_ = 0;
  std::map<std::string, int> shards_of_;  // component → shards written
};

}  // namespace websd
