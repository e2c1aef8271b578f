#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/single_file/ldm_names.h"
#include "models/weights.h"

namespace websd {

// The model families a single-file checkpoint can hold, told apart by its tensor names.
enum class CheckpointFamily {
  kSd1,   // model.diffusion_model, first_stage_model, cond_stage_model.transformer (CLIP ViT-L)
  kSdxl,  // ... and conditioner.embedders.0.transformer (CLIP ViT-L) + .1.model (OpenCLIP ViT-bigG)
};

// One checkpoint in the original (LDM) layout, all components in one .safetensors file as
// Stability and the CompVis code save them and most shared models come. It is read in place: each
// component is a Weights view named as diffusers names it, each tensor made from the stored one on
// load (models/single_file/ldm_names), so the models load exactly as from a diffusers folder.
class SingleFileCheckpoint {
 public:
  // Refuses pickle files (single_file/pickle_guard.h), SD 2.x, SDXL refiners and files that are no
  // original-layout SD 1.x / SDXL checkpoint, each with one error that says which and why.
  static SingleFileCheckpoint open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  CheckpointFamily family() const { return family_; }
  std::string family_name() const;  // "SD 1.x" / "SDXL"
  // The folder name of the family's standard configs under assets/configs: "sd15" / "sdxl".
  std::string standard_configs_name() const;

  // The components in the file ("unet", "vae", "text_encoder"[, "text_encoder_2"]) and each one's
  // tensors: diffusers names → recipes over the stored (full) names.
  std::vector<std::string> components() const;
  const single_file::DiffusersTensors& tensors(const std::string& component) const;
  const SafetensorsFile& file() const { return *file_; }
  // Stored tensors that belong to no component: the training schedule's buffers (betas,
  // alphas_cumprod, ...), EMA copies of the UNet, and the like. diffusers ignores them too.
  const std::vector<std::string>& ignored() const { return ignored_; }

  Weights weights(const std::string& component, Backend& backend) const;
  // The component's standard config.json with the sizes its weights show
  // (single_file/config_sizes.h); `standard_file` names it in errors.
  nlohmann::json sized_config(const std::string& component, const nlohmann::json& standard,
                              const std::string& standard_file) const;

 private:
  std::shared_ptr<SafetensorsFile> file_;
  CheckpointFamily family_ = CheckpointFamily::kSd1;
  std::map<std::string, single_file::DiffusersTensors> components_;
  std::vector<std::string> order_;
  std::vector<std::string> ignored_;
};

// Where the standard configs live: $WEBSD_CONFIGS_DIR if set, else the source tree's assets/configs.
std::string standard_configs_dir();

}  // namespace websd
