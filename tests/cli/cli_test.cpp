#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/config.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "support/fixtures.h"

namespace websd {
namespace {

struct CliRun {
  int status;
  std::string output;  // stdout and stderr together
};

CliRun websd_cli(const std::string& args) {
  const std::string cmd = std::string(WEBSD_CLI_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("websd_cli_" + std::to_string(getpid()) + "_" + name)).string();
}

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
  const std::string png = temp_path("golden.png"), tensors = temp_path("golden.safetensors");
  CliRun r = websd_cli("generate --model " + test::fixture("tiny-sd15/model") + " --prompt " +
                    quoted(spec["prompt"].get<std::string>()) + " --negative-prompt '' --steps 10 --cfg-scale 7.5 --seed 0 -o " +
                    png + " --save-tensors " + tensors);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + png), std::string::npos);
  SafetensorsFile got(tensors), want(base + ".safetensors");
  const test::Diff d = test::compare(got.read("image").data, want.read("image").data);
  EXPECT_LE(d.max_abs, 5e-3);
  EXPECT_LE(d.mean_abs, 1e-3);
  // PNDM with skip_prk_steps runs steps + 1 model calls, so the last of the 11 is step010.
  EXPECT_TENSOR_NEAR(got.read("latents"), want.read("step010_latents"), 1e-3);
  const HostTensor decoded = read_png(png);
  EXPECT_EQ(decoded.shape, (Shape{128, 128, 3}));
  EXPECT_LE(test::compare(decoded.data, got.read("image").data).max_abs, 0.5 / 255 + 1e-6);
  std::filesystem::remove(png);
  std::filesystem::remove(tensors);
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
                      BadCall{"generate --model MODEL", "--prompt"}));

}  // namespace
}  // namespace websd
