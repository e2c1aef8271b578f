#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "artifacts/tensor_cache.h"
#include "backend/backend.h"
#include "models/weights.h"

namespace websd {

// An artifact model's weights on one backend, uploaded shard by shard as each arrives verified
// (from a local folder, the network or a cache): the backend turns each tensor's stored bytes
// into its own storage, and a shard's bytes can be dropped as soon as it is in. Then each
// component's Weights are the uploaded tensors, shape-checked by the model like any other source.
class ArtifactTensors {
 public:
  // where: the manifest's path or URL, for messages.
  ArtifactTensors(std::shared_ptr<const TensorCache> cache, std::string where, Backend& backend);

  const TensorCache& cache() const { return *cache_; }
  Backend& backend() const { return *backend_; }

  // Shard `index`'s tensors from its verified bytes in the engine's memory.
  void put_shard(size_t index, std::span<const uint8_t> bytes);
  // The same from bytes the GPU host holds under a staging id (the webgpu backend in the web build).
  void put_staged_shard(size_t index, uint32_t staged);
  // Reads and verifies the component's shards from a local folder (read_verified_shard).
  void load_component(const std::string& model_dir, const std::string& component);
  // Every tensor as a shape without values, for a ShapeOnlyBackend: builds the models to check
  // the manifest against their configs before anything is downloaded.
  void declare_all();

  bool has_component(const std::string& component) const;
  // The component's tensors; every one of its shards must have been put.
  Weights weights(const std::string& component) const;

 private:
  const TensorShard& shard(size_t index) const;
  void put(size_t index, const std::function<WeightBytes(const CachedTensor&)>& bytes_of);

  std::shared_ptr<const TensorCache> cache_;
  std::string where_;
  Backend* backend_;
  std::vector<bool> loaded_;
  std::map<std::string, std::map<std::string, Tensor>> tensors_;  // component → tensor name → tensor
};

}  // namespace websd
