// The live preview's fitted map against what it stands for: on a generation's final latents (not
// the random ones it was fitted on), the preview must be nearer the decoded picture, averaged over
// each latent pixel's block, than the picture's mean colour is.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "pipeline/latent_preview.h"
#include "pipeline/text_to_image.h"
#include "rng/torch_generator.h"
#include "support/fixtures.h"

namespace websd {
namespace {

// Root mean square difference of `preview` from the block means of `image`, and of the mean colour.
std::pair<double, double> errors(const HostTensor& preview, const HostTensor& image, int64_t factor) {
  const int64_t h = preview.shape[0], w = preview.shape[1], W = image.shape[1];
  std::vector<double> blocks(static_cast<size_t>(h * w * 3), 0.0);
  double mean[3] = {0, 0, 0};
  for (int64_t y = 0; y < h * factor; ++y)
    for (int64_t x = 0; x < w * factor; ++x)
      for (int c = 0; c < 3; ++c) {
        const double v = image.data[static_cast<size_t>((y * W + x) * 3 + c)];
        blocks[static_cast<size_t>(((y / factor) * w + x / factor) * 3 + c)] += v / static_cast<double>(factor * factor);
        mean[c] += v / static_cast<double>(h * w * factor * factor);
      }
  double to_preview = 0, to_mean = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    to_preview += std::pow(preview.data[i] - blocks[i], 2) / static_cast<double>(blocks.size());
    to_mean += std::pow(mean[i % 3] - blocks[i], 2) / static_cast<double>(blocks.size());
  }
  return {std::sqrt(to_preview), std::sqrt(to_mean)};
}

// The first map comes from random latents; after a generation, the map is that generation's least
// squares fit, so on its final latents the preview is at least as near the picture as the
// picture's mean colour (the best map without weights), and the next generation uses it.
TEST(LatentPreview, LearnsFromEachGeneration) {
  for (const std::string& model : {test::asset("tiny-shapes/model"), test::fixture("tiny-sd15/model")}) {
    CpuBackend backend;
    auto pipe = TextToImagePipeline::load(model, backend);
    const std::vector<float> first = pipe.latent_preview().map;
    EXPECT_EQ(pipe.latent_preview().channels, 4);
    EXPECT_EQ(first.size(), 15u);
    GenerateParams params;
    params.prompt = "a red circle on a white background";
    params.steps = 4;
    int previews = 0;
    const GenerateResult result = pipe.generate(params, [&](int, int, const HostTensor& latents) {
      const HostTensor image = latent_preview_image(pipe.latent_preview(), latents);
      EXPECT_EQ(image.shape, (Shape{latents.shape[2], latents.shape[3], 3}));
      for (float v : image.data) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
      ++previews;
    });
    EXPECT_GE(previews, 4);
    EXPECT_NE(pipe.latent_preview().map, first) << "refitted to the generation";
    const auto [to_preview, to_mean] =
        errors(latent_preview_image(pipe.latent_preview(), result.latents), result.image, pipe.vae_factor());
    EXPECT_LE(to_preview, to_mean * (1 + 1e-4)) << model;
  }
}

// A VAE whose pictures are one colour whatever the latents: no weight, that colour as the bias.
TEST(LatentPreview, FitsAConstantPictureByItsBias) {
  HostTensor picture({128, 128, 3});
  for (size_t i = 0; i < picture.data.size(); ++i) picture.data[i] = 0.25f * static_cast<float>(i % 3 + 1);
  const LatentPreview preview = fit_latent_preview(TorchGenerator(1).randn({1, 4, 16, 16}), picture).value();
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(preview.map[static_cast<size_t>(c * 5 + k)], 0.0f, 1e-5f);
    EXPECT_NEAR(preview.map[static_cast<size_t>(c * 5 + 4)], 0.25f * static_cast<float>(c + 1), 1e-5f);
  }
}

// 2×2 latents cannot determine 5 unknowns per colour, nor latents all alike: no map, and a
// generation that small keeps the map it had (and succeeds).
TEST(LatentPreview, KeepsItsMapWhereAPictureCannotDetermineOne) {
  EXPECT_FALSE(fit_latent_preview(TorchGenerator(1).randn({1, 4, 2, 2}), HostTensor({16, 16, 3})));
  EXPECT_FALSE(fit_latent_preview(HostTensor({1, 4, 16, 16}), HostTensor({128, 128, 3})));
  CpuBackend backend;
  auto pipe = TextToImagePipeline::load(test::asset("tiny-shapes/model"), backend);
  const std::vector<float> first = pipe.latent_preview().map;
  GenerateParams params;
  params.prompt = "a red circle on a white background";
  params.steps = 1;
  params.width = params.height = 16;
  EXPECT_EQ(pipe.generate(params).image.shape, (Shape{16, 16, 3}));
  EXPECT_EQ(pipe.latent_preview().map, first);
}

TEST(LatentPreview, RejectsLatentsOrPicturesOfTheWrongShape) {
  const LatentPreview preview{4, std::vector<float>(15, 0.0f)};
  EXPECT_THROW(latent_preview_image(preview, HostTensor({1, 16, 8, 8})), Error);
  EXPECT_THROW(fit_latent_preview(HostTensor({1, 4, 16, 16}), HostTensor({8, 8, 3})), Error);
  EXPECT_THROW(fit_latent_preview(HostTensor({1, 4, 16, 16}), HostTensor({128, 128})), Error);
}

}  // namespace
}  // namespace websd
