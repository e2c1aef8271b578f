#include "pipeline/text_to_image.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "backend/cpu/cpu_backend.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "rng/torch_generator.h"
#include "support/expect_error.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace websd {
namespace {

// Reruns one of diffusers' whole-pipeline references in tests/fixtures/<model>/golden.
struct Golden {
  std::string model;  // tiny-sd15, tiny-sdxl, tiny-sd2
  std::string run;
};

std::ostream& operator<<(std::ostream& os, const Golden& g) { return os << g.model << "/" << g.run; }

class GoldenRun : public ::testing::TestWithParam<Golden> {
 protected:
  static void SetUpTestSuite() { backend_ = new CpuBackend(); }
  static void TearDownTestSuite() {
    pipes_.clear();
    delete backend_;
  }
  // One pipeline per model, shared by its runs.
  static TextToImagePipeline& pipe(const std::string& model) {
    auto it = pipes_.find(model);
    if (it == pipes_.end())
      it = pipes_.emplace(model, TextToImagePipeline::load(test::fixture(model + "/model"), *backend_)).first;
    return it->second;
  }
  static CpuBackend* backend_;
  static std::map<std::string, TextToImagePipeline> pipes_;
};
CpuBackend* GoldenRun::backend_ = nullptr;
std::map<std::string, TextToImagePipeline> GoldenRun::pipes_;

TEST_P(GoldenRun, MatchesDiffusersStepByStep) {
  const std::string base = test::fixture(GetParam().model + "/golden/" + GetParam().run);
  const nlohmann::json spec = read_json_file(base + ".json");
  SafetensorsFile ref(base + ".safetensors");
  TextToImagePipeline& p = pipe(GetParam().model);

  ConfigReader sched_config(spec["scheduler_config"], base + ".json");
  p.set_scheduler(make_scheduler(spec["scheduler"].get<std::string>(), sched_config));

  GenerateParams params;
  params.prompt = spec["prompt"].get<std::string>();
  if (!spec["negative_prompt"].is_null()) params.negative_prompt = spec["negative_prompt"].get<std::string>();
  params.steps = spec["steps"].get<int>();
  params.guidance_scale = spec["guidance_scale"].get<double>();
  params.latents = ref.read("init_latents");

  std::vector<HostTensor> steps;
  GenerateResult r = p.generate(params, [&](int, int, const HostTensor& l) { steps.push_back(l); });

  // Printed so that the errors against diffusers can be read off a run.
  const auto check = [](const char* name, const HostTensor& got, const HostTensor& want) {
    const test::Diff d = test::compare(got.data, want.data);
    std::cout << name << " max abs error " << d.max_abs << ", mean " << d.mean_abs << "\n";
    SCOPED_TRACE(name);
    EXPECT_TENSOR_MATCHES_DIFFUSERS(got, want, test::kReadmeComponentMaxAbs);
  };
  check("prompt_embeds", r.prompt_embeds, ref.read("prompt_embeds"));
  ASSERT_TRUE(r.negative_prompt_embeds.has_value());
  check("negative_prompt_embeds", *r.negative_prompt_embeds, ref.read("negative_prompt_embeds"));
  ASSERT_EQ(r.pooled_prompt_embeds.has_value(), ref.contains("pooled_prompt_embeds"));
  if (r.pooled_prompt_embeds) {
    check("pooled_prompt_embeds", *r.pooled_prompt_embeds, ref.read("pooled_prompt_embeds"));
    ASSERT_TRUE(r.negative_pooled_prompt_embeds.has_value());
    check("negative_pooled_prompt_embeds", *r.negative_pooled_prompt_embeds, ref.read("negative_pooled_prompt_embeds"));
  }
  EXPECT_EQ(r.timesteps, ref.read_f64("timesteps"));
  ASSERT_EQ(steps.size(), r.timesteps.size());
  double worst_step = 0, worst_relative = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    char key[48];
    std::snprintf(key, sizeof key, "step%03zu_latents", i);
    SCOPED_TRACE(key);
    const HostTensor want = ref.read(key);
    const double error = test::compare(steps[i].data, want.data).max_abs;
    worst_step = std::max(worst_step, error);
    worst_relative = std::max(worst_relative, error / test::max_magnitude(want.data));
    EXPECT_LATENTS_MATCH_DIFFUSERS(steps[i], want);
  }
  const HostTensor want = ref.read("image");
  const test::Diff d = test::compare(r.image.data, want.data);
  std::cout << "step latents max abs error " << worst_step << " (relative " << worst_relative
            << "); image max abs error " << d.max_abs << ", mean " << d.mean_abs << "\n";
  EXPECT_EQ(r.image.shape, want.shape);
  EXPECT_IMAGE_DIFF_MATCHES_DIFFUSERS(d);
}

