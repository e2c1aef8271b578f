#pragma once
#include <optional>
#include <string>

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
// from_single_file(config=...)), taken as it is.
class ModelSource {
 public:
  // path: a diffusers folder or a single .safetensors file. config_dir: for a single file only.
  static ModelSource open(const std::string& path, const std::string& config_dir = "");

  const ModelIndex& index() const { return index_; }  // the folder's, or the config folder's
  const std::optional<SingleFileCheckpoint>& checkpoint() const { return checkpoint_; }
  // Whether a single file's configs are the standard ones (sized from its weights).
  bool standard_configs() const { return standard_configs_; }

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
};

}  // namespace websd
