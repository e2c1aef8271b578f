#include "pipeline/vae_tiling.h"

#include <algorithm>
#include <vector>

#include "backend/shape_only_backend.h"
#include "core/error.h"
#include "models/weights.h"

namespace websd {
namespace {

constexpr int kTileStep = 8;  // a budget's tiles are multiples of this many latents

// The decode's peak on a dry-run VAE (built once per question, no values).
class DryRun {
 public:
  explicit DryRun(const AutoencoderKLConfig& config)
      : vae_(AutoencoderKL::build(config, Weights::random(shapes_, 0))) {}

  int64_t peak(const Shape& latents) {
    shapes_.reset_peak();
    const int64_t before = shapes_.stats().live_bytes;
    vae_.decode(shapes_.upload(latents, {}));
    return shapes_.stats().peak_bytes - before;
  }

 private:
  ShapeOnlyBackend shapes_;
  AutoencoderKL vae_;
};

Shape tile_shape(const Shape& latents, int tile) {
  return {latents[0], latents[1], std::min<int64_t>(latents[2], tile), std::min<int64_t>(latents[3], tile)};
}

std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// rows × cols values from (sr, sc) of every image and channel of src to (dr, dc) of dst's.
void copy_block(const HostTensor& src, int64_t sr, int64_t sc, HostTensor& dst, int64_t dr, int64_t dc, int64_t rows,
                int64_t cols) {
  const int64_t planes = src.shape[0] * src.shape[1];
  const int64_t sh = src.shape[2], sw = src.shape[3], dh = dst.shape[2], dw = dst.shape[3];
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < rows; ++r) {
      const auto from = src.data.begin() + (p * sh + sr + r) * sw + sc;
      std::copy(from, from + cols, dst.data.begin() + (p * dh + dr + r) * dw + dc);
    }
}

// diffusers' blend_v / blend_h: the first `extent` rows (columns) of b fade in from the last ones
// of a, weight i / extent for b's own. b is changed in place, as diffusers changes it.
void blend(const HostTensor& a, HostTensor& b, int64_t extent, bool vertical) {
  const int64_t planes = b.shape[0] * b.shape[1];
  const int64_t ah = a.shape[2], aw = a.shape[3], bh = b.shape[2], bw = b.shape[3];
  extent = std::min({vertical ? ah : aw, vertical ? bh : bw, extent});
  for (int64_t i = 0; i < extent; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(extent);
    const float keep = static_cast<float>(1.0 - t), take = static_cast<float>(t);
    for (int64_t p = 0; p < planes; ++p) {
      const float* pa = a.data.data() + p * ah * aw;
      float* pb = b.data.data() + p * bh * bw;
      if (vertical) {
        for (int64_t c = 0; c < bw; ++c)
          pb[i * bw + c] = pa[(ah - extent + i) * aw + c] * keep + pb[i * bw + c] * take;
      } else {
        for (int64_t r = 0; r < bh; ++r)
          pb[r * bw + i] = pa[r * aw + aw - extent + i] * keep + pb[r * bw + i] * take;
      }
    }
  }
}

}  // namespace

int64_t vae_decode_peak_bytes(const AutoencoderKLConfig& config, const Shape& latents) {
  return DryRun(config).peak(latents);
}

int vae_tile_size(const AutoencoderKLConfig& config, const Shape& latents, const VaeDecodeOptions& o) {
  if (latents.size() != 4) throw Error("VAE decode: latents must be [N, C, H, W], got " + shape_str(latents));
  if (o.tile_size < 0) throw Error("VAE tile size must be positive (got " + std::to_string(o.tile_size) + ")");
  if (o.tile_size % 4)
    throw Error("VAE tile size must be a multiple of 4 latents, so that tiles overlap by a whole quarter (got " +
                std::to_string(o.tile_size) + ")");
  if (o.memory_budget < 0) throw Error("VAE memory budget must not be negative");
  const int64_t side = std::max(latents[2], latents[3]);
  int tile = o.tile_size ? o.tile_size : o.tiling ? config.sample_size / config.downscale_factor() / 4 * 4 : 0;
  if (o.tiling && !o.tile_size && tile == 0)
    throw Error("VAE: sample_size " + std::to_string(config.sample_size) + " gives no tile; pass a tile size");
  if (tile >= side) tile = 0;  // one tile covers the latents: decode whole, as diffusers does
  if (!o.memory_budget) return tile;

  DryRun dry(config);
  if (dry.peak(tile ? tile_shape(latents, tile) : latents) <= o.memory_budget) return tile;
  for (int t = static_cast<int>(std::min<int64_t>(tile ? tile : side, side) - 1) / kTileStep * kTileStep; t >= kTileStep;
       t -= kTileStep)
    if (dry.peak(tile_shape(latents, t)) <= o.memory_budget) return t;
  throw Error("VAE decode: even tiles of " + std::to_string(kTileStep) + "×" + std::to_string(kTileStep) +
              " latents need " + mib(dry.peak(tile_shape(latents, kTileStep))) + " of intermediate tensors, over the " +
              mib(o.memory_budget) + " memory budget; raise the budget");
}

HostTensor vae_decode(Backend& backend, const AutoencoderKL& vae, const HostTensor& latents, int tile) {
  const int64_t h = latents.shape[2], w = latents.shape[3];
  if (tile <= 0 || (tile >= h && tile >= w)) return backend.to_host(vae.decode(backend.upload(latents)));

  const int64_t f = vae.downscale_factor();
  const int64_t stride = tile - tile / 4, extent = int64_t{tile} * f / 4, limit = int64_t{tile} * f - extent;
  std::vector<std::vector<HostTensor>> rows;
  Shape last;
  for (int64_t i = 0; i < h; i += stride) {
    rows.emplace_back();
    for (int64_t j = 0; j < w; j += stride) {
      HostTensor part({latents.shape[0], latents.shape[1], std::min<int64_t>(tile, h - i), std::min<int64_t>(tile, w - j)});
      copy_block(latents, i, j, part, 0, 0, part.shape[2], part.shape[3]);
      if (!last.empty() && part.shape != last) backend.trim();  // no pooled buffers of the old size linger
      last = part.shape;
      rows.back().push_back(backend.to_host(vae.decode(backend.upload(part))));
    }
  }
  // Each tile blends with the one above and the one to its left, both blended already, and keeps
  // its first `limit` rows and columns.
  const Shape& first = rows[0][0].shape;
  int64_t height = 0, width = 0;
  for (const auto& row : rows) height += std::min(limit, row[0].shape[2]);
  for (const HostTensor& t : rows[0]) width += std::min(limit, t.shape[3]);
  HostTensor out({first[0], first[1], height, width});
  int64_t top = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    int64_t left = 0;
    for (size_t c = 0; c < rows[r].size(); ++c) {
      HostTensor& t = rows[r][c];
      if (r > 0) blend(rows[r - 1][c], t, extent, true);
      if (c > 0) blend(rows[r][c - 1], t, extent, false);
      const int64_t kept_w = std::min(limit, t.shape[3]);
      copy_block(t, 0, 0, out, top, left, std::min(limit, t.shape[2]), kept_w);
      left += kept_w;
    }
    top += std::min(limit, rows[r][0].shape[2]);
  }
  return out;
}

}  // namespace websd
