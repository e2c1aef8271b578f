#include "pipeline/model_source.h"

#include <filesystem>

#include "core/error.h"
#include "io/sha256.h"

namespace websd {
namespace {

// The components whose weights an artifact model may hold.
bool is_weights_component(const ModelIndex& index, const std::string& component) {
  if (component == "text_encoder" || component == "unet" || component == "vae") return true;
  return component == "text_encoder_2" && index.family == PipelineFamily::kStableDiffusionXL;
}

// A small file of an artifact folder, checked against model.json before it is read.
void verify_file(const std::string& dir, const ModelJson::File& f) {
  const std::string path = (std::filesystem::path(dir) / f.path).string();
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) != f.nbytes || ec)
    throw Error(path + ": " + (ec ? "missing" : "has another size than model.json says") + " (re-download the model)");
  const std::string text = read_text_file(path);
  const std::string got = sha256_integrity({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  if (got != f.integrity)
    throw Error(path + ": SHA-256 mismatch (expected " + f.integrity + ", got " + got + "): the file is corrupt or belongs to "
                "another version of the model");
}

}  // namespace

bool ModelSource::is_artifact_folder(const std::string& dir) {
  return std::filesystem::is_regular_file(std::filesystem::path(dir) / ModelJson::kFileName);
}

ModelSource ModelSource::open(const std::string& path, const std::string& config_dir, bool verify) {
  namespace fs = std::filesystem;
  ModelSource s;
  // A path that names nothing and has no extension was meant as a folder: ModelIndex says what is missing.
  if (fs::is_directory(path) || (!fs::exists(path) && !fs::path(path).has_extension())) {
    if (!config_dir.empty())
      throw Error(path + ": a model folder has its own configs; a config folder is for single-file checkpoints");
    if (is_artifact_folder(path)) {
      s.artifact_ = ModelJson::load((fs::path(path) / ModelJson::kFileName).string());
      if (verify)
        for (const ModelJson::File& f : s.artifact_->files) verify_file(path, f);
      s.tensor_cache_ = std::make_shared<TensorCache>(TensorCache::load((fs::path(path) / s.artifact_->tensor_cache).string()));
    }
    s.index_ = ModelIndex::load(path);
    if (s.artifact_) {
      if (s.index_.pipeline_class != s.artifact_->pipeline_class)
        throw Error(path + ": model.json names a " + s.artifact_->pipeline_class + " but model_index.json a " +
                    s.index_.pipeline_class);
      for (const TensorShard& shard : s.tensor_cache_->shards)
        if (!is_weights_component(s.index_, shard.component()))
          throw Error(s.tensor_cache_path() + ": shard '" + shard.data_path + "' holds tensors of '" + shard.component() +
                      "', which is no component of a " + s.index_.pipeline_class);
    }
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

std::string ModelSource::tensor_cache_path() const {
  return artifact_ ? (std::filesystem::path(index_.dir) / artifact_->tensor_cache).string() : "";
}

void ModelSource::use_artifact_tensors(std::shared_ptr<ArtifactTensors> tensors) {
  if (!artifact_) throw Error(index_.dir + ": is no artifact model; it has no artifact tensors");
  if (&tensors->cache() != tensor_cache_.get())
    throw Error(index_.dir + ": the uploaded tensors belong to another manifest");
  artifact_tensors_ = std::move(tensors);
}

ConfigReader ModelSource::config(const std::string& component) const {
  const std::string file = index_.component(component) + "/config.json";
  if (!checkpoint_ || !standard_configs_) return ConfigReader::load(file);
  return ConfigReader(checkpoint_->sized_config(component, read_json_file(file), file),
                      file + " (sized to " + checkpoint_->path() + ")");
}

Weights ModelSource::weights(const std::string& component, Backend& backend) const {
  Weights w = [&] {
    if (random_seed_) return Weights::random(backend, *random_seed_);
    if (checkpoint_) return checkpoint_->weights(component, backend);
    if (!artifact_) return Weights::open_component(index_.component(component), backend);
    if (!artifact_tensors_) artifact_tensors_ = std::make_shared<ArtifactTensors>(tensor_cache_, tensor_cache_path(), backend);
    if (&artifact_tensors_->backend() != &backend)
      throw Error(index_.dir + ": its tensors were uploaded to another backend");
    artifact_tensors_->load_component(index_.dir, component);
    return artifact_tensors_->weights(component);
  }();
  if (observer_)
    w.set_observer([observer = observer_, component](const std::string& name, const Shape& shape,
                                                     const std::function<HostTensor()>& values) {
      observer(component, name, shape, values);
    });
  return w;
}

}  // namespace websd
