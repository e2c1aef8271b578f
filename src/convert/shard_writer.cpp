#include "convert/shard_writer.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/half.h"
#include "io/sha256.h"

namespace websd {
namespace {

constexpr uint64_t kTensorAlign = 64;

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

ShardWriter::ShardWriter(std::string dir, WeightBytes::DType dtype, uint64_t shard_bytes)
    : dir_(std::move(dir)), dtype_(dtype), shard_bytes_(shard_bytes) {
  if (shard_bytes_ < 1024 || shard_bytes_ > TensorCache::kMaxShardBytes)
    throw Error("shard size " + std::to_string(shard_bytes_) + " bytes: choose between 1 KiB and 2 GiB");
  cache_.metadata = {{"dtype", dtype_name(dtype_)}};
}

void ShardWriter::add(const std::string& name, const HostTensor& values) {
  CachedTensor t;
  t.name = name;
  t.shape = values.shape;
  t.dtype = dtype_;
  t.nbytes = static_cast<uint64_t>(values.numel()) * (dtype_ == WeightBytes::DType::F16 ? 2 : 4);
  if (t.nbytes > TensorCache::kMaxShardBytes) throw Error("tensor '" + name + "' is larger than a shard may be (2 GiB)");
  const bool other_component = !current_.tensors.empty() && t.component() != current_.component();
  if (other_component || (!current_.tensors.empty() && align_up(buffer_.size(), kTensorAlign) + t.nbytes > shard_bytes_))
    flush();
  t.byte_offset = align_up(buffer_.size(), kTensorAlign);
  buffer_.resize(t.byte_offset + align_up(t.nbytes, 4), 0);
  uint8_t* out = buffer_.data() + t.byte_offset;
  if (dtype_ == WeightBytes::DType::F16) {
    for (size_t i = 0; i < values.data.size(); ++i) {
      const uint16_t h = f32_to_f16(values.data[i]);
      out[2 * i] = static_cast<uint8_t>(h & 0xff);
      out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
    }
  } else {
    std::memcpy(out, values.data.data(), values.data.size() * sizeof(float));
  }
  current_.tensors.push_back(std::move(t));
}

void ShardWriter::flush() {
  if (current_.tensors.empty()) return;
  Sha256 sha;
  sha.update(buffer_);
  const Sha256::Digest digest = sha.finish();
  const std::string component = current_.component();
  char index[16];
  std::snprintf(index, sizeof index, "%03d", shards_of_[component]++);
  current_.data_path = component + "-" + index + "-" + Sha256::hex(digest).substr(0, 16) + ".bin";
  current_.nbytes = buffer_.size();
  current_.integrity = Sha256::sri(digest);
  const std::string path = (std::filesystem::path(dir_) / current_.data_path).string();
  std::ofstream out(path, std::ios::binary);
  if (!out.write(reinterpret_cast<const char*>(buffer_.data()), static_cast<std::streamsize>(buffer_.size())) || !out.flush())
    throw Error(path + ": cannot write (disk full?)");
  written_ += buffer_.size();
  cache_.shards.push_back(std::move(current_));
  current_ = TensorShard{};
  buffer_.clear();
}

void ShardWriter::finish() {
  flush();
  cache_.metadata["ParamSize"] = cache_.total_params();
  cache_.metadata["ParamBytes"] = cache_.total_bytes();
  cache_.metadata["BitsPerParam"] = dtype_ == WeightBytes::DType::F16 ? 16 : 32;
}

}  // namespace websd
