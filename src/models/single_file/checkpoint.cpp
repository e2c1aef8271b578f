#include "models/single_file/checkpoint.h"

#include <cstdlib>

#include "core/error.h"
#include "models/single_file/config_sizes.h"
#include "models/single_file/pickle_guard.h"

#ifndef WEBSD_STANDARD_CONFIGS_DIR
#define WEBSD_STANDARD_CONFIGS_DIR "assets/configs"
#endif

namespace websd {
namespace {

using single_file::DiffusersTensors;
using single_file::StoredTensors;

struct ComponentLayout {
  const char* name;
  const char* prefix;
  DiffusersTensors (*map)(const StoredTensors&);
};

std::vector<ComponentLayout> layout(CheckpointFamily family) {
  std::vector<ComponentLayout> l = {{"unet", "model.diffusion_model.", single_file::map_unet},
                                    {"vae", "first_stage_model.", single_file::map_vae}};
  if (family == CheckpointFamily::kSd1) {
    l.push_back({"text_encoder", "cond_stage_model.transformer.", single_file::map_clip});
  } else {
    l.push_back({"text_encoder", "conditioner.embedders.0.transformer.", single_file::map_clip});
    l.push_back({"text_encoder_2", "conditioner.embedders.1.model.", single_file::map_open_clip});
  }
  return l;
}

bool has_prefix(const std::string& name, const std::string& prefix) { return name.compare(0, prefix.size(), prefix) == 0; }

// What a file that is not an SD 1.x / SDXL checkpoint most likely is, for the error.
std::string guess_other(const SafetensorsFile& f) {
  bool lora = false, diffusers_unet = false, vae = false, sd2 = false, refiner = false;
  for (const auto& [name, info] : f.tensors()) {
    lora |= name.find("lora") != std::string::npos;
    diffusers_unet |= has_prefix(name, "down_blocks.") || has_prefix(name, "text_model.");
    vae |= has_prefix(name, "encoder.down.") || has_prefix(name, "decoder.up.");
    sd2 |= has_prefix(name, "cond_stage_model.model.");
    refiner |= has_prefix(name, "conditioner.embedders.0.model.");
  }
  if (sd2) return "an SD 2.x checkpoint (OpenCLIP ViT-H text encoder); websd reads SD 1.x and SDXL single files";
  if (refiner) return "an SDXL refiner (OpenCLIP text encoder only); websd reads SDXL base checkpoints";
  if (lora) return "a LoRA (tensor names with 'lora'), not a whole model";
  if (diffusers_unet) return "one component of a diffusers folder; pass the folder (with model_index.json) instead";
  if (vae) return "a VAE on its own, not a whole model";
  return "no original-layout SD 1.x / SDXL checkpoint (no 'model.diffusion_model.*', 'first_stage_model.*' and text "
         "encoder tensors)";
}

CheckpointFamily detect_family(const SafetensorsFile& f) {
  bool unet = false, vae = false, sd1_text = false, xl_text = false, sd2 = false;
  for (const auto& [name, info] : f.tensors()) {
    unet |= has_prefix(name, "model.diffusion_model.");
    vae |= has_prefix(name, "first_stage_model.");
    sd1_text |= has_prefix(name, "cond_stage_model.transformer.");
    xl_text |= has_prefix(name, "conditioner.embedders.1.model.");
    sd2 |= has_prefix(name, "cond_stage_model.model.");
  }
  if (!unet || !vae || sd2 || sd1_text == xl_text) throw Error(f.path() + ": " + guess_other(f));
  const bool label_emb = f.contains("model.diffusion_model.label_emb.0.0.weight");
  if (label_emb != xl_text)
    throw Error(f.path() + ": " +
                (xl_text ? "SDXL text encoders, but the UNet has no label_emb (SDXL's size conditioning)"
                         : "an SD 1.x text encoder, but the UNet has label_emb (SDXL's size conditioning)"));
  return xl_text ? CheckpointFamily::kSdxl : CheckpointFamily::kSd1;
}

}  // namespace

std::string standard_configs_dir() {
  const char* env = std::getenv("WEBSD_CONFIGS_DIR");
  return env && *env ? env : WEBSD_STANDARD_CONFIGS_DIR;
}

SingleFileCheckpoint SingleFileCheckpoint::open(const std::string& path) {
  single_file::refuse_pickle(path);
  SingleFileCheckpoint c;
  c.file_ = std::make_shared<SafetensorsFile>(path);
  c.family_ = detect_family(*c.file_);

  const std::vector<ComponentLayout> components = layout(c.family_);
  std::vector<StoredTensors> stored(components.size());
  for (const auto& [name, info] : c.file_->tensors()) {
    bool claimed = false;
    for (size_t i = 0; i < components.size() && !claimed; ++i) {
      const std::string prefix = components[i].prefix;
      if ((claimed = has_prefix(name, prefix))) stored[i][name.substr(prefix.size())] = info.shape;
    }
    if (!claimed) c.ignored_.push_back(name);
  }
  for (size_t i = 0; i < components.size(); ++i) {
    DiffusersTensors tensors;
    try {
      tensors = components[i].map(stored[i]);
    } catch (const Error& e) {
      throw Error(path + ": " + components[i].name + " (" + components[i].prefix + "*): " + e.what());
    }
    for (auto& [name, recipe] : tensors) recipe.key = components[i].prefix + recipe.key;
    c.components_[components[i].name] = std::move(tensors);
    c.order_.push_back(components[i].name);
  }
  return c;
}

std::string SingleFileCheckpoint::family_name() const { return family_ == CheckpointFamily::kSdxl ? "SDXL" : "SD 1.x"; }

std::string SingleFileCheckpoint::standard_configs_name() const {
  return family_ == CheckpointFamily::kSdxl ? "sdxl" : "sd15";
}

std::vector<std::string> SingleFileCheckpoint::components() const { return order_; }

const single_file::DiffusersTensors& SingleFileCheckpoint::tensors(const std::string& component) const {
  auto it = components_.find(component);
  if (it == components_.end())
    throw Error(path() + ": an " + family_name() + " checkpoint has no component '" + component + "'");
  return it->second;
}

Weights SingleFileCheckpoint::weights(const std::string& component, Backend& backend) const {
  return Weights::open_mapped(file_, tensors(component), path() + " (" + component + ")", backend);
}

nlohmann::json SingleFileCheckpoint::sized_config(const std::string& component, const nlohmann::json& standard,
                                                  const std::string& standard_file) const {
  const std::string where = path() + " (" + component + ")";
  try {
    if (component == "vae") return single_file::sized_config(standard, single_file::vae_sizes(tensors(component)));
    if (component != "unet")
      return single_file::sized_clip_config(standard, single_file::clip_sizes(tensors(component)), where);
    nlohmann::json c = single_file::sized_unet_config(standard, single_file::unet_sizes(tensors(component)), where);
    // SDXL's added conditioning is the pooled text embedding beside one sinusoidal embedding per
    // size/crop id (6 of them); their width is what the projection's input leaves for them.
    if (c.contains("addition_embed_type") && c["addition_embed_type"] == "text_time") {
      const int pooled = static_cast<int>(tensors("text_encoder_2").at("text_projection.weight").shape[0]);
      const int ids = c["projection_class_embeddings_input_dim"].get<int>() - pooled;
      if (ids <= 0 || ids % 6)
        throw Error("label_emb takes " + c["projection_class_embeddings_input_dim"].dump() + " features, which is not " +
                    std::to_string(pooled) + " pooled features + 6 size/crop embeddings");
      c["addition_time_embed_dim"] = ids / 6;
    }
    return c;
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.compare(0, where.size(), where) == 0) throw;
    throw Error(where + ": " + what + " (reading sizes over " + standard_file + ")");
  } catch (const std::out_of_range&) {
    throw Error(where + ": the OpenCLIP text encoder has no text_projection, which SDXL's pooled embedding needs");
  }
}

}  // namespace websd
