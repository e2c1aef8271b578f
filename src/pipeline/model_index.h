#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace websd {

// The pipeline families websd runs, from model_index.json's _class_name.
enum class PipelineFamily {
  kStableDiffusion,    // StableDiffusionPipeline: SD 1.x / 2.x, one CLIP text encoder
  kStableDiffusionXL,  // StableDiffusionXLPipeline: two text encoders, pooled + size conditioning
};

// A diffusers pipeline folder as model_index.json describes it: which class each component is,
// checked against what the engine implements before any weights are read.
struct ModelIndex {
  std::string dir;
  std::string pipeline_class;
  PipelineFamily family = PipelineFamily::kStableDiffusion;
  std::string text_encoder_class;
  std::string scheduler_class;
  // SDXL's pipeline config: an omitted negative prompt gives zero embeddings instead of encoding "".
  bool force_zeros_for_empty_prompt = false;

  static ModelIndex load(const std::string& dir);
  std::string component(const std::string& name) const;  // dir/name
};

}  // namespace websd
