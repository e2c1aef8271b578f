#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "artifacts/tensor_cache.h"

namespace websd {

// A shard of an artifact model in a local folder, read whole and verified against the manifest
// (size, then SHA-256) before any of it is used; an error names the shard and what is wrong.
std::vector<uint8_t> read_verified_shard(const std::string& model_dir, const TensorShard& shard);

// The check both hosts make on a shard's bytes, for messages that read the same everywhere.
void verify_shard_bytes(const TensorShard& shard, uint64_t size, const std::string& integrity);

}  // namespace websd
