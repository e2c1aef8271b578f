#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/cli_run.h"
#include "io/config.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "support/fixtures.h"

namespace websd {
namespace {

using test::CliRun;
using test::quoted;
using test::temp_path;
using test::websd_cli;

TEST(Cli, TokenizePrintsDiffusersIds) {
  const nlohmann::json cases = read_json_file(test::fixture("tokenizer/clip_ids.json"));
  int checked = 0;
  for (const auto& c : cases["cases"]) {
    const std::string prompt = c["prompt"].get<std::string>();
    if (prompt.find('\'') != std::string::npos || prompt.empty()) continue;
    CliRun r = websd_cli("tokenize --tokenizer " + test::fixture("tiny-sd15/model/tokenizer") + " " + quoted(prompt));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output), c["input_ids"]) << prompt;
    if (++checked == 3) break;
  }
  EXPECT_EQ(checked, 3);
}

TEST(Cli, TokenizePadToken) {
  CliRun r = websd_cli("tokenize --tokenizer " + test::fixture("tiny-sd15/model/tokenizer") + " --pad-token '!' 'a cat'");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json ids = nlohmann::json::parse(r.output);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids[76], 0);
}

// The whole CLI path (seed → torch.randn, PNDM from the model folder, guidance, VAE, PNG)
// reproduces diffusers' pndm_10 run.
TEST(Cli, GenerateReproducesDiffusersGolden) {
  const std::string base = test::fixture("tiny-sd15/golden/pndm_10");
  const nlohmann::json spec = read_json_file(base + ".json");
  const std::string png = temp_path("golden.png"), tensors = temp_path("golden.safetensors"),
                    report = temp_path("stages.json");
  CliRun r = websd_cli("generate --model " + test::fixture("tiny-sd15/model") + " --prompt " +
                    quoted(spec["prompt"].get<std::string>()) + " --negative-prompt '' --steps 10 --cfg-scale 7.5 --seed 0 -o " +
                    png + " --save-tensors " + tensors + " --report " + report);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("wrote " + png), 0u) << r.output;
  // The per-stage report, the same line as the Node CLI's (web/cli/stage_report.mjs).
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(\ntext encoder \d+\.\d ms; unet 11 steps, mean \d+\.\d ms, min \d+\.\d ms; )"
                                                     R"(vae decode \d+\.\d ms; \d+ kernels; peak cpu memory \d+\.\d MiB\n$)")))
      << r.output;
  const nlohmann::json stages = read_json_file(report);
  EXPECT_EQ(stages["backend"], "cpu");
  ASSERT_EQ(stages["stages"].size(), 13u);
  EXPECT_EQ(stages["stages"][0]["name"], "text_encoder");
  EXPECT_EQ(stages["stages"][1]["name"], "unet_step");
  EXPECT_EQ(stages["stages"][12]["name"], "vae_decode");
  for (const auto& stage : stages["stages"]) {
    EXPECT_GT(stage["ms"].get<double>(), 0);
    EXPECT_GT(stage["kernels"].get<int64_t>(), 0);
    EXPECT_GT(stage["peakBytes"].get<int64_t>(), 0);
    EXPECT_EQ(stage["pipelines"], 0);
    EXPECT_EQ(stage["compileMs"], 0);
  }
  std::filesystem::remove(report);
  SafetensorsFile got(tensors), want(base + ".safetensors");
  EXPECT_IMAGE_DIFF_MATCHES_DIFFUSERS(test::compare(got.read("image").data, want.read("image").data));
  // PNDM with skip_prk_steps runs steps + 1 model calls, so the last of the 11 is step010.
  EXPECT_LATENTS_MATCH_DIFFUSERS(got.read("latents"), want.read("step010_latents"));
  const HostTensor decoded = read_png(png);
  EXPECT_EQ(decoded.shape, (Shape{128, 128, 3}));
  EXPECT_LE(test::compare(decoded.data, got.read("image").data).max_abs, 0.5 / 255 + 1e-6);
  // The settings in AUTOMATIC1111's form; an empty negative prompt is left out, as it does.
  std::ifstream file(png, std::ios::binary);
  const PngText text = read_png_text(std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {}));
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].first, "parameters");
  EXPECT_EQ(text[0].second, spec["prompt"].get<std::string>() +
                                "\nSteps: 10, Sampler: PLMS, CFG scale: 7.5, Seed: 0, Size: 128x128, Model: model");
  std::filesystem::remove(png);
  std::filesystem::remove(tensors);
}

