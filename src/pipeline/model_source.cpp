#include "pipeline/model_source.h"

#include <filesystem>

#include "core/error.h"

namespace websd {

ModelSource ModelSource::open(const std::string& path, const std::string& config_dir) {
  namespace fs = std::filesystem;
  ModelSource s;
  // A path that names nothing and has no extension was meant as a folder: ModelIndex says what is missing.
  if (fs::is_directory(path) || (!fs::exists(path) && !fs::path(path).has_extension())) {
    if (!config_dir.empty())
      throw Error(path + ": a model folder has its own configs; a config folder is for single-file checkpoints");
    s.index_ = ModelIndex::load(path);
    return s;
  }
  if (!fs::exists(path)) throw Error(path + ": checkpoint file not found (expected a single-file .safetensors checkpoint)");
  s.checkpoint_ = SingleFileCheckpoint::open(path);
  const SingleFileCheckpoint& c = *s.checkpoint_;
  s.standard_configs_ = config_dir.empty();
  const std::string dir =
      s.standard_configs_ ? (fs::path(standard_configs_dir()) / c.standard_configs_name()).string() : config_dir;
  if (s.standard_configs_ && !fs::is_directory(dir))
    throw Error(path + ": the standard " + c.family_name() + " configs are not at " + dir +
                " (set WEBSD_CONFIGS_DIR to websd's assets/configs, or give the model's configs with --config)");
  s.index_ = ModelIndex::load(dir);
  if ((s.index_.family == PipelineFamily::kStableDiffusionXL) != (c.family() == CheckpointFamily::kSdxl))
    throw Error(path + ": an " + c.family_name() + " checkpoint, but " + dir + "/model_index.json is a " +
                s.index_.pipeline_class);
  return s;
}

ConfigReader ModelSource::config(const std::string& component) const {
  const std::string file = index_.component(component) + "/config.json";
  if (!checkpoint_ || !standard_configs_) return ConfigReader::load(file);
  return ConfigReader(checkpoint_->sized_config(component, read_json_file(file), file),
                      file + " (sized to " + checkpoint_->path() + ")");
}

Weights ModelSource::weights(const std::string& component, Backend& backend) const {
  if (checkpoint_) return checkpoint_->weights(component, backend);
  return Weights::open_component(index_.component(component), backend);
}

}  // namespace websd
