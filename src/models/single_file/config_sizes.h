#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "models/single_file/ldm_names.h"

namespace websd::single_file {

// What a component's weights (named as in diffusers) say about its config.json: every field that
// sets a tensor shape or decides whether a tensor exists. The rest leaves no trace in the weights
// (attention head counts, norm groups and epsilons, the VAE's scaling factor, the sample size) and
// comes from the family's standard config. A tensor the reading needs and does not find is an
// error naming it.
nlohmann::json unet_sizes(const DiffusersTensors& tensors);
nlohmann::json vae_sizes(const DiffusersTensors& tensors);
nlohmann::json clip_sizes(const DiffusersTensors& tensors);

// The standard config with the sizes written over it. Attention heads follow the standard
// config's own rule: a fixed head count (SD 1.x's attention_head_dim 8) stays as it is; a fixed
// head width (SDXL's UNet and every CLIP: 64 channels per head) gives the count for the new width,
// and a width that is no multiple of it is an error (the weights cannot tell the count then).
// `where` names the component in errors.
nlohmann::json sized_unet_config(nlohmann::json standard, const nlohmann::json& sizes, const std::string& where);
nlohmann::json sized_clip_config(nlohmann::json standard, const nlohmann::json& sizes, const std::string& where);
// The VAE has no heads: the sizes simply replace the standard values.
nlohmann::json sized_config(nlohmann::json standard, const nlohmann::json& sizes);

}  // namespace websd::single_file
