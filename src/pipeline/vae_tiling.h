#pragma once
#include <cstdint>

#include "backend/backend.h"
#include "models/autoencoder_kl.h"

namespace websd {

// How the VAE decodes: whole (diffusers' default, exact), or in overlapping tiles blended where
// they meet — diffusers' AutoencoderKL.tiled_decode after enable_tiling(), step for step — so that
// the decode's working set is a tile's rather than the picture's. Tiles see only their own part
// of the latents (the mid-block's attention and every group norm are per tile), so a tiled picture
// differs from the whole one; the 25 % overlap and linear blends hide the seams.
struct VaeDecodeOptions {
  bool tiling = false;        // tiles of the VAE's own size (its sample_size / factor latents), as enable_tiling()
  int tile_size = 0;          // latents per tile side; > 0 tiles at this size
  int64_t memory_budget = 0;  // bytes the decode's intermediate tensors may hold at once; 0: no limit
};

// The tile side, in latents, that the options call for when decoding `latents` ([N, C, h, w]);
// 0 decodes whole. A budget tiles a decode that would exceed it, and shrinks a tile that would,
// to the largest multiple of 8 that fits (throws naming the budget if even 8 does not).
int vae_tile_size(const AutoencoderKLConfig& config, const Shape& latents, const VaeDecodeOptions& options);

// The most bytes the decode of `latents` holds in intermediate float32 tensors at once, weights
// aside: a dry run of the decoder on a ShapeOnlyBackend. Backends add their own scratch.
int64_t vae_decode_peak_bytes(const AutoencoderKLConfig& config, const Shape& latents);

// vae.decode(latents) in tiles of `tile` latents (0, or a tile covering the latents: whole),
// each decoded on the backend and brought to the host, blended there as diffusers blends them.
// The backend's pooled memory is given back between tiles of different sizes.
HostTensor vae_decode(Backend& backend, const AutoencoderKL& vae, const HostTensor& latents, int tile);

}  // namespace websd