INSTANTIATE_TEST_SUITE_P(Tiny, GoldenRun,
                         ::testing::Values(Golden{"tiny-sd15", "pndm_10"}, Golden{"tiny-sd15", "dpmpp2m_8_neg"},
                                           Golden{"tiny-sdxl", "euler_8"}, Golden{"tiny-sd2", "ddim_v_12"}));

// The fixtures' starting latents are torch.randn with the run's seed on a CPU generator, so a
// seed alone reproduces them.
TEST(TextToImage, SeedGivesDiffusersStartingLatents) {
  for (const char* name : {"tiny-sd15/golden/pndm_10", "tiny-sd15/golden/dpmpp2m_8_neg", "tiny-sdxl/golden/euler_8",
                           "tiny-sd2/golden/ddim_v_12"}) {
    const std::string base = test::fixture(name);
    const nlohmann::json spec = read_json_file(base + ".json");
    const HostTensor want = SafetensorsFile(base + ".safetensors").read("init_latents");
    EXPECT_TENSOR_NEAR(TorchGenerator(spec["seed"].get<uint64_t>()).randn(want.shape), want, 1e-6);
  }
}

class TinyPipeline : public ::testing::Test {
 protected:
  CpuBackend backend;
  TextToImagePipeline pipe = TextToImagePipeline::load(test::fixture("tiny-sd15/model"), backend);
};

TEST_F(TinyPipeline, GuidanceOneSkipsTheUnconditionalBranch) {
  GenerateParams p;
  p.prompt = "a house";
  p.steps = 2;
  p.guidance_scale = 1.0;
  GenerateResult r = pipe.generate(p);
  EXPECT_FALSE(r.negative_prompt_embeds.has_value());
  EXPECT_EQ(r.image.shape, (Shape{128, 128, 3}));
}

TEST_F(TinyPipeline, OmittedNegativePromptEqualsEmptyString) {
  GenerateParams p;
  p.prompt = "a house";
  p.steps = 2;
  GenerateResult none = pipe.generate(p);
  p.negative_prompt = "";
  GenerateResult empty = pipe.generate(p);
  EXPECT_EQ(none.image.data, empty.image.data);
  p.negative_prompt = "ugly";
  GenerateResult other = pipe.generate(p);
  EXPECT_NE(none.image.data, other.image.data);
}

TEST_F(TinyPipeline, NonSquareSizeFollowsWidthAndHeight) {
  GenerateParams p;
  p.prompt = "a tree";
  p.steps = 1;
  p.width = 64;
  p.height = 96;
  GenerateResult r = pipe.generate(p);
  EXPECT_EQ(r.image.shape, (Shape{96, 64, 3}));
  EXPECT_EQ(r.latents.shape, (Shape{1, 4, 12, 8}));
  for (float v : r.image.data) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
}

TEST_F(TinyPipeline, RejectsBadArguments) {
  GenerateParams p;
  p.prompt = "x";
  p.width = 100;
  EXPECT_THROW(pipe.generate(p), Error);
  p.width = 0;
  p.steps = 0;
  EXPECT_THROW(pipe.generate(p), Error);
  p.steps = 1;
  p.latents = HostTensor({1, 4, 8, 8});
  EXPECT_THROW(pipe.generate(p), Error);
}

// diffusers truncates a prompt to the text encoder's 77 tokens; invalid UTF-8 reads as U+FFFD. A
// prompt of the largest size accepted gives the embeddings of its first 75 tokens, one byte more
// is refused with a message that says so.
TEST_F(TinyPipeline, TakesPromptsOfAnyEncodingUpToItsLimit) {
  GenerateParams p;
  p.steps = 1;
  p.width = p.height = 64;
  p.guidance_scale = 1.0;
  const std::string start = "\xc3\x28 a \xff house ";
  std::string longest = start;
  while (longest.size() < GenerateParams::kMaxPromptBytes) longest += "tree ";
  longest.resize(GenerateParams::kMaxPromptBytes);
  std::string short_one = start;
  for (int i = 0; i < 80; ++i) short_one += "tree ";
  p.prompt = short_one;
  const HostTensor want = pipe.generate(p).prompt_embeds;
  p.prompt = longest;
  EXPECT_EQ(pipe.generate(p).prompt_embeds.data, want.data);
  p.prompt += "x";
  test::expect_error_naming([&] { pipe.generate(p); },
                            {"the prompt is 65537 bytes; at most 65536 are accepted (the text encoder reads its first 75 tokens)"});
  p.prompt = "x";
  p.negative_prompt = longest + "x";
  test::expect_error_naming([&] { pipe.generate(p); }, {"the negative prompt is 65537 bytes"});
}