// SDXL through the CLI: two text encoders, pooled embeddings and size conditioning, Euler from the
// model folder, the omitted negative prompt as zeros (force_zeros_for_empty_prompt), and the
// omitted --cfg-scale as StableDiffusionXLPipeline's default 5.0, which the golden used.
TEST(Cli, GenerateReproducesDiffusersSdxlGolden) {
  const std::string base = test::fixture("tiny-sdxl/golden/euler_8");
  const nlohmann::json spec = read_json_file(base + ".json");
  ASSERT_TRUE(spec["negative_prompt"].is_null());
  ASSERT_EQ(spec["guidance_scale"].get<double>(), 5.0);
  const std::string png = temp_path("sdxl.png"), tensors = temp_path("sdxl.safetensors");
  CliRun r = websd_cli("generate --model " + test::fixture("tiny-sdxl/model") + " --prompt " +
                       quoted(spec["prompt"].get<std::string>()) + " --steps " + std::to_string(spec["steps"].get<int>()) +
                       " --seed " + std::to_string(spec["seed"].get<int>()) + " -o " + png + " --save-tensors " + tensors);
  ASSERT_EQ(r.status, 0) << r.output;
  SafetensorsFile got(tensors), want(base + ".safetensors");
  const test::Diff d = test::compare(got.read("image").data, want.read("image").data);
  std::cout << "sdxl cli image max abs error " << d.max_abs << ", mean " << d.mean_abs << "\n";
  EXPECT_IMAGE_DIFF_MATCHES_DIFFUSERS(d);
  EXPECT_LATENTS_MATCH_DIFFUSERS(got.read("latents"), want.read("step007_latents"));
  for (const char* name : {"prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"}) {
    SCOPED_TRACE(name);
    EXPECT_TENSOR_MATCHES_DIFFUSERS(got.read(name), want.read(name), test::kReadmeComponentMaxAbs);
  }
  EXPECT_EQ(read_png(png).shape, (Shape{128, 128, 3}));
  std::filesystem::remove(png);
  std::filesystem::remove(tensors);
}

// The model folder with its configs and tokenizer but no weights.
std::string config_only_model() {
  namespace fs = std::filesystem;
  const fs::path dest = temp_path("config_only");
  fs::remove_all(dest);
  fs::copy(test::fixture("tiny-sd15/model"), dest, fs::copy_options::recursive);
  for (const auto& entry : fs::recursive_directory_iterator(dest))
    if (entry.path().extension() == ".safetensors") fs::remove(entry.path());
  return dest.string();
}

TEST(Cli, RandomWeightsRunFromAConfigOnlyFolder) {
  const std::string model = config_only_model(), png = temp_path("random.png");
  CliRun missing = websd_cli("generate --model " + model + " --prompt x --steps 1 -o " + png);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("safetensors"), std::string::npos) << missing.output;
  CliRun r = websd_cli("generate --model " + model + " --random-weights 7 --prompt x --steps 1 --cfg-scale 1 -o " + png);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_png(png).shape, (Shape{128, 128, 3}));
  std::filesystem::remove_all(model);
  std::filesystem::remove(png);
}

// assets/configs/sd15 is a model folder (model_index.json, tokenizer, configs) without weights.
TEST(Cli, Sd15ConfigFolderLoadsUpToTheWeights) {
  CliRun r = websd_cli("generate --model " + test::asset("configs/sd15") + " --prompt x -o " + temp_path("never.png"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("text_encoder: no model.safetensors"), std::string::npos) << r.output;
}

// --runs N repeats the generation in one process; every run gives the same picture, and the
// report lists each run's time.
TEST(Cli, RunsRepeatTheGenerationAndReportEachRun) {
  const std::string model = test::fixture("tiny-sd15/model");
  const std::string once = temp_path("once.safetensors"), twice = temp_path("twice.safetensors"),
                    report = temp_path("runs.json");
  const std::string common = "generate --model " + model + " --prompt 'a red circle' --steps 2 --cfg-scale 1 --seed 3 -o " +
                             temp_path("runs.png");
  ASSERT_EQ(websd_cli(common + " --save-tensors " + once).status, 0);
  CliRun r = websd_cli(common + " --runs 2 --save-tensors " + twice + " --report " + report);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(\nruns: \d+\.\d{3} s, \d+\.\d{3} s\n$)"))) << r.output;
  EXPECT_EQ(read_json_file(report)["runSeconds"].size(), 2u);
  EXPECT_EQ(SafetensorsFile(once).read("image").data, SafetensorsFile(twice).read("image").data);
  EXPECT_NE(websd_cli(common + " --runs 0").status, 0);
}

// --backend webgpu runs in the wasm build: the native CLI replaces itself with the Node CLI.
class WebgpuHandoff : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    checkout_ = temp_path("checkout");
    fs::create_directories(checkout_ + "/web/cli");
    fs::create_directories(checkout_ + "/build-wasm/web");
    script_ = checkout_ + "/web/cli/websd-node.mjs";
    // Stands in for the Node CLI: prints what it was given, exits with a code of its own.
    std::ofstream(script_) << "console.log(JSON.stringify(process.argv.slice(2))); process.exit(3);\n";
    std::ofstream(checkout_ + "/build-wasm/web/websd_node.mjs") << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(checkout_); }

  std::string checkout_, script_;
};

TEST_F(WebgpuHandoff, ForwardsTheFlagsAndTheExitCode) {
  CliRun r = websd_cli("generate --backend webgpu --model m --prompt 'a red circle' --negative-prompt '' --steps 3 --seed 9 "
                       "--random-weights 5 --vae-tiling --vae-memory-budget 512 -o out.png --report r.json",
                       "WEBSD_NODE_CLI=" + script_);
  EXPECT_EQ(r.status, 3) << r.output;
  const nlohmann::json want = {"generate", "--model", "m", "--prompt", "a red circle", "--negative-prompt", "",
                               "--steps", "3", "--seed", "9", "--vae-tiling", "--vae-memory-budget", "512",
                               "--backend", "webgpu", "--random-weights", "5", "--output", "out.png", "--report", "r.json"};
  EXPECT_EQ(nlohmann::json::parse(r.output), want) << r.output;
}

