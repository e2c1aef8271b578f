// Single-file checkpoints through the whole pipeline: the same pictures as their diffusers
// folders, the standard configs, and the errors that say why a file cannot be used.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>

#include "backend/cpu/cpu_backend.h"
#include "io/config.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet_config.h"
#include "pipeline/model_info.h"
#include "pipeline/model_source.h"
#include "pipeline/text_to_image.h"
#include "sched/scheduler.h"
#include "support/fixtures.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd {
namespace {

struct Family {
  const char* single_file;
  const char* folder;
};

class SingleFilePipeline : public ::testing::TestWithParam<Family> {};

// The tiny models' attention heads are not the standard ones, so the folder lends its configs
// (--config); the weights come from the single file only.
TEST_P(SingleFilePipeline, DrawsTheFoldersPictureBitForBit) {
  const std::string folder = test::fixture(GetParam().folder);
  CpuBackend backend;
  TextToImagePipeline from_folder = TextToImagePipeline::load(folder, backend);
  TextToImagePipeline from_file =
      TextToImagePipeline::load(test::fixture(GetParam().single_file), backend, std::nullopt, folder);
  GenerateParams p;
  p.prompt = "a red house by a lake";
  p.negative_prompt = "blurry";
  p.steps = 4;
  p.seed = 7;
  const GenerateResult want = from_folder.generate(p), got = from_file.generate(p);
  EXPECT_EQ(got.prompt_embeds.data, want.prompt_embeds.data);
  EXPECT_EQ(got.latents.data, want.latents.data);
  ASSERT_EQ(got.image.shape, want.image.shape);
  EXPECT_EQ(got.image.data, want.image.data);
  EXPECT_EQ(from_file.family(), from_folder.family());
}

INSTANTIATE_TEST_SUITE_P(Tiny, SingleFilePipeline,
                         ::testing::Values(Family{"tiny-sd15/tiny-sd15-single.safetensors", "tiny-sd15/model"},
                                           Family{"tiny-sdxl/tiny-sdxl-single.safetensors", "tiny-sdxl/model"}));

void expect_error_naming(const std::function<void()>& f, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// Without --config the standard SD 1.5 configs are sized to the weights; the tiny text encoder's
// width is no multiple of CLIP's 64-channel heads, which the error explains.
TEST(SingleFileSource, StandardConfigsNeedHeadsTheWeightsCanTell) {
  CpuBackend backend;
  expect_error_naming([&] { TextToImagePipeline::load(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"), backend); },
                      {"tiny-sd15-single.safetensors (text_encoder)", "32 channels", "--config"});
}

TEST(SingleFileSource, StandardConfigsAreSizedToTheWeights) {
  const ModelSource s = ModelSource::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"));
  EXPECT_TRUE(s.standard_configs());
  EXPECT_EQ(s.index().dir, test::asset("configs/sd15"));
  const UNetConfig unet = UNetConfig::parse(s.config("unet"));
  EXPECT_EQ(unet.block_out_channels, (std::vector<int>{32, 64, 64, 64}));
  EXPECT_EQ(unet.cross_attention_dim[0], 32);
  EXPECT_EQ(unet.attention_heads[0], 8);  // SD 1.x's fixed head count
  EXPECT_EQ(unet.sample_height, 64);      // not in the weights: SD 1.5's
  const AutoencoderKLConfig vae = AutoencoderKLConfig::parse(s.config("vae"));
  EXPECT_EQ(vae.block_out_channels, (std::vector<int>{32, 64, 64, 64}));
  EXPECT_FLOAT_EQ(vae.scaling_factor, 0.18215f);
}

TEST(SingleFileSource, StandardConfigsFolderFromTheEnvironment) {
  ::setenv("WEBSD_CONFIGS_DIR", "/nonexistent/configs", 1);
  expect_error_naming([] { ModelSource::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors")); },
                      {"standard SD 1.x configs are not at /nonexistent/configs/sd15", "WEBSD_CONFIGS_DIR", "--config"});
  ::setenv("WEBSD_CONFIGS_DIR", test::asset("configs").c_str(), 1);
  EXPECT_EQ(ModelSource::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors")).index().dir,
            test::asset("configs") + "/sd15");
  ::unsetenv("WEBSD_CONFIGS_DIR");
}

TEST(SingleFileSource, ConfigFolderMustBeOfTheSameFamily) {
  expect_error_naming(
      [] { ModelSource::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"), test::fixture("tiny-sdxl/model")); },
      {"tiny-sd15-single.safetensors", "an SD 1.x checkpoint", "StableDiffusionXLPipeline"});
  expect_error_naming([] { ModelSource::open(test::fixture("tiny-sd15/model"), test::fixture("tiny-sd15/model")); },
                      {"a model folder has its own configs"});
  expect_error_naming([] { ModelSource::open("/nonexistent/model.safetensors"); },
                      {"/nonexistent/model.safetensors", "checkpoint file not found"});
  expect_error_naming([] { ModelSource::open("/nonexistent/model"); }, {"/nonexistent/model", "model folder not found"});
}

// assets/configs/sdxl is SDXL base 1.0's folder without weights: every config is one websd runs,
// and the tokenizers are SDXL's (the second pads with "!").
TEST(StandardConfigs, SdxlBaseLoads) {
  const std::string dir = test::asset("configs/sdxl");
  const ModelIndex index = ModelIndex::load(dir);
  EXPECT_EQ(index.family, PipelineFamily::kStableDiffusionXL);
  EXPECT_TRUE(index.force_zeros_for_empty_prompt);
  const UNetConfig unet = UNetConfig::load(dir + "/unet/config.json");
  EXPECT_TRUE(unet.text_time);
  EXPECT_EQ(unet.attention_heads, (std::vector<int>{5, 10, 20}));
  EXPECT_EQ(unet.down_transformer_layers[2], (std::vector<int>{10, 10}));
  EXPECT_EQ(unet.addition_time_embed_dim, 256);
  EXPECT_FLOAT_EQ(AutoencoderKLConfig::load(dir + "/vae/config.json").scaling_factor, 0.13025f);
  EXPECT_FALSE(ClipTextConfig::load(dir + "/text_encoder/config.json").with_projection);
  const ClipTextConfig bigg = ClipTextConfig::load(dir + "/text_encoder_2/config.json");
  EXPECT_TRUE(bigg.with_projection);
  EXPECT_EQ(bigg.num_hidden_layers, 32);
  EXPECT_NE(load_scheduler(dir + "/scheduler/scheduler_config.json"), nullptr);
  for (const char* tokenizer : {"tokenizer", "tokenizer_2"}) {
    const ClipTokenizer standard = ClipTokenizer::from_folder(dir + "/" + tokenizer);
    const ClipTokenizer fixture = ClipTokenizer::from_folder(test::fixture(std::string("tiny-sdxl/model/") + tokenizer));
    for (const char* prompt : {"a photo of an astronaut riding a horse!", "", "<|endoftext|> x"})
      EXPECT_EQ(standard.encode(prompt), fixture.encode(prompt)) << tokenizer << ": " << prompt;
  }
}

// An SDXL file's sizes over SDXL base's configs, the time embedding width among them.
TEST(StandardConfigs, SdxlSingleFileIsSized) {
  const ModelSource xl = ModelSource::open(test::fixture("tiny-sdxl/tiny-sdxl-single.safetensors"));
  EXPECT_EQ(xl.index().dir, test::asset("configs/sdxl"));
  const UNetConfig unet = UNetConfig::parse(xl.config("unet"));
  EXPECT_EQ(unet.addition_time_embed_dim, 8);
  EXPECT_EQ(unet.cross_attention_dim[1], 96);
}

TEST(ModelInfo, DescribesSingleFilesAndFolders) {
  const std::string single = describe_model(test::fixture("tiny-sdxl/tiny-sdxl-single.safetensors"));
  for (const char* part : {"single file (original layout): ", "SDXL (StableDiffusionXLPipeline)",
                           "configs/sdxl (the standard ones, sized to the weights)", "text_encoder_2",
                           "CLIPTextModelWithProjection", "float16", "EulerDiscreteScheduler"})
    EXPECT_NE(single.find(part), std::string::npos) << part << "\n" << single;
  const std::string folder = describe_model(test::fixture("tiny-sdxl/model"));
  EXPECT_NE(folder.find("diffusers folder"), std::string::npos) << folder;
  // A folder without weights is described too, and says what is missing.
  const std::string configs = describe_model(test::asset("configs/sdxl"));
  EXPECT_NE(configs.find("CLIPTextModelWithProjection        none\n"), std::string::npos) << configs;
  EXPECT_NE(configs.find("note: " + test::asset("configs/sdxl") + "/unet: no model.safetensors"), std::string::npos)
      << configs;
  // The same weights: the same parameter total.
  const auto total = [](const std::string& s) { return s.substr(s.find("\ntotal")); };
  EXPECT_EQ(total(single).substr(0, total(single).find('\n', 1)), total(folder).substr(0, total(folder).find('\n', 1)));
}

}  // namespace
}  // namespace websd
