// What `websd convert` writes: content-named shards that match their manifest, a model.json that
// describes every file, the same bytes on every run, shards of the size asked for, and a folder
// that is replaced whole or not at all.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "artifacts/model_json.h"
#include "artifacts/tensor_cache.h"
#include "convert/convert_helpers.h"
#include "core/error.h"
#include "io/config.h"
#include "io/sha256.h"
#include "support/expect_error.h"

namespace websd {
namespace {

namespace fs = std::filesystem;
using test::expect_error_naming;
using test::folder_files;
using test::folder_names;
using test::TempDir;

const std::string kSd15 = test::fixture("tiny-sd15/model");

TEST(ConvertOutput, ShardsAreNamedByTheirContentAndMatchTheManifest) {
  TempDir dir("websd-convert");
  const std::string out = dir / "model";
  const ConvertResult r = convert_model(test::convert_options(kSd15, out));
  ASSERT_FALSE(r.cache.shards.empty());
  // The manifest on disk is the one returned.
  EXPECT_EQ(TensorCache::load(out + "/ndarray-cache.json").to_json(), r.cache.to_json());
  std::set<std::string> components;
  for (const TensorShard& s : r.cache.shards) {
    const std::vector<uint8_t> bytes = test::read_bytes(fs::path(out) / s.data_path);
    Sha256 h;
    h.update(bytes);
    const Sha256::Digest digest = h.finish();
    EXPECT_EQ(bytes.size(), s.nbytes) << s.data_path;
    EXPECT_EQ(Sha256::sri(digest), s.integrity) << s.data_path;
    EXPECT_NE(s.data_path.find(Sha256::hex(digest).substr(0, 16)), std::string::npos) << s.data_path;
    EXPECT_EQ(s.data_path.rfind(s.component() + "-", 0), 0u) << s.data_path;
    components.insert(s.component());
    for (const CachedTensor& t : s.tensors) EXPECT_EQ(t.byte_offset % 4, 0u) << t.name;
  }
  EXPECT_EQ(components, (std::set<std::string>{"text_encoder", "unet", "vae"}));
}

TEST(ConvertOutput, ModelJsonDescribesEveryFile) {
  TempDir dir("websd-convert");
  const std::string out = dir / "model";
  const ConvertResult r = convert_model(test::convert_options(kSd15, out));
  const ModelJson m = ModelJson::load(out + "/model.json");
  EXPECT_EQ(m.to_json(), r.model.to_json());
  EXPECT_EQ(m.family, "sd");
  EXPECT_EQ(m.pipeline_class, "StableDiffusionPipeline");
  EXPECT_EQ(m.default_width, 128);
  EXPECT_EQ(m.default_height, 128);
  EXPECT_EQ(m.default_guidance_scale, 7.5);
  EXPECT_EQ(m.default_scheduler, "PNDMScheduler");
  EXPECT_EQ(m.tensor_cache, "ndarray-cache.json");

  const auto files = folder_files(out);
  std::set<std::string> described = {"model.json"};
  uint64_t total = files.at("model.json").size(), weights = 0;
  for (const ModelJson::File& f : m.files) {
    ASSERT_TRUE(files.count(f.path)) << f.path;
    const std::vector<uint8_t>& bytes = files.at(f.path);
    EXPECT_EQ(bytes.size(), f.nbytes) << f.path;
    EXPECT_EQ(sha256_integrity(bytes), f.integrity) << f.path;
    described.insert(f.path);
    total += f.nbytes;
  }
  for (const TensorShard& s : r.cache.shards) {
    described.insert(s.data_path);
    total += s.nbytes;
    weights += s.nbytes;
  }
  std::set<std::string> present;
  for (const auto& [path, bytes] : files) present.insert(path);
  EXPECT_EQ(present, described);  // nothing undescribed, nothing missing
  EXPECT_EQ(m.weight_bytes, weights);
  EXPECT_EQ(m.total_bytes, total);
  for (const char* f : {"model_index.json", "text_encoder/config.json", "unet/config.json", "vae/config.json",
                        "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt"})
    EXPECT_TRUE(m.file(f)) << f;
  // The configs say what the folder's say.
  for (const char* c : {"text_encoder", "unet", "vae"})
    EXPECT_EQ(read_json_file(out + "/" + c + "/config.json"), read_json_file(kSd15 + "/" + c + "/config.json")) << c;
  EXPECT_EQ(files.at("tokenizer/vocab.json"), test::read_bytes(kSd15 + "/tokenizer/vocab.json"));
}

TEST(ConvertOutput, IsTheSameBytesEveryTime) {
  TempDir dir("websd-convert");
  convert_model(test::convert_options(test::fixture("tiny-sdxl/model"), dir / "a"));
  convert_model(test::convert_options(test::fixture("tiny-sdxl/model"), dir / "b"));
  const auto a = folder_files(dir / "a"), b = folder_files(dir / "b");
  EXPECT_GT(a.size(), 10u);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [path, bytes] : a) {
    ASSERT_TRUE(b.count(path)) << path;
    EXPECT_TRUE(bytes == b.at(path)) << path << " differs";
  }
}

TEST(ConvertOutput, SmallerShardsSplitByComponentAndByTensor) {
  TempDir dir("websd-convert");
  const ConvertResult big = convert_model(test::convert_options(kSd15, dir / "big"));
  ConvertOptions o = test::convert_options(kSd15, dir / "small");
  o.shard_bytes = 64 << 10;
  const ConvertResult small = convert_model(o);
  EXPECT_EQ(big.cache.shards.size(), 3u);  // one per component at 32 MiB
  EXPECT_GT(small.cache.shards.size(), big.cache.shards.size() + 5);
  int alone = 0;
  std::vector<std::string> order;  // components in shard order: each one's shards are together
  for (const TensorShard& s : small.cache.shards) {
    if (order.empty() || order.back() != s.component()) order.push_back(s.component());
    for (const CachedTensor& t : s.tensors) EXPECT_EQ(t.component(), s.component()) << s.data_path << " mixes components";
    if (s.tensors.size() > 1) {
      EXPECT_LE(s.nbytes, o.shard_bytes) << s.data_path;
    }
    for (const CachedTensor& t : s.tensors)
      if (t.nbytes > o.shard_bytes) {
        EXPECT_EQ(s.tensors.size(), 1u) << t.name << " is larger than a shard and must have its own";
        EXPECT_EQ(t.byte_offset, 0u);
        ++alone;
      }
  }
  EXPECT_GT(alone, 0) << "no tensor of tiny-sd15 is over 64 KiB: the test checks nothing";
  EXPECT_EQ(order.size(), 3u);
  // The same tensors, in the same order, with the same parameters.
  EXPECT_EQ(small.cache.total_params(), big.cache.total_params());
  std::vector<std::string> big_names, small_names;
  for (const TensorShard& s : big.cache.shards)
    for (const CachedTensor& t : s.tensors) big_names.push_back(t.name);
  for (const TensorShard& s : small.cache.shards)
    for (const CachedTensor& t : s.tensors) small_names.push_back(t.name);
  EXPECT_EQ(small_names, big_names);
  test::expect_same_run(test::generate_on_cpu(dir / "small"), test::generate_on_cpu(dir / "big"));
}

TEST(ConvertOutput, ReplacesAnOlderArtifactFolder) {
  TempDir dir("websd-convert");
  const std::string out = dir / "model";
  ConvertOptions o = test::convert_options(kSd15, out);
  o.shard_bytes = 64 << 10;
  const ConvertResult old = convert_model(o);
  test::write_bytes(fs::path(out) / "stale.bin", {1, 2, 3});
  const ConvertResult now = convert_model(test::convert_options(kSd15, out));
  EXPECT_LT(now.cache.shards.size(), old.cache.shards.size());
  EXPECT_FALSE(fs::exists(fs::path(out) / "stale.bin"));
  EXPECT_FALSE(fs::exists(fs::path(out) / old.cache.shards.front().data_path));
  EXPECT_EQ(folder_files(out).size(), now.model.files.size() + now.cache.shards.size() + 1);
  EXPECT_EQ(folder_names(dir.path()), std::vector<std::string>{"model"});
  EXPECT_NO_THROW(ModelSource::open(out));  // every file verifies
}

TEST(ConvertOutput, TakesAnEmptyFolder) {
  TempDir dir("websd-convert");
  fs::create_directory(dir / "model");
  convert_model(test::convert_options(kSd15, dir / "model"));
  EXPECT_TRUE(ModelSource::is_artifact_folder(dir / "model"));
}

TEST(ConvertOutput, RefusesToOverwriteAFolderThatIsNoArtifact) {
  TempDir dir("websd-convert");
  const fs::path out = dir.path() / "photos";
  fs::create_directories(out / "2024");
  test::write_bytes(out / "notes.txt", {'m', 'i', 'n', 'e'});
  test::write_bytes(out / "2024" / "a.jpg", {0xff, 0xd8});
  const auto before = folder_files(out);
  expect_error_naming([&] { convert_model(test::convert_options(kSd15, out.string())); },
                      {out.string(), "is not an artifact model"});
  EXPECT_EQ(folder_files(out), before);
  EXPECT_EQ(folder_names(dir.path()), std::vector<std::string>{"photos"});  // no .partial folder left
  // Nor a plain file.
  test::write_bytes(dir.path() / "model.bin", {1});
  expect_error_naming([&] { convert_model(test::convert_options(kSd15, dir / "model.bin")); }, {"is not an artifact model"});
  EXPECT_EQ(test::read_bytes(dir.path() / "model.bin"), std::vector<uint8_t>{1});
}

TEST(ConvertOutput, AFailedConversionLeavesNothingBehind) {
  TempDir dir("websd-convert");
  // Fails after the staging folder is made: the shard writer refuses the size.
  ConvertOptions o = test::convert_options(kSd15, dir / "model");
  o.shard_bytes = 100;
  expect_error_naming([&] { convert_model(o); }, {"shard size 100 bytes"});
  EXPECT_TRUE(folder_names(dir.path()).empty());
  // Fails before: no such model.
  expect_error_naming([&] { convert_model(test::convert_options(dir / "no-such-model", dir / "model")); }, {"no-such-model"});
  EXPECT_TRUE(folder_names(dir.path()).empty());
  expect_error_naming([&] { convert_model(test::convert_options(kSd15, "")); }, {"no output folder"});
  // An older artifact survives a failed conversion over it untouched.
  convert_model(test::convert_options(kSd15, dir / "model"));
  const auto before = folder_files(dir / "model");
  expect_error_naming([&] { convert_model(o); }, {"shard size"});
  EXPECT_EQ(folder_files(dir / "model"), before);
  EXPECT_EQ(folder_names(dir.path()), std::vector<std::string>{"model"});
}

TEST(ConvertOutput, ReportsProgressUpToTheTotal) {
  TempDir dir("websd-convert");
  ConvertOptions o = test::convert_options(kSd15, dir / "model");
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  o.on_progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  const ConvertResult r = convert_model(o);
  ASSERT_FALSE(calls.empty());
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GT(calls[i].first, calls[i - 1].first);
    EXPECT_EQ(calls[i].second, calls[0].second);
  }
  EXPECT_EQ(calls.back().first, calls.back().second);
  EXPECT_EQ(calls.back().second, static_cast<uint64_t>(r.cache.total_params()) * 2);
}

