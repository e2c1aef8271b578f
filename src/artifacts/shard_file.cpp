#include "artifacts/shard_file.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/sha256.h"

namespace websd {

void verify_shard_bytes(const TensorShard& shard, uint64_t size, const std::string& integrity) {
  if (size != shard.nbytes)
    throw Error("shard '" + shard.data_path + "': " + (size < shard.nbytes ? "truncated" : "too long") + " (" +
                std::to_string(size) + " bytes, the manifest says " + std::to_string(shard.nbytes) + ")");
  if (integrity != shard.integrity)
    throw Error("shard '" + shard.data_path + "': SHA-256 mismatch (expected " + shard.integrity + ", got " + integrity +
                "): the file is corrupt or belongs to another version of the model");
}

std::vector<uint8_t> read_verified_shard(const std::string& model_dir, const TensorShard& shard) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(model_dir) / shard.data_path;
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw Error("shard '" + shard.data_path + "' is missing (" + path.string() + ")");
  verify_shard_bytes(shard, size, shard.integrity);  // the size first: never read an absurd file whole
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw Error("shard '" + shard.data_path + "': cannot read " + path.string());
  verify_shard_bytes(shard, bytes.size(), sha256_integrity(bytes));
  return bytes;
}

}  // namespace websd
