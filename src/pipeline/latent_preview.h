#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace websd {

// A live preview of a generation in progress: each latent pixel's channels mapped linearly to a
// colour, the picture a step can afford (a VAE decode costs as much as several UNet steps). The
// map is fitted to the model's own VAE — least squares from latents to their decoded picture
// averaged over each latent pixel's block (TextToImagePipeline::latent_preview says which latents)
// — so every VAE, the tiny test models' included, gets its own, with no table of models to keep.
struct LatentPreview {
  int64_t channels = 0;
  std::vector<float> map;  // per colour: `channels` weights, then a bias
};

// The map from latents [1, channels, h, w] (as the scheduler holds them) to their decoded picture
// [h·factor, w·factor, 3] in [0, 1] (the pipeline's decode_latents); nothing where they do not
// determine it (fewer latent pixels than the map has unknowns, or latents all alike).
std::optional<LatentPreview> fit_latent_preview(const HostTensor& latents, const HostTensor& picture);

// The first image of latents [N, channels, h, w] → [h, w, 3] in [0, 1].
HostTensor latent_preview_image(const LatentPreview& preview, const HostTensor& latents);

}  // namespace websd