TEST_F(WebgpuHandoff, ServeRunsInTheNodeCli) {
  CliRun r = websd_cli("serve dist --port 9000", "WEBSD_NODE_CLI=" + script_);
  EXPECT_EQ(r.status, 3) << r.output;
  const nlohmann::json want = {"serve", "dist", "--port", "9000", "--host", "127.0.0.1"};
  EXPECT_EQ(nlohmann::json::parse(r.output), want) << r.output;
  EXPECT_EQ(websd_cli("serve dist --port 70000", "WEBSD_NODE_CLI=" + script_).status, 2);
}

TEST_F(WebgpuHandoff, NamesWhatIsMissing) {
  const std::string args = "generate --backend webgpu --model m --prompt x -o out.png";
  CliRun no_script = websd_cli(args, "WEBSD_NODE_CLI=" + checkout_ + "/nope.mjs");
  EXPECT_EQ(no_script.status, 1);
  EXPECT_NE(no_script.output.find("nope.mjs: the Node CLI that runs --backend webgpu is missing"), std::string::npos)
      << no_script.output;
  CliRun no_node = websd_cli(args, "PATH=/nonexistent WEBSD_NODE_CLI=" + script_);
  EXPECT_EQ(no_node.status, 1);
  EXPECT_NE(no_node.output.find("cannot run node for --backend webgpu"), std::string::npos) << no_node.output;
  std::filesystem::remove_all(checkout_ + "/build-wasm");
  CliRun no_wasm = websd_cli(args, "WEBSD_NODE_CLI=" + script_);
  EXPECT_EQ(no_wasm.status, 1);
  EXPECT_NE(no_wasm.output.find("run `make wasm` in " + checkout_), std::string::npos) << no_wasm.output;
  for (const CliRun& r : {no_script, no_node, no_wasm}) EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1);
}

struct BadCall {
  const char* args;
  const char* message;  // a fragment the one-line error must contain
};

class CliErrors : public ::testing::TestWithParam<BadCall> {};

TEST_P(CliErrors, OneLineMessageAndNonZeroExit) {
  const std::string model = test::fixture("tiny-sd15/model");
  std::string args = GetParam().args;
  const size_t at = args.find("MODEL");
  if (at != std::string::npos) args.replace(at, 5, model);
  CliRun r = websd_cli(args + " -o " + temp_path("never.png"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Generate, CliErrors,
    ::testing::Values(BadCall{"generate --model /nonexistent --prompt x", "/nonexistent"},
                      BadCall{"generate --model MODEL/unet --prompt x", "model_index.json"},
                      BadCall{"generate --model MODEL --prompt x --scheduler nope", "--scheduler"},
                      BadCall{"generate --model MODEL --prompt x --width 100", "multiples of 8"},
                      BadCall{"generate --model MODEL --prompt x --steps 0", "--steps"},
                      BadCall{"generate --model MODEL --prompt x --scheduler-config /nonexistent.json", "--scheduler-config"},
                      BadCall{"generate --model MODEL --prompt x --backend gpu", "--backend"},
                      BadCall{"generate --model MODEL --prompt x --random-weights -1", "--random-weights"},
                      BadCall{"generate --model MODEL --prompt x --seed -1",
                              "--seed: must be an integer from 0 to 18446744073709551615 (2^64 - 1), got '-1'"},
                      BadCall{"generate --model MODEL --prompt x --seed 18446744073709551616", "2^64 - 1"},
                      BadCall{"convert --model MODEL --random-weights 1e3", "2^64 - 1), got '1e3'"},
                      BadCall{"generate --model MODEL --prompt x --width 8192 --height 8192",
                              "a 8192x8192 picture is larger than websd draws: at most 4096 pixels a side and 4194304 in all"},
                      BadCall{"generate --model MODEL --prompt x --width 4096 --height 2048", "larger than websd draws"},
                      BadCall{"generate --model MODEL --prompt x --cfg-scale 1e300",
                              "guidance scale must be a number from 0 to 100 (got 1e+300)"},
                      BadCall{"generate --model MODEL --prompt x --cfg-scale nan", "guidance scale must be a number"},
                      BadCall{"generate --model MODEL --prompt x --cfg-scale -2", "(got -2)"},
                      BadCall{"generate --model MODEL --prompt x --clip-skip -1", "--clip-skip"},
                      BadCall{"generate --model MODEL --prompt x --vae-tile-size 6", "multiple of 4"},
                      BadCall{"generate --model MODEL --prompt x --vae-memory-budget 0.001", "raise the budget"},
                      BadCall{"generate --model MODEL --prompt x --steps 1 --clip-skip 3", "clip skip 3"},
                      BadCall{"generate --model MODEL", "--prompt"}));

}  // namespace
}  // namespace websd
