#include "pipeline/vae_tiling.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "pipeline/text_to_image.h"
#include "rng/torch_generator.h"
#include "support/expect_error.h"
#include "support/fixtures.h"

namespace websd {
namespace {

// tiny-shapes' VAE is trained: its pictures are smooth, so a seam would show.
class VaeTiling : public ::testing::Test {
 protected:
  CpuBackend cpu;
  AutoencoderKL vae = AutoencoderKL::load(test::asset("tiny-shapes/model/vae"), cpu);

  HostTensor decode_whole(const HostTensor& latents) { return cpu.to_host(vae.decode(cpu.upload(latents))); }
  // Latents [1, C, h, w] at (i, j), as a tile.
  HostTensor decode_part(const HostTensor& z, int64_t i, int64_t j, int64_t h, int64_t w) {
    HostTensor part({1, z.shape[1], h, w});
    for (int64_t c = 0; c < z.shape[1]; ++c)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t k = 0; k < w; ++k)
          part.data[static_cast<size_t>((c * h + r) * w + k)] =
              z.data[static_cast<size_t>((c * z.shape[2] + i + r) * z.shape[3] + j + k)];
    return decode_whole(part);
  }
};

float at(const HostTensor& x, int64_t c, int64_t r, int64_t k) {
  return x.data[static_cast<size_t>((c * x.shape[2] + r) * x.shape[3] + k)];
}

TEST_F(VaeTiling, OneTileCoveringTheLatentsDecodesWhole) {
  const HostTensor z = TorchGenerator(1).randn({1, 4, 16, 12});
  const HostTensor whole = decode_whole(z);
  EXPECT_EQ(vae_decode(cpu, vae, z, 0).data, whole.data);
  EXPECT_EQ(vae_decode(cpu, vae, z, 16).data, whole.data);
}

// diffusers' tiled_decode, checked where it is simple to state: tiles of 8 latents start every 6
// (a quarter overlap), each decodes to 64 pixels of which the first 48 are kept, and the first 16
// rows and columns of a tile fade in from its neighbours' last 16: weight x / 16 for its own.
TEST_F(VaeTiling, TilesBlendAsDiffusersDoes) {
  const HostTensor z = TorchGenerator(2).randn({1, 4, 20, 20});
  const HostTensor out = vae_decode(cpu, vae, z, 8);
  ASSERT_EQ(out.shape, (Shape{1, 3, 160, 160}));  // crops 48 + 48 + 48 + 16 (the last tile is 2 latents)
  const HostTensor t00 = decode_part(z, 0, 0, 8, 8), t01 = decode_part(z, 0, 6, 8, 8), t11 = decode_part(z, 6, 6, 8, 8);
  double first = 0, ramp = 0, inner = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t r = 0; r < 48; ++r)
      for (int64_t k = 0; k < 48; ++k) {
        first = std::max(first, test::abs_error(at(out, c, r, k), at(t00, c, r, k)));
        if (r >= 16 && k >= 16) inner = std::max(inner, test::abs_error(at(out, c, 48 + r, 48 + k), at(t11, c, r, k)));
        if (k < 16 && r >= 16) {  // below the top blend, tile (0, 1) has only its left neighbour
          const float t = static_cast<float>(k) / 16.0f;
          const float want = at(t00, c, r, 48 + k) * (1.0f - t) + at(t01, c, r, k) * t;
          ramp = std::max(ramp, test::abs_error(at(out, c, r, 48 + k), want));
        }
      }
  EXPECT_EQ(first, 0.0) << "the first tile's kept part is its own decode";
  EXPECT_EQ(inner, 0.0) << "past the blends a tile is its own decode";
  EXPECT_LE(ramp, 1e-6) << "the left blend";
}

// A smooth picture through the trained VAE: tiled, it stays close to the whole decode, and the
// columns and rows where tiles meet change no faster than elsewhere in the picture.
// Mean |x[k] - x[k - 1]| over a picture's rows (columns: false) or columns, between lines k - 1 and k.
double step(const HostTensor& x, int64_t k, bool vertical_line) {
  const int64_t channels = x.shape[1], n = vertical_line ? x.shape[2] : x.shape[3];
  double sum = 0;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t r = 0; r < n; ++r)
      sum += std::abs(vertical_line ? at(x, c, r, k) - at(x, c, r, k - 1) : at(x, c, k, r) - at(x, c, k - 1, r));
  return sum / static_cast<double>(channels * n);
}

