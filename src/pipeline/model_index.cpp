#include "pipeline/model_index.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "io/config.h"

namespace websd {
namespace {

using ClassTable = std::map<std::string, std::set<std::string>>;

// [library, class] of a component, or empty when the entry is [null, null].
std::string component_class(const nlohmann::json& j, const std::string& file, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (!it->is_array() || it->size() != 2) throw Error(file + ": field '" + key + "' must be [library, class]");
  if ((*it)[1].is_null()) return "";
  if (!(*it)[1].is_string()) throw Error(file + ": field '" + key + "' must name a class");
  return (*it)[1].get<std::string>();
}

// The components each family needs, and the classes websd implements for them.
ClassTable required_components(PipelineFamily family) {
  const std::set<std::string> tokenizer = {"CLIPTokenizer", "CLIPTokenizerFast"};
  ClassTable t = {
      {"unet", {"UNet2DConditionModel"}},
      {"vae", {"AutoencoderKL"}},
      {"text_encoder", {"CLIPTextModel"}},
      {"tokenizer", tokenizer},
      {"scheduler",
       {"PNDMScheduler", "DPMSolverMultistepScheduler", "EulerDiscreteScheduler", "DDIMScheduler", "LCMScheduler"}}};
  if (family == PipelineFamily::kStableDiffusionXL) {
    t["text_encoder_2"] = {"CLIPTextModelWithProjection"};
    t["tokenizer_2"] = tokenizer;
  }
  return t;
}

// Entries that may be present and are not run, per family. The safety checker and its feature
// extractor are not run: websd generates locally for the user who asked, as diffusers does with
// safety_checker=None; image_encoder serves IP-Adapters, which websd does not take. SDXL base's
// add_watermarker (null there) asks diffusers to stamp an invisible watermark into the output after
// decoding; it changes no step of the generation, and websd returns the decoded picture as it is.
std::set<std::string> ignored_entries(PipelineFamily family) {
  if (family == PipelineFamily::kStableDiffusionXL) return {"feature_extractor", "image_encoder", "add_watermarker"};
  return {"safety_checker", "feature_extractor", "image_encoder", "requires_safety_checker"};
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
  const auto class_name = j.find("_class_name");
  if (class_name != j.end() && !class_name->is_string()) throw Error(file + ": field '_class_name' must be a string");
  m.pipeline_class = j.value("_class_name", "");
  if (m.pipeline_class == "StableDiffusionXLPipeline")
    m.family = PipelineFamily::kStableDiffusionXL;
  else if (m.pipeline_class != "StableDiffusionPipeline")
    throw Error(file + ": field '_class_name' = \"" + m.pipeline_class +
                "\": websd runs StableDiffusionPipeline (SD 1.x/2.x) and StableDiffusionXLPipeline models");

  const ClassTable required = required_components(m.family);
  for (auto& [name, classes] : required) {
    const std::string cls = component_class(j, file, name);
    if (cls.empty()) throw Error(file + ": component '" + name + "' is missing");
    if (!classes.count(cls)) throw Error(file + ": component '" + name + "' is a " + cls + ", which websd does not support");
    if (!fs::is_directory(fs::path(dir) / name)) throw Error(dir + ": folder '" + name + "' named by model_index.json is missing");
  }
  m.text_encoder_class = component_class(j, file, "text_encoder");
  m.scheduler_class = component_class(j, file, "scheduler");

  if (m.family == PipelineFamily::kStableDiffusionXL) {
    // StableDiffusionXLPipeline's own default is true.
    const auto it = j.find("force_zeros_for_empty_prompt");
    if (it != j.end() && !it->is_boolean()) throw Error(file + ": field 'force_zeros_for_empty_prompt' must be true or false");
    m.force_zeros_for_empty_prompt = it == j.end() || it->get<bool>();
  }
  const std::set<std::string> ignored = ignored_entries(m.family);
  for (auto& [key, value] : j.items()) {
    if (key.empty() || key[0] == '_' || required.count(key) || ignored.count(key)) continue;
    if (m.family == PipelineFamily::kStableDiffusionXL && key == "force_zeros_for_empty_prompt") continue;
    throw Error(file + ": component '" + key + "' is not supported by websd");
  }
  return m;
}

}  // namespace websd
