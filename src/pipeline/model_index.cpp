#include "pipeline/model_index.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "io/config.h"

namespace websd {
namespace {

// [library, class] of a component, or empty when the entry is [null, null].
std::string component_class(const nlohmann::json& j, const std::string& file, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (!it->is_array() || it->size() != 2) throw Error(file + ": field '" + key + "' must be [library, class]");
  if ((*it)[1].is_null()) return "";
  if (!(*it)[1].is_string()) throw Error(file + ": field '" + key + "' must name a class");
  return (*it)[1].get<std::string>();
}

}  // namespace

std::string ModelIndex::component(const std::string& name) const { return (std::filesystem::path(dir) / name).string(); }

ModelIndex ModelIndex::load(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw Error(dir + ": model folder not found (expected a diffusers folder with model_index.json)");
  const std::string file = (fs::path(dir) / "model_index.json").string();
  if (!fs::exists(file)) throw Error(dir + ": no model_index.json (is this a diffusers model folder?)");
  const nlohmann::json j = read_json_file(file);
  if (!j.is_object()) throw Error(file + ": expected a JSON object");

  ModelIndex m;
  m.dir = dir;
  m.pipeline_class = j.value("_class_name", "");
  if (m.pipeline_class != "StableDiffusionPipeline")
    throw Error(file + ": field '_class_name' = \"" + m.pipeline_class +
                "\": websd runs StableDiffusionPipeline models (SD 1.x family)");

  const std::map<std::string, std::set<std::string>> required = {
      {"unet", {"UNet2DConditionModel"}},
      {"vae", {"AutoencoderKL"}},
      {"text_encoder", {"CLIPTextModel"}},
      {"tokenizer", {"CLIPTokenizer", "CLIPTokenizerFast"}},
      {"scheduler",
       {"PNDMScheduler", "DPMSolverMultistepScheduler", "EulerDiscreteScheduler", "DDIMScheduler", "LCMScheduler"}}};
  for (auto& [name, classes] : required) {
    const std::string cls = component_class(j, file, name);
    if (cls.empty()) throw Error(file + ": component '" + name + "' is missing");
    if (!classes.count(cls)) throw Error(file + ": component '" + name + "' is a " + cls + ", which websd does not support");
    if (!fs::is_directory(fs::path(dir) / name)) throw Error(dir + ": folder '" + name + "' named by model_index.json is missing");
  }
  m.text_encoder_class = component_class(j, file, "text_encoder");
  m.scheduler_class = component_class(j, file, "scheduler");
  // The safety checker and its feature extractor are not run: websd generates locally for the
  // user who asked, as diffusers does with safety_checker=None.
  for (auto& [key, value] : j.items()) {
    if (key.empty() || key[0] == '_' || required.count(key)) continue;
    static const std::set<std::string> optional = {"safety_checker", "feature_extractor", "image_encoder",
                                                   "requires_safety_checker"};
    if (!optional.count(key)) throw Error(file + ": component '" + key + "' is not supported by websd");
  }
  return m;
}

}  // namespace websd
