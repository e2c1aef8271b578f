// A damaged artifact model is refused on load with an error that names the file, shard or tensor:
// shards truncated, corrupted or missing, a config file changed, a manifest that disagrees with
// the configs.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "artifacts/model_json.h"
#include "artifacts/tensor_cache.h"
#include "convert/convert_helpers.h"
#include "core/error.h"
#include "io/sha256.h"
#include "support/expect_error.h"

namespace websd {
namespace {

namespace fs = std::filesystem;
using test::expect_error_naming;

// tiny-sd15 converted into a fresh folder, for one test to damage.
class BadArtifact : public ::testing::Test {
 protected:
  void SetUp() override {
    ConvertOptions o = test::convert_options(test::fixture("tiny-sd15/model"), out);
    o.shard_bytes = 1 << 20;  // several shards per component
    cache = convert_model(o).cache;
  }

  const TensorShard& shard_of(const std::string& component, int index = 0) const {
    for (const TensorShard& s : cache.shards)
      if (s.component() == component && index-- == 0) return s;
    throw std::runtime_error("no such shard");
  }
  fs::path path(const std::string& relative) const { return fs::path(out) / relative; }
  void flip_byte(const std::string& relative, size_t at) const {
    std::vector<uint8_t> bytes = test::read_bytes(path(relative));
    ASSERT_LT(at, bytes.size());
    bytes[at] ^= 0x10;
    test::write_bytes(path(relative), bytes);
  }
  // Loads the damaged model on the CPU backend, as `websd generate --model OUT` does.
  void load() const {
    CpuBackend backend;
    TextToImagePipeline::load(ModelSource::open(out), backend);
  }

  test::TempDir dir{"websd-bad-artifact"};
  std::string out = dir / "model";
  TensorCache cache;
};

TEST_F(BadArtifact, TheUndamagedModelLoads) {
  EXPECT_GT(cache.shards.size(), 3u);
  EXPECT_NO_THROW(load());
}

TEST_F(BadArtifact, TruncatedShard) {
  const TensorShard& s = shard_of("unet", 1);
  fs::resize_file(path(s.data_path), s.nbytes - 100);
  expect_error_naming([&] { load(); }, {"shard '" + s.data_path + "'", "truncated", std::to_string(s.nbytes - 100) + " bytes"});
}

TEST_F(BadArtifact, ShardWithOneFlippedByte) {
  const TensorShard& s = shard_of("vae");
  flip_byte(s.data_path, s.nbytes / 2);
  expect_error_naming([&] { load(); }, {"shard '" + s.data_path + "'", "SHA-256 mismatch", s.integrity});
}

TEST_F(BadArtifact, ShardTooLong) {
  const TensorShard& s = shard_of("text_encoder");
  std::vector<uint8_t> bytes = test::read_bytes(path(s.data_path));
  bytes.push_back(0);
  test::write_bytes(path(s.data_path), bytes);
  expect_error_naming([&] { load(); }, {"shard '" + s.data_path + "'", "too long"});
}

TEST_F(BadArtifact, MissingShard) {
  const TensorShard& s = shard_of("unet", 0);
  fs::remove(path(s.data_path));
  expect_error_naming([&] { load(); }, {"shard '" + s.data_path + "' is missing"});
}

TEST_F(BadArtifact, ConfigFileWithOneFlippedByte) {
  const std::string config = "unet/config.json";
  flip_byte(config, test::read_bytes(path(config)).size() / 2);
  // Caught on opening, before any config is parsed or shard read.
  expect_error_naming([&] { ModelSource::open(out); }, {path(config).string(), "SHA-256 mismatch"});
}

TEST_F(BadArtifact, ConfigFileOfAnotherSizeOrMissing) {
  std::vector<uint8_t> bytes = test::read_bytes(path("scheduler/scheduler_config.json"));
  bytes.push_back('\n');
  test::write_bytes(path("scheduler/scheduler_config.json"), bytes);
  expect_error_naming([&] { ModelSource::open(out); }, {"scheduler/scheduler_config.json", "another size than model.json says"});
  fs::remove(path("scheduler/scheduler_config.json"));
  expect_error_naming([&] { ModelSource::open(out); }, {"scheduler/scheduler_config.json", "missing"});
}

TEST_F(BadArtifact, ManifestWithOneFlippedByte) {
  flip_byte("ndarray-cache.json", 40);
  expect_error_naming([&] { ModelSource::open(out); }, {"ndarray-cache.json", "SHA-256 mismatch"});
}

// A manifest whose every size and hash agree, but one tensor's shape is not what the config
// implies: only the models' shape check can catch it, and it names the tensor.
TEST_F(BadArtifact, ManifestShapeThatDisagreesWithTheConfig) {
  nlohmann::json manifest = cache.to_json();
  bool edited = false;
  for (auto& shard : manifest["records"])
    for (auto& t : shard["records"])
      if (t["name"] == "unet/conv_in.weight") {
        ASSERT_EQ(t["shape"], nlohmann::json({32, 4, 3, 3}));
        t["shape"] = {32, 4, 3, 1};
        t["nbytes"] = 32 * 4 * 3 * 1 * 2;
        edited = true;
      }
  ASSERT_TRUE(edited);
  const std::string text = manifest.dump() + "\n";
  ASSERT_NO_THROW(TensorCache::parse(text, "edited"));  // a well-formed manifest
  test::write_bytes(path("ndarray-cache.json"), std::vector<uint8_t>(text.begin(), text.end()));
  ModelJson m = ModelJson::load(path("model.json").string());
  for (ModelJson::File& f : m.files)
    if (f.path == "ndarray-cache.json") {
      f.nbytes = text.size();
      f.integrity = sha256_integrity({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    }
  const std::string model_json = m.to_json().dump(2) + "\n";
  test::write_bytes(path("model.json"), std::vector<uint8_t>(model_json.begin(), model_json.end()));
  ASSERT_NO_THROW(ModelSource::open(out));  // every file verifies
  expect_error_naming([&] { load(); },
                      {"ndarray-cache.json (unet)", "tensor 'conv_in.weight'", "[32, 4, 3, 1]", "config.json implies [32, 4, 3, 3]"});
}

TEST_F(BadArtifact, ShardOfAComponentThePipelineHasNot) {
  nlohmann::json manifest = cache.to_json();
  for (auto& shard : manifest["records"])
    for (auto& t : shard["records"])
      if (t["name"].get<std::string>().rfind("vae/", 0) == 0) t["name"] = "safety_checker/" + t["name"].get<std::string>().substr(4);
  const std::string text = manifest.dump();
  test::write_bytes(path("ndarray-cache.json"), std::vector<uint8_t>(text.begin(), text.end()));
  expect_error_naming([&] { ModelSource::open(out, "", /*verify=*/false); },
                      {"shard '" + shard_of("vae").data_path + "'", "'safety_checker'", "no component of a StableDiffusionPipeline"});
}

}  // namespace
}  // namespace websd
