#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace websd {

// An artifact model's `model.json`: what the model is and what a loader fetches, before any of it
// is fetched: the family (pipeline class), the defaults a front end starts from, the byte counts a
// progress bar needs, and every other file (configs, tokenizers, scheduler, the weights manifest)
// as a path relative to the model's folder with its size and SHA-256. model.json is the one file
// a loader cannot verify; everything else it names can be.
struct ModelJson {
  static constexpr const char* kFileName = "model.json";
  static constexpr const char* kFormat = "websd-artifacts";
  static constexpr int kFormatVersion = 1;

  std::string pipeline_class;  // model_index.json's _class_name
  std::string family;          // "sd" or "sdxl"
  std::string dtype;           // of the weights: "float16" or "float32"
  std::string converter;       // which converter wrote it
  int default_width = 0, default_height = 0, default_steps = 0;
  double default_guidance_scale = 0;
  std::string default_scheduler;  // the scheduler config's class
  uint64_t weight_bytes = 0;      // the shards
  uint64_t total_bytes = 0;       // every file, model.json and the manifest included
  // Every file but model.json and the shards: configs, tokenizers, scheduler, and the manifest
  // itself, each with its size and SHA-256 so a loader can verify and cache them like the shards.
  struct File {
    std::string path;
    uint64_t nbytes = 0;
    std::string integrity;
  };
  std::vector<File> files;
  std::string tensor_cache = "ndarray-cache.json";  // which of the files is the weights manifest

  // Configs, tokenizers and manifests are far smaller; a larger size is a broken or hostile file.
  static constexpr uint64_t kMaxFileBytes = 64ull << 20;

  const File* file(const std::string& path) const;
  static ModelJson parse(const std::string& text, const std::string& where);
  static ModelJson load(const std::string& path);
  nlohmann::json to_json() const;
};

}  // namespace websd