// GenerateParams::stop_check is asked between the models' blocks inside every stage (the text
// encoder's layers, each step's UNet blocks, the decoder's blocks): a check that throws at its
// first call in a stage, or at one in the middle, stops the run there with its own message; nothing
// the run made stays allocated, and the next run gives the picture of a run never stopped.
TEST_F(TinyPipeline, StopsInsideEveryStageAndRunsAgain) {
  GenerateParams p;
  p.prompt = "a house";
  p.steps = 2;
  p.width = p.height = 64;
  std::map<std::string, int> calls;
  p.stop_check = [&](const std::string& stage) { ++calls[stage]; };
  const GenerateResult whole = pipe.generate(p);
  const int64_t held = backend.stats().live_bytes;  // the weights
  EXPECT_EQ(calls.size(), 3u);
  EXPECT_GT(calls["text_encoder"], 2);  // the prompt's and the negative prompt's layers
  EXPECT_GT(calls["unet_step"], 2 * p.steps);
  EXPECT_GT(calls["vae_decode"], 2);
  for (const auto& [stage, count] : std::map(calls)) {
    for (const int at : {1, count / 2 + 1}) {
      int seen = 0;
      p.stop_check = [&, stage = stage](const std::string& s) {
        if (s == stage && ++seen == at) throw Error("stopped in " + s + " at check " + std::to_string(at));
      };
      test::expect_error_naming([&] { pipe.generate(p); }, {"stopped in " + stage + " at check " + std::to_string(at)});
      EXPECT_EQ(seen, at);
      EXPECT_EQ(backend.stats().live_bytes, held) << stage << " at check " << at;
    }
  }
  p.stop_check = nullptr;
  EXPECT_EQ(pipe.generate(p).image.data, whole.image.data);
}

TEST(ModelIndexTest, RejectsMissingAndForeignFolders) {
  EXPECT_THROW(ModelIndex::load("/nonexistent/model"), Error);
  EXPECT_THROW(ModelIndex::load(test::fixture("tiny-sd15/model/unet")), Error);
  ModelIndex m = ModelIndex::load(test::fixture("tiny-sd15/model"));
  EXPECT_EQ(m.scheduler_class, "PNDMScheduler");
}

// Found with tests/fuzz/config_fuzzer.cpp: a _class_name that is no string escaped as nlohmann's
// type_error ("type must be string, but is number"), naming neither the file nor the field.
TEST(ModelIndexTest, ClassNameMustBeAString) {
  test::TempDir dir;
  std::ofstream(dir / "model_index.json") << R"({"_class_name": 5})";
  test::expect_error_naming([&] { ModelIndex::load(dir.str()); },
                            {dir / "model_index.json", "field '_class_name' must be a string"});
}

}  // namespace
}  // namespace websd

namespace websd {
namespace {

// The embedded default model against the pictures diffusers made with it (samples.json: PNDM,
// 20 steps, guidance 7.5, seed i for prompt i): the mean colour of each picture.
TEST(TinyShapes, ReproducesDiffusersSamples) {
  CpuBackend backend;
  TextToImagePipeline pipe = TextToImagePipeline::load(test::asset("tiny-shapes/model"), backend);
  const nlohmann::json samples = read_json_file(test::asset("tiny-shapes/samples.json"));
  for (size_t i : {0u, 1u}) {
    GenerateParams p;
    p.prompt = samples[i]["prompt"].get<std::string>();
    p.seed = samples[i]["seed"].get<uint64_t>();
    p.steps = 20;
    GenerateResult r = pipe.generate(p);
    double mean[3] = {0, 0, 0};
    for (size_t k = 0; k < r.image.data.size(); ++k) mean[k % 3] += r.image.data[k];
    for (int c = 0; c < 3; ++c) {
      SCOPED_TRACE(p.prompt + ", channel " + std::to_string(c));
      // A mean's error is at most the mean abs error: the README's image limit, and the regression limit.
      const double error = std::fabs(mean[c] / static_cast<double>(r.image.data.size() / 3) -
                                     samples[i]["mean_rgb"][c].get<double>());
      std::cout << p.prompt << " channel " << c << " mean error " << error << "\n";
      EXPECT_LE(error, test::kReadmeImageMeanAbs);
      EXPECT_LE(error, test::kRegressionMaxAbs);
    }
  }
}

}  // namespace
}  // namespace websd
