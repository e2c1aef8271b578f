#pragma once
#include <string>

namespace websd {

// What `websd info` prints for a model (a diffusers folder or a single-file checkpoint, see
// ModelSource): its format, family, and per component its class, tensor and parameter counts and
// stored dtypes, plus where a single file's configs come from. Reads headers only: no weights are
// loaded, so a multi-gigabyte checkpoint is described at once.
std::string describe_model(const std::string& path, const std::string& config_dir = "");

}  // namespace websd
