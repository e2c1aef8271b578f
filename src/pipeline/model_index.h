#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace websd {

// A diffusers pipeline folder as model_index.json describes it: which class each component is,
// checked against what the engine implements before any weights are read.
struct ModelIndex {
  std::string dir;
  std::string pipeline_class;
  std::string text_encoder_class;
  std::string scheduler_class;

  static ModelIndex load(const std::string& dir);
  std::string component(const std::string& name) const;  // dir/name
};

}  // namespace websd
