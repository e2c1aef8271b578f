// `websd info` and single-file checkpoints through the CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_run.h"
#include "io/safetensors.h"
#include "support/fixtures.h"

namespace websd {
namespace {

using test::CliRun;
using test::temp_path;
using test::websd_cli;

TEST(CliInfo, DescribesASingleFile) {
  CliRun r = websd_cli("info --model " + test::fixture("tiny-sd15/tiny-sd15-single.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* part : {"format     single file (original layout): 964 tensors", "family     SD 1.x (StableDiffusionPipeline)",
                           "configs/sd15 (the standard ones, sized to the weights)", "UNet2DConditionModel",
                           "AutoencoderKL", "CLIPTextModel", "PNDMScheduler", "float16", "6,556,043",
                           // The tiny text encoder's heads are not the standard ones: info says so before a load would.
                           "note: ", "(text_encoder): 32 channels"})
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n" << r.output;
}

TEST(CliInfo, DescribesAFolderAndAGivenConfig) {
  CliRun folder = websd_cli("info --model " + test::fixture("tiny-sdxl/model"));
  ASSERT_EQ(folder.status, 0) << folder.output;
  EXPECT_NE(folder.output.find("format     diffusers folder"), std::string::npos) << folder.output;
  EXPECT_NE(folder.output.find("text_encoder_2  CLIPTextModelWithProjection"), std::string::npos) << folder.output;
  CliRun given = websd_cli("info --model " + test::fixture("tiny-sd15/tiny-sd15-single.safetensors") + " --config " +
                           test::fixture("tiny-sd15/model"));
  ASSERT_EQ(given.status, 0) << given.output;
  EXPECT_NE(given.output.find("(given with --config)"), std::string::npos) << given.output;
  EXPECT_EQ(given.output.find("note: "), std::string::npos) << given.output;
}

// The same settings give the same picture from the single file as from the folder.
TEST(CliSingleFile, GeneratesTheFoldersPicture) {
  const std::string folder = test::fixture("tiny-sd15/model"), a = temp_path("folder.safetensors"),
                    b = temp_path("single.safetensors"), png = temp_path("single.png");
  const std::string common = " --prompt 'a blue square' --steps 2 --seed 5 -o " + png + " --save-tensors ";
  ASSERT_EQ(websd_cli("generate --model " + folder + common + a).status, 0);
  CliRun r = websd_cli("generate --model " + test::fixture("tiny-sd15/tiny-sd15-single.safetensors") + " --config " +
                       folder + common + b);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(SafetensorsFile(a).read("image").data, SafetensorsFile(b).read("image").data);
  for (const std::string& f : {a, b, png}) std::filesystem::remove(f);
}

// One line naming the file and what to do, exit code 1.
TEST(CliSingleFile, RefusesPickleAndUnknownFiles) {
  const std::string ckpt = temp_path("model.ckpt"), other = temp_path("other.safetensors");
  std::ofstream(ckpt) << "PK\x03\x04";
  write_safetensors(other, {{"weight", HostTensor({1})}});
  for (const std::string& command : {"generate --prompt x -o " + temp_path("x.png") + " --model ", std::string("info --model ")}) {
    CliRun pickle = websd_cli(command + ckpt);
    EXPECT_EQ(pickle.status, 1);
    EXPECT_NE(pickle.output.find(ckpt + ": a pickle checkpoint"), std::string::npos) << pickle.output;
    EXPECT_NE(pickle.output.find("runs any Python code"), std::string::npos) << pickle.output;
    CliRun unknown = websd_cli(command + other);
    EXPECT_EQ(unknown.status, 1);
    EXPECT_NE(unknown.output.find(other + ": no original-layout SD 1.x / SDXL checkpoint"), std::string::npos)
        << unknown.output;
    for (const CliRun& r : {pickle, unknown}) EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  std::filesystem::remove(ckpt);
  std::filesystem::remove(other);
}

}  // namespace
}  // namespace websd
