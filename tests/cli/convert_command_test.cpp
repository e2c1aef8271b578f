// `websd convert` end to end through the built binary: its artifact folder serves
// `websd generate --model OUT`, which draws the source folder's picture; a bad model is an error.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/cli_run.h"
#include "io/image.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace websd {
namespace {

using test::CliRun;
using test::quoted;
using test::websd_cli;

TEST(ConvertCommand, ConvertThenGenerate) {
  test::TempDir dir("websd-convert-cli");
  const std::string model = test::fixture("tiny-sd15/model"), out = dir / "dist/tiny";
  CliRun c = websd_cli("convert --model " + quoted(model) + " -o " + quoted(out) + " --shard-mib 1");
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("wrote " + out + ": sd (StableDiffusionPipeline), "), std::string::npos) << c.output;
  EXPECT_NE(c.output.find(" parameters in float16"), std::string::npos) << c.output;
  EXPECT_TRUE(std::filesystem::is_regular_file(out + "/model.json"));

  const std::string args = " --prompt 'a red circle' --negative-prompt '' --steps 2 --seed 3 -o ";
  const std::string from_artifact = dir / "artifact.png", from_folder = dir / "folder.png";
  CliRun g = websd_cli("generate --model " + quoted(out) + args + quoted(from_artifact));
  ASSERT_EQ(g.status, 0) << g.output;
  EXPECT_EQ(g.output.find("wrote " + from_artifact + " (128x128"), 0u) << g.output;
  CliRun f = websd_cli("generate --model " + quoted(model) + args + quoted(from_folder));
  ASSERT_EQ(f.status, 0) << f.output;
  // The same weights, the same picture; the settings differ in the model's name alone.
  EXPECT_EQ(read_png(from_artifact).data, read_png(from_folder).data);
  const auto settings = [](const std::string& png) {
    return read_png_text(test::read_bytes(png)).at(0).second;
  };
  const std::string folder_settings = settings(from_folder);
  EXPECT_EQ(settings(from_artifact), folder_settings.substr(0, folder_settings.rfind("Model: ")) + "Model: tiny");

  // info describes the artifacts: the manifest's tensors, as many as the folder's model reads.
  CliRun i = websd_cli("info --model " + quoted(out));
  ASSERT_EQ(i.status, 0) << i.output;
  EXPECT_NE(i.output.find("format     artifact model (websd convert 1): "), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("MiB of float16 weights"), std::string::npos) << i.output;
  CliRun folder_info = websd_cli("info --model " + quoted(model));
  const auto total_line = [](const std::string& text) { return text.substr(text.rfind("total")); };
  EXPECT_EQ(total_line(i.output), total_line(folder_info.output));
}

TEST(ConvertCommand, BadModelPathIsAnError) {
  test::TempDir dir("websd-convert-cli");
  const std::string missing = dir / "no-such-model", out = dir / "out";
  CliRun r = websd_cli("convert --model " + quoted(missing) + " -o " + quoted(out));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("websd: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(missing), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  CliRun bad_dtype = websd_cli("convert --model " + quoted(test::fixture("tiny-sd15/model")) + " -o " + quoted(out) +
                               " --dtype bf16");
  EXPECT_NE(bad_dtype.status, 0);
  EXPECT_NE(bad_dtype.output.find("--dtype"), std::string::npos) << bad_dtype.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace websd
