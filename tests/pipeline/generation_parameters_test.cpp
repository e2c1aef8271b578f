#include "pipeline/generation_parameters.h"

#include <gtest/gtest.h>

#include "support/expect_error.h"

namespace websd {
namespace {

GenerationParameters sample() {
  GenerationParameters p;
  p.prompt = "a red circle, on a white background";
  p.negative_prompt = "blurry";
  p.steps = 20;
  p.sampler = "DPM++ 2M";
  p.schedule_type = "Karras";
  p.cfg_scale = 7.5;
  p.seed = 1234567890123ull;
  p.width = 512;
  p.height = 768;
  p.model = "sd15";
  return p;
}

TEST(GenerationParameters, FormatsAsAutomatic1111) {
  EXPECT_EQ(format_parameters(sample()),
            "a red circle, on a white background\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: "
            "Karras, CFG scale: 7.5, Seed: 1234567890123, Size: 512x768, Model: sd15");
  GenerationParameters p = sample();
  p.negative_prompt.clear();
  p.schedule_type.clear();
  p.cfg_scale = 7;
  p.clip_skip = 1;
  p.model = "my, model";
  EXPECT_EQ(format_parameters(p), "a red circle, on a white background\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: "
                                  "1234567890123, Size: 512x768, Model: \"my, model\", Clip skip: 2");
}

// The CFG scale as typed: %g alone would write 10 as "1e+01".
TEST(GenerationParameters, WritesTheShortestPlainNumber) {
  GenerationParameters p = sample();
  for (const auto& [cfg, text] : std::vector<std::pair<double, std::string>>{
           {10, "10"}, {100, "100"}, {7.5, "7.5"}, {0.1, "0.1"}, {0, "0"}, {1.0 / 3, "0.3333333333333333"},
           {0.00012345678901234567, "0.00012345678901234567"}, {1e-7, "1e-07"}, {1e300, "1e+300"}}) {
    p.cfg_scale = cfg;
    const std::string line = format_parameters(p);
    EXPECT_NE(line.find("CFG scale: " + text + ","), std::string::npos) << line;
    EXPECT_EQ(parse_parameters(line).cfg_scale, cfg) << text;
  }
}

TEST(GenerationParameters, ParseInvertsFormat) {
  GenerationParameters p = sample();
  EXPECT_EQ(parse_parameters(format_parameters(p)), p);
  p.prompt = "two lines:\nthe second";
  p.negative_prompt = "";
  p.model = "quoted \"name\", with: all";
  p.clip_skip = 2;
  p.cfg_scale = 0.1;
  EXPECT_EQ(parse_parameters(format_parameters(p)), p);
}

// As AUTOMATIC1111 writes them, with fields websd has no use for.
TEST(GenerationParameters, ReadsAutomatic1111sText) {
  const GenerationParameters p = parse_parameters(
      "masterpiece, a castle\nat night\nNegative prompt: lowres,\nbad hands\nSteps: 30, Sampler: Euler a, Schedule type: "
      "Automatic, CFG scale: 7, Seed: 42, Size: 768x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, "
      "Version: v1.10.1\n");
  EXPECT_EQ(p.prompt, "masterpiece, a castle\nat night");
  EXPECT_EQ(p.negative_prompt, "lowres,\nbad hands");
  EXPECT_EQ(p.steps, 30);
  EXPECT_EQ(p.sampler, "Euler a");
  EXPECT_EQ(p.schedule_type, "Automatic");
  EXPECT_EQ(p.cfg_scale, 7.0);
  EXPECT_EQ(p.seed, 42u);
  EXPECT_EQ(p.width, 768);
  EXPECT_EQ(p.height, 512);
  EXPECT_EQ(p.model, "v1-5-pruned-emaonly");
  EXPECT_EQ(p.clip_skip, 1);
}

TEST(GenerationParameters, BadTextNamesWhatIsWrong) {
  test::expect_error_naming([] { parse_parameters("just a prompt"); }, {"no settings line"});
  test::expect_error_naming([] { parse_parameters("x\nSteps: many, Sampler: Euler, CFG scale: 7"); }, {"'Steps'", "many"});
  test::expect_error_naming([] { parse_parameters("x\nSteps: 2, Sampler: Euler, Size: 512"); }, {"'Size'", "512"});
  test::expect_error_naming([] { parse_parameters("x\nSteps: 2, Sampler: Euler, CFG scale: 7x"); }, {"'CFG scale'"});
  test::expect_error_naming([] { parse_parameters("x\nSteps: 2, Sampler: Euler, Seed: -1"); }, {"'Seed'", "-1"});
}

// Found with tests/fuzz/parameters_fuzzer.cpp: "Clip skip: 2147483648" wrapped to INT_MIN and
// overflowed (undefined behaviour), steps and sizes past an int wrapped; a settings line of 20,000
// characters overflowed the stack in std::regex.
TEST(GenerationParameters, RefusesNumbersPastAnIntAndOverlongSettingsLines) {
  test::expect_error_naming([] { parse_parameters("x\nSteps: 2, Sampler: Euler, Clip skip: 2147483648"); },
                            {"'Clip skip'", "2147483648"});
  test::expect_error_naming([] { parse_parameters("x\nSteps: 4294967297, Sampler: Euler, CFG scale: 7"); }, {"'Steps'"});
  test::expect_error_naming([] { parse_parameters("x\nSteps: 2, Sampler: Euler, Size: 4294967296x512"); }, {"'Size'"});
  EXPECT_EQ(parse_parameters("x\nSteps: 2, Sampler: Euler, Seed: 9223372036854775807").seed, 9223372036854775807u);
  const std::string sampler(20000, 'a');
  test::expect_error_naming([&] { parse_parameters("x\nSteps: 2, Sampler: " + sampler + ", CFG scale: 7"); },
                            {"settings line has 20033 characters", "at most 8192"});
}

TEST(GenerationParameters, NamesSamplersAndModelsAsAutomatic1111) {
  const nlohmann::json base = {{"_class_name", "PNDMScheduler"}, {"num_train_timesteps", 1000}, {"beta_start", 0.00085},
                               {"beta_end", 0.012}, {"beta_schedule", "scaled_linear"}, {"skip_prk_steps", true},
                               {"set_alpha_to_one", false}, {"steps_offset", 1}};
  const std::map<std::string, std::pair<std::string, std::string>> want = {
      {"pndm", {"PLMS", ""}},        {"dpm++2m", {"DPM++ 2M", ""}}, {"dpm++2m-karras", {"DPM++ 2M", "Karras"}},
      {"euler", {"Euler", ""}},      {"euler-karras", {"Euler", "Karras"}}, {"ddim", {"DDIM", ""}},
      {"lcm", {"LCM", ""}}};
  ASSERT_EQ(want.size(), scheduler_presets().size());
  for (const std::string& preset : scheduler_presets()) {
    GenerationParameters p;
    describe_sampler(*scheduler_from_preset(preset, base), p);
    EXPECT_EQ(std::pair(p.sampler, p.schedule_type), want.at(preset)) << preset;
  }
  EXPECT_EQ(model_label("assets/configs/sd15"), "sd15");
  EXPECT_EQ(model_label("models/sd15/"), "sd15");
  EXPECT_EQ(model_label("/ckpt/v1-5-pruned.safetensors"), "v1-5-pruned");
  EXPECT_EQ(model_label("https://host/models/sdxl-1.0/"), "sdxl-1.0");
  EXPECT_EQ(model_label("model"), "model");
}

}  // namespace
}  // namespace websd
