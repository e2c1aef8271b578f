#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "artifacts/model_json.h"
#include "artifacts/tensor_cache.h"

namespace websd {

struct ConvertOptions {
  std::string model;       // a diffusers folder, a single-file checkpoint, or a config folder with random_seed
  std::string config_dir;  // a single file's own configs (as `generate --config`)
  std::string output;      // the artifact folder to write (replaced if it holds an older artifact model)
  WeightBytes::DType dtype = WeightBytes::DType::F16;
  uint64_t shard_bytes = 32ull << 20;
  std::optional<uint64_t> random_seed;  // Weights::random in place of the model's weights
  // Bytes of weights written so far, of the total.
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

struct ConvertResult {
  ModelJson model;
  TensorCache cache;
};

// `websd convert`: any model websd loads becomes an artifact folder a static web server can host
// (model.json, the ndarray-cache.json manifest, content-hashed weight shards, and the configs,
// tokenizers and scheduler config). The models are built on a ShapeOnlyBackend, so the artifacts
// hold exactly the tensors a load reads, in the form it reads them (a single file's recipes
// applied), and a tensor is read, converted, written and dropped before the next: memory stays
// near one shard. Written to a temporary folder first, so a failed run leaves no half model.
ConvertResult convert_model(const ConvertOptions& options);

}  // namespace websd
