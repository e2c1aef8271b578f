#pragma once
#include <map>
#include <string>

#include "io/tensor_recipe.h"

namespace websd::single_file {

// One component's tensors as a single-file checkpoint stores them: names relative to the
// component's prefix (e.g. "input_blocks.1.0.in_layers.0.weight" under "model.diffusion_model.").
using StoredTensors = std::map<std::string, Shape>;
// The same component named as in diffusers, each tensor with the recipe that makes it from the
// stored one (recipe keys are the relative stored names).
using DiffusersTensors = std::map<std::string, TensorRecipe>;

// The original (LDM / CompVis and Stability "generative-models") names → diffusers', the mapping
// of diffusers' convert_original_stable_diffusion_to_diffusers.py and single_file_utils.py. Block
// indices are derived from the tensors present rather than fixed tables, so any number of levels
// and resnets per level maps. A stored name the mapping does not know is an error naming it.

// UNetModel (openaimodel.py): time_embed, label_emb (SDXL), input_blocks, middle_block,
// output_blocks, out.
DiffusersTensors map_unet(const StoredTensors& stored);
// AutoencoderKL (ldm's Encoder/Decoder): down/up levels, mid block_1/attn_1/block_2, the attention's
// 1×1 convolutions as linears.
DiffusersTensors map_vae(const StoredTensors& stored);
// transformers' CLIPTextModel, already named as transformers names it (SD 1.x's
// cond_stage_model.transformer, SDXL's conditioner.embedders.0.transformer).
DiffusersTensors map_clip(const StoredTensors& stored);
// OpenCLIP's text tower (SDXL's conditioner.embedders.1.model) → CLIPTextModelWithProjection: the
// fused attention in_proj split into q/k/v, text_projection transposed, resblocks → layers.
DiffusersTensors map_open_clip(const StoredTensors& stored);

}  // namespace websd::single_file
