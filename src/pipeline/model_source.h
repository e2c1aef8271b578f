#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "artifacts/artifact_tensors.h"
#include "artifacts/model_json.h"
#include "io/config.h"
#include "models/single_file/checkpoint.h"
#include "models/weights.h"
#include "pipeline/model_index.h"

namespace websd {

// Where a pipeline's components come from, so that the pipeline loads them one way whatever the
// model is. A diffusers folder holds each component's config.json and weights. A single-file
// checkpoint holds the weights of all of them; its model_index.json, configs, tokenizers and
// scheduler come from a config folder: the family's standard one (assets/configs/sd15 or sdxl)
// with the sizes the weights show written over it, or one the caller names (diffusers'
// from_single_file(config=...)), taken as it is. An artifact model (`websd convert`'s output) is a
// diffusers folder's small files beside model.json, the ndarray-cache.json manifest and its
// verified shards, whose tensors are uploaded to the backend shard by shard (ArtifactTensors).
class ModelSource {
 public:
  // path: a diffusers folder, an artifact folder or a single .safetensors file. config_dir: for a
  // single file only. verify: check an artifact folder's files against model.json's sizes and
  // SHA-256 (off where the JS host has verified them already).
  static ModelSource open(const std::string& path, const std::string& config_dir = "", bool verify = true);
  // Whether dir is an artifact model's folder (it has model.json).
  static bool is_artifact_folder(const std::string& dir);

  const ModelIndex& index() const { return index_; }  // the folder's, or the config folder's
  const std::optional<SingleFileCheckpoint>& checkpoint() const { return checkpoint_; }
  // Whether a single file's configs are the standard ones (sized from its weights).
  bool standard_configs() const { return standard_configs_; }
  const std::optional<ModelJson>& artifact() const { return artifact_; }
  // The artifact manifest and its path (null and empty for other sources).
  const std::shared_ptr<const TensorCache>& tensor_cache() const { return tensor_cache_; }
  std::string tensor_cache_path() const;

  // Random weights from `seed` in place of the model's (Weights::random): full-size models built
  // from their configs alone, to time them where no checkpoint exists.
  void use_random_weights(uint64_t seed) { random_seed_ = seed; }
  // An artifact model's tensors, already uploaded by a loader (the web build's, shard by shard from
  // the network or its cache); without them they are read from the folder's shards on first use.
  void use_artifact_tensors(std::shared_ptr<ArtifactTensors> tensors);
  // Sees every tensor a model reads (Weights::set_observer), with its component.
  using WeightsObserver = std::function<void(const std::string& component, const std::string& name, const Shape& shape,
                                             const std::function<HostTensor()>& values)>;
  void observe_weights(WeightsObserver observer) { observer_ = std::move(observer); }

  // A component's config.json, read so that every field is accounted for (ConfigReader).
  ConfigReader config(const std::string& component) const;
  // A component's weights, named as in diffusers.
  Weights weights(const std::string& component, Backend& backend) const;
  // A component's folder: where tokenizers and the scheduler config are read from.
  std::string folder(const std::string& component) const { return index_.component(component); }

 private:
  ModelIndex index_;
  std::optional<SingleFileCheckpoint> checkpoint_;
  bool standard_configs_ = false;
  std::optional<ModelJson> artifact_;
  std::shared_ptr<const TensorCache> tensor_cache_;
  // Shared by copies: a pipeline built from a copy reads the shards once.
  mutable std::shared_ptr<ArtifactTensors> artifact_tensors_;
  std::optional<uint64_t> random_seed_;
  WeightsObserver observer_;
};

}  // namespace websd
