// The SDXL side of TextToImagePipeline beyond the golden run: model_index.json, the added
// conditioning, guidance off, random weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "backend/cpu/cpu_backend.h"
#include "io/config.h"
#include "models/loader_test_util.h"
#include "pipeline/text_to_image.h"
#include "support/fixtures.h"

namespace websd {
namespace {

namespace fs = std::filesystem;

// A model folder whose components link to `source`'s (or to `replace`'s), with model_index.json
// edited by the test. Removed on destruction.
class TempModel {
 public:
  explicit TempModel(const std::string& source) : index(read_json_file(source + "/model_index.json")), source_(source) {
    std::string pattern = (fs::temp_directory_path() / "websd-pipeline-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~TempModel() { fs::remove_all(dir_); }
  TempModel(const TempModel&) = delete;
  TempModel& operator=(const TempModel&) = delete;

  nlohmann::json index;
  std::map<std::string, std::string> replace;  // component → another folder to link instead

  std::string write() const {
    for (const auto& entry : fs::directory_iterator(source_)) {
      const std::string name = entry.path().filename().string();
      if (name == "model_index.json") continue;
      const auto it = replace.find(name);
      fs::create_directory_symlink(fs::absolute(it == replace.end() ? entry.path() : fs::path(it->second)), dir_ / name);
    }
    std::ofstream(dir_ / "model_index.json") << index.dump(2);
    return dir_.string();
  }

 private:
  std::string source_;
  fs::path dir_;
};

const std::string kSdxl = test::fixture("tiny-sdxl/model");

TEST(SdxlModelIndex, ReadsTheFamilyAndForceZeros) {
  const ModelIndex m = ModelIndex::load(kSdxl);
  EXPECT_EQ(m.family, PipelineFamily::kStableDiffusionXL);
  EXPECT_TRUE(m.force_zeros_for_empty_prompt);
  EXPECT_EQ(ModelIndex::load(test::fixture("tiny-sd15/model")).family, PipelineFamily::kStableDiffusion);

  TempModel off(kSdxl);
  off.index["force_zeros_for_empty_prompt"] = false;
  EXPECT_FALSE(ModelIndex::load(off.write()).force_zeros_for_empty_prompt);
  TempModel absent(kSdxl);
  absent.index.erase("force_zeros_for_empty_prompt");  // StableDiffusionXLPipeline's default
  EXPECT_TRUE(ModelIndex::load(absent.write()).force_zeros_for_empty_prompt);
}

TEST(SdxlModelIndex, RejectsWhatItCannotRun) {
  TempModel no_tokenizer_2(kSdxl);
  no_tokenizer_2.index.erase("tokenizer_2");
  test::expect_error_naming([&] { ModelIndex::load(no_tokenizer_2.write()); }, {"model_index.json", "'tokenizer_2' is missing"});
  TempModel plain_encoder(kSdxl);
  plain_encoder.index["text_encoder_2"][1] = "CLIPTextModel";
  test::expect_error_naming([&] { ModelIndex::load(plain_encoder.write()); }, {"'text_encoder_2' is a CLIPTextModel"});
  TempModel bad_flag(kSdxl);
  bad_flag.index["force_zeros_for_empty_prompt"] = "yes";
  test::expect_error_naming([&] { ModelIndex::load(bad_flag.write()); }, {"force_zeros_for_empty_prompt"});
  TempModel other(kSdxl);
  other.index["_class_name"] = "StableDiffusionXLImg2ImgPipeline";
  test::expect_error_naming([&] { ModelIndex::load(other.write()); }, {"StableDiffusionXLImg2ImgPipeline"});
  // SD 1.x folders have no SDXL pipeline config.
  TempModel sd15(test::fixture("tiny-sd15/model"));
  sd15.index["force_zeros_for_empty_prompt"] = true;
  test::expect_error_naming([&] { ModelIndex::load(sd15.write()); }, {"'force_zeros_for_empty_prompt' is not supported"});
}

// The pipeline class decides whether the UNet gets SDXL's added conditioning, so it must match.
TEST(SdxlPipeline, UNetMustMatchThePipelineClass) {
  CpuBackend be;
  TempModel sd15_unet(kSdxl);
  sd15_unet.replace["unet"] = test::fixture("tiny-sd15/model/unet");
  test::expect_error_naming([&] { TextToImagePipeline::load(sd15_unet.write(), be); },
                            {"unet/config.json", "StableDiffusionXLPipeline", "text_time"});
  TempModel sdxl_unet(test::fixture("tiny-sd15/model"));
  sdxl_unet.replace["unet"] = kSdxl + "/unet";
  test::expect_error_naming([&] { TextToImagePipeline::load(sdxl_unet.write(), be); },
                            {"unet/config.json", "text_time", "StableDiffusionPipeline"});
}

TEST(SdxlPipeline, TimeIdsAreHeightWidthFirst) {
  const HostTensor ids = sdxl_time_ids(64, 96, 2);
  EXPECT_EQ(ids.shape, (Shape{2, 6}));
  EXPECT_EQ(ids.data, (std::vector<float>{96, 64, 0, 0, 96, 64, 96, 64, 0, 0, 96, 64}));
}

class TinySdxl : public ::testing::Test {
 protected:
  CpuBackend backend;
  TextToImagePipeline pipe = TextToImagePipeline::load(kSdxl, backend);
};

// StableDiffusionXLPipeline's guidance_scale default is 5.0 (StableDiffusionPipeline's 7.5).
TEST_F(TinySdxl, DefaultGuidanceIsTheFamilys) {
  EXPECT_EQ(pipe.default_guidance_scale(), 5.0);
  CpuBackend be;
  EXPECT_EQ(TextToImagePipeline::load(test::fixture("tiny-sd15/model"), be).default_guidance_scale(), 7.5);
  GenerateParams p;
  p.prompt = "a fox";
  p.steps = 1;
  const GenerateResult unset = pipe.generate(p);
  p.guidance_scale = 5.0;
  EXPECT_EQ(unset.image.data, pipe.generate(p).image.data);
  p.guidance_scale = 7.5;
  EXPECT_NE(unset.image.data, pipe.generate(p).image.data);
}

TEST_F(TinySdxl, NonSquareWithoutGuidance) {
  EXPECT_EQ(pipe.family(), PipelineFamily::kStableDiffusionXL);
  EXPECT_EQ(pipe.default_width(), 128);
  GenerateParams p;
  p.prompt = "a fox";
  p.steps = 2;
  p.guidance_scale = 1.0;
  p.width = 64;
  p.height = 96;
  GenerateResult r = pipe.generate(p);
  EXPECT_EQ(r.image.shape, (Shape{96, 64, 3}));
  EXPECT_FALSE(r.negative_prompt_embeds.has_value());
  EXPECT_FALSE(r.negative_pooled_prompt_embeds.has_value());
  ASSERT_TRUE(r.pooled_prompt_embeds.has_value());
  EXPECT_EQ(r.pooled_prompt_embeds->shape, (Shape{1, 64}));
  for (float v : r.image.data) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
}

// clip_skip reaches the prompt's hidden states only: the pooled embeddings and the negative
// prompt stay as they were, as in diffusers' StableDiffusionXLPipeline.encode_prompt.
TEST_F(TinySdxl, ClipSkipChangesThePromptOnly) {
  GenerateParams p;
  p.prompt = "a fox in the snow";
  p.steps = 2;
  p.guidance_scale = 5.0;
  const GenerateResult plain = pipe.generate(p);
  p.clip_skip = 1;
  const GenerateResult skipped = pipe.generate(p);
  EXPECT_NE(plain.prompt_embeds.data, skipped.prompt_embeds.data);
  EXPECT_EQ(plain.pooled_prompt_embeds->data, skipped.pooled_prompt_embeds->data);
  EXPECT_EQ(plain.negative_prompt_embeds->data, skipped.negative_prompt_embeds->data);
  EXPECT_NE(plain.image.data, skipped.image.data);
  p.clip_skip = 2;
  EXPECT_THROW(pipe.generate(p), Error);
}

TEST(SdxlPipelineRandom, BuildsFromConfigsAlone) {
  CpuBackend be;
  TextToImagePipeline pipe = TextToImagePipeline::load(kSdxl, be, 5);
  GenerateParams p;
  p.prompt = "x";
  p.steps = 1;
  p.width = p.height = 64;
  GenerateResult r = pipe.generate(p);
  EXPECT_EQ(r.image.shape, (Shape{64, 64, 3}));
  for (float v : r.image.data) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace websd
