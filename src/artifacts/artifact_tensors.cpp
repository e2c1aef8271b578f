#include "artifacts/artifact_tensors.h"

#include "artifacts/shard_file.h"
#include "core/error.h"

namespace websd {

ArtifactTensors::ArtifactTensors(std::shared_ptr<const TensorCache> cache, std::string where, Backend& backend)
    : cache_(std::move(cache)), where_(std::move(where)), backend_(&backend), loaded_(cache_->shards.size(), false) {}

const TensorShard& ArtifactTensors::shard(size_t index) const {
  if (index >= cache_->shards.size())
    throw Error(where_ + ": there is no shard " + std::to_string(index) + " (it lists " +
                std::to_string(cache_->shards.size()) + ")");
  if (loaded_[index]) throw Error(where_ + ": shard '" + cache_->shards[index].data_path + "' was loaded twice");
  return cache_->shards[index];
}

void ArtifactTensors::put(size_t index, const std::function<WeightBytes(const CachedTensor&)>& bytes_of) {
  const TensorShard& s = shard(index);
  auto& component = tensors_[s.component()];
  for (const CachedTensor& t : s.tensors) component[t.tensor_name()] = backend_->upload_weight_bytes(t.shape, bytes_of(t));
  loaded_[index] = true;
}

void ArtifactTensors::put_shard(size_t index, std::span<const uint8_t> bytes) {
  const TensorShard& s = shard(index);
  if (bytes.size() != s.nbytes)
    throw Error(where_ + ": shard '" + s.data_path + "' has " + std::to_string(bytes.size()) + " bytes, the manifest says " +
                std::to_string(s.nbytes));
  put(index, [&](const CachedTensor& t) {
    return WeightBytes{t.dtype, bytes.subspan(t.byte_offset, (t.nbytes + 3) / 4 * 4), 0, 0};
  });
}

void ArtifactTensors::put_staged_shard(size_t index, uint32_t staged) {
  if (staged == 0) throw Error(where_ + ": staging id 0 names no bytes");
  put(index, [&](const CachedTensor& t) { return WeightBytes{t.dtype, {}, staged, t.byte_offset}; });
}

void ArtifactTensors::load_component(const std::string& model_dir, const std::string& component) {
  for (size_t i = 0; i < cache_->shards.size(); ++i)
    if (!loaded_[i] && cache_->shards[i].component() == component) put_shard(i, read_verified_shard(model_dir, cache_->shards[i]));
}

void ArtifactTensors::declare_all() {
  for (size_t i = 0; i < cache_->shards.size(); ++i)
    if (!loaded_[i]) put(i, [](const CachedTensor& t) { return WeightBytes{t.dtype, {}, 0, 0}; });
}

bool ArtifactTensors::has_component(const std::string& component) const {
  for (const TensorShard& s : cache_->shards)
    if (s.component() == component) return true;
  return false;
}

Weights ArtifactTensors::weights(const std::string& component) const {
  if (!has_component(component)) throw Error(where_ + ": has no tensors of component '" + component + "'");
  for (size_t i = 0; i < cache_->shards.size(); ++i)
    if (!loaded_[i] && cache_->shards[i].component() == component)
      throw Error(where_ + ": shard '" + cache_->shards[i].data_path + "' of component '" + component +
                  "' has not been loaded");
  auto it = tensors_.find(component);
  return Weights::open_tensors(it->second, where_ + " (" + component + ")", *backend_);
}

}  // namespace websd