// Random weights (for benchmarks of models without a checkpoint) have exactly the real shapes.
TEST(ConvertOutput, RandomWeightsHaveTheRealShapes) {
  TempDir dir("websd-convert");
  const ConvertResult real = convert_model(test::convert_options(kSd15, dir / "real"));
  ConvertOptions o = test::convert_options(kSd15, dir / "random");
  o.random_seed = 5;
  const ConvertResult random = convert_model(o);
  // Where a loader accepts two namings it picks the older one for random weights, which have every
  // name: CLIP's "text_model." prefix and the VAE's query/key/value/proj_attn (tiny-sd15 has the
  // newer ones); CLIP also reads the optional position_ids. Apart from that, tensor for tensor.
  const auto names_and_shapes = [](const TensorCache& c) {
    std::vector<std::pair<std::string, Shape>> out;
    for (const TensorShard& s : c.shards)
      for (const CachedTensor& t : s.tensors) {
        std::string name = t.name;
        if (name.rfind("text_encoder/text_model.", 0) == 0) name = "text_encoder/" + name.substr(24);
        if (name == "text_encoder/embeddings.position_ids") continue;
        for (const auto& [legacy, now] : std::vector<std::pair<std::string, std::string>>{
                 {".query.", ".to_q."}, {".key.", ".to_k."}, {".value.", ".to_v."}, {".proj_attn.", ".to_out.0."}})
          if (name.rfind("vae/", 0) == 0 && name.find(legacy) != std::string::npos)
            name.replace(name.find(legacy), legacy.size(), now);
        out.emplace_back(name, t.shape);
      }
    return out;
  };
  const auto want = names_and_shapes(real.cache), got = names_and_shapes(random.cache);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].first, want[i].first) << "tensor " << i;
    ASSERT_EQ(got[i].second, want[i].second) << want[i].first;
  }
  // The random artifact loads like any other.
  CpuBackend backend;
  EXPECT_NO_THROW(TextToImagePipeline::load(ModelSource::open(dir / "random"), backend));
  ASSERT_EQ(random.cache.shards.size(), real.cache.shards.size());
  for (size_t i = 0; i < real.cache.shards.size(); ++i)
    EXPECT_NE(random.cache.shards[i].integrity, real.cache.shards[i].integrity) << "shard " << i << " holds the real weights";
  // Another seed, other weights; the same seed, the same.
  o.output = dir / "random-again";
  EXPECT_EQ(convert_model(o).cache.to_json(), random.cache.to_json());
  o.output = dir / "random-6";
  o.random_seed = 6;
  EXPECT_NE(convert_model(o).cache.shards[0].integrity, random.cache.shards[0].integrity);
}

}  // namespace
}  // namespace websd