// A picture the trained model draws, decoded in tiles of 8 latents (half its training size).
// Tiles see only their part of the latents, so the tiled picture is not the whole one: this tiny
// VAE (one channel per group norm group at its widest level) draws tiles of half its training size
// darker and noisier, as diffusers' tiling would. What tiling must not add is a seam: a line where
// the picture jumps more than it changes elsewhere. Without the blends there is one: the control.
TEST_F(VaeTiling, NoVisibleSeamOnAPictureOfTheTrainedModel) {
  TextToImagePipeline pipe = TextToImagePipeline::load(test::asset("tiny-shapes/model"), cpu);
  GenerateParams p;
  p.prompt = "a red circle on a white background";
  p.steps = 20;
  HostTensor z = pipe.generate(p).latents;
  for (float& v : z.data) v /= vae.scaling_factor();
  ASSERT_EQ(z.shape, (Shape{1, 4, 16, 16}));
  const HostTensor whole = decode_whole(z), tiled = vae_decode(cpu, vae, z, 8);
  const HostTensor t00 = decode_part(z, 0, 0, 8, 8), t01 = decode_part(z, 0, 6, 8, 8);
  for (bool vertical_line : {true, false}) {
    double typical = 0;
    for (int64_t k = 1; k < 128; ++k) typical += step(tiled, k, vertical_line) / 127;
    // Where tiles start (48, 96) and where their blends end (64, 112).
    for (int64_t seam : {48, 64, 96, 112})
      EXPECT_LE(step(tiled, seam, vertical_line), 2 * typical) << (vertical_line ? "column " : "row ") << seam;
  }
  // The control: two neighbouring tiles butted together with no blend, the first tile's column 47 against
  // the second's column 0 (over the first 48 rows, which only these two tiles cover).
  double butt = 0, typical = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t r = 0; r < 48; ++r) {
      butt += std::abs(at(t01, c, r, 0) - at(t00, c, r, 47)) / (3 * 48);
      for (int64_t k = 1; k < 48; ++k) typical += std::abs(at(t00, c, r, k) - at(t00, c, r, k - 1)) / (3 * 48 * 47);
    }
  EXPECT_GT(butt, 2 * typical) << "the metric sees a seam where there is one";
}

TEST_F(VaeTiling, DryRunPeakIsTheCpuBackendsPeak) {
  const HostTensor z = TorchGenerator(3).randn({1, 4, 12, 16});
  const Tensor input = cpu.upload(z);
  cpu.reset_peak();
  const int64_t before = cpu.live_bytes();
  { const Tensor out = vae.decode(input); }
  const int64_t measured = cpu.peak_bytes() - before;
  EXPECT_EQ(vae_decode_peak_bytes(vae.config(), z.shape), measured + z.data.size() * 4)
      << "the dry run counts its own upload of the latents";
}

// SD 1.5's decode at 512² holds no activation twice (each handed on as its last use, normalised
// in place): its peak is the last upsampler's input upsampled and that conv's output, 256 channels
// at 512² each — or as much, the first 512² resnet's input normalised in place with its shortcut's
// and conv1's outputs of 128 channels — beside the latents and post_quant_conv's output. Before,
// both held a third tensor.
TEST(VaeDecodePeak, Sd15At512HoldsNoActivationTwice) {
  const AutoencoderKLConfig c = AutoencoderKLConfig::load(test::asset("configs/sd15/vae/config.json"));
  const int64_t plane = int64_t{512} * 512 * 4, latents = 4 * 64 * 64 * 4;
  EXPECT_EQ(vae_decode_peak_bytes(c, {1, 4, 64, 64}), 2 * 256 * plane + 2 * latents);
}

TEST_F(VaeTiling, BudgetPicksTheLargestTileThatFits) {
  const AutoencoderKLConfig& c = vae.config();
  const Shape z = {1, 4, 40, 40};
  const int64_t whole = vae_decode_peak_bytes(c, z), p8 = vae_decode_peak_bytes(c, {1, 4, 8, 8}),
                p16 = vae_decode_peak_bytes(c, {1, 4, 16, 16}), p24 = vae_decode_peak_bytes(c, {1, 4, 24, 24});
  EXPECT_LT(p8, p16);
  EXPECT_LT(p16, p24);
  EXPECT_LT(p24, whole);
  EXPECT_EQ(vae_tile_size(c, z, {}), 0);
  EXPECT_EQ(vae_tile_size(c, z, {.memory_budget = whole}), 0) << "whole fits";
  EXPECT_EQ(vae_tile_size(c, z, {.memory_budget = p24 - 1}), 16);
  EXPECT_EQ(vae_tile_size(c, z, {.memory_budget = p16}), 16);
  EXPECT_EQ(vae_tile_size(c, z, {.tiling = true}), 16) << "sample_size 128 / 8";
  EXPECT_EQ(vae_tile_size(c, z, {.tile_size = 12}), 12);
  EXPECT_EQ(vae_tile_size(c, z, {.tile_size = 32, .memory_budget = p16}), 16) << "the budget caps a tile";
  EXPECT_EQ(vae_tile_size(c, z, {.tile_size = 40}), 0) << "one tile covers the latents";
  test::expect_error_naming([&] { vae_tile_size(c, z, {.memory_budget = p8 - 1}); },
                            {"8×8 latents", "memory budget", "raise the budget"});
  test::expect_error_naming([&] { vae_tile_size(c, z, {.tile_size = 10}); }, {"multiple of 4", "10"});
  test::expect_error_naming([&] { vae_tile_size(c, z, {.tile_size = -4}); }, {"positive"});
}

TEST_F(VaeTiling, GenerateDecodesInTheTilesItIsAsked) {
  TextToImagePipeline pipe = TextToImagePipeline::load(test::asset("tiny-shapes/model"), cpu);
  GenerateParams p;
  p.prompt = "a red circle on a white background";
  p.steps = 2;
  p.width = p.height = 192;
  p.vae.tile_size = 16;
  const GenerateResult r = pipe.generate(p);
  const HostTensor want = decode_latents(cpu, vae, r.latents, 16);
  EXPECT_EQ(r.image.data, want.data);
  EXPECT_NE(r.image.data, decode_latents(cpu, vae, r.latents).data);
  p.vae.tile_size = 6;
  test::expect_error_naming([&] { pipe.generate(p); }, {"multiple of 4"});
}

}  // namespace
}  // namespace websd
