// A converted model draws exactly what its source draws: diffusers folders and single files, as
// float16 or float32 artifacts, loaded back through ModelSource on the CPU backend.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "convert/convert_helpers.h"
#include "core/error.h"

namespace websd {
namespace {

using test::TempDir;

struct Model {
  const char* name;
  std::string folder;
  const char* family;
  const char* pipeline_class;
};
void PrintTo(const Model& m, std::ostream* os) { *os << m.folder; }

// The diffusers folder's run, made once per model for all the tests that compare with it.
const GenerateResult& folder_run(const std::string& folder) {
  static std::map<std::string, GenerateResult> runs;
  auto it = runs.find(folder);
  if (it == runs.end()) it = runs.emplace(folder, test::generate_on_cpu(folder)).first;
  return it->second;
}

class ConvertRoundTrip : public ::testing::TestWithParam<Model> {};

TEST_P(ConvertRoundTrip, Float16ArtifactDrawsTheFoldersPicture) {
  const Model& m = GetParam();
  TempDir dir("websd-convert");
  const std::string out = dir / "model";
  const ConvertResult r = convert_model(test::convert_options(m.folder, out));
  EXPECT_EQ(r.model.family, m.family);
  EXPECT_EQ(r.model.pipeline_class, m.pipeline_class);
  EXPECT_EQ(r.model.dtype, "float16");
  for (const TensorShard& s : r.cache.shards)
    for (const CachedTensor& t : s.tensors) ASSERT_EQ(t.dtype, WeightBytes::DType::F16) << t.name;
  const ModelSource source = ModelSource::open(out);
  ASSERT_TRUE(source.artifact().has_value());
  EXPECT_EQ(source.tensor_cache_path(), out + "/ndarray-cache.json");
  test::expect_same_run(test::generate_on_cpu(out), folder_run(m.folder));
}

TEST_P(ConvertRoundTrip, Float32ArtifactDrawsTheFoldersPicture) {
  const Model& m = GetParam();
  TempDir dir("websd-convert");
  const std::string out = dir / "model";
  ConvertOptions o = test::convert_options(m.folder, out);
  o.dtype = WeightBytes::DType::F32;
  const ConvertResult r = convert_model(o);
  EXPECT_EQ(r.model.dtype, "float32");
  EXPECT_EQ(r.cache.metadata["BitsPerParam"], 32);
  for (const TensorShard& s : r.cache.shards)
    for (const CachedTensor& t : s.tensors) {
      ASSERT_EQ(t.dtype, WeightBytes::DType::F32) << t.name;
      ASSERT_EQ(t.nbytes, static_cast<uint64_t>(numel(t.shape)) * 4) << t.name;
    }
  test::expect_same_run(test::generate_on_cpu(out), folder_run(m.folder));
}

INSTANTIATE_TEST_SUITE_P(
    Tiny, ConvertRoundTrip,
    ::testing::Values(Model{"sd15", test::fixture("tiny-sd15/model"), "sd", "StableDiffusionPipeline"},
                      Model{"sdxl", test::fixture("tiny-sdxl/model"), "sdxl", "StableDiffusionXLPipeline"},
                      Model{"shapes", test::asset("tiny-shapes/model"), "sd", "StableDiffusionPipeline"}),
    [](const ::testing::TestParamInfo<Model>& info) { return std::string(info.param.name); });

struct SingleFile {
  const char* name;
  const char* file;
  const char* folder;
};
void PrintTo(const SingleFile& f, std::ostream* os) { *os << f.file; }

class ConvertSingleFile : public ::testing::TestWithParam<SingleFile> {};

// The single file's recipes are applied at conversion: the artifact holds diffusers' tensors, and
// the model's configs (here the folder's, as --config gives them) travel with it.
TEST_P(ConvertSingleFile, DrawsTheFoldersPicture) {
  const std::string folder = test::fixture(GetParam().folder);
  TempDir dir("websd-convert");
  const std::string out = dir / "model";
  ConvertOptions o = test::convert_options(test::fixture(GetParam().file), out);
  o.config_dir = folder;
  convert_model(o);
  const ModelSource source = ModelSource::open(out);
  EXPECT_FALSE(source.checkpoint().has_value());  // an artifact needs neither the file nor its configs
  EXPECT_TRUE(source.artifact().has_value());
  test::expect_same_run(test::generate_on_cpu(out), folder_run(folder));
}

TEST_P(ConvertSingleFile, HoldsTheSameTensorsAsTheFoldersArtifact) {
  const std::string folder = test::fixture(GetParam().folder);
  TempDir dir("websd-convert");
  ConvertOptions o = test::convert_options(test::fixture(GetParam().file), dir / "from-file");
  o.config_dir = folder;
  const ConvertResult from_file = convert_model(o);
  const ConvertResult from_folder = convert_model(test::convert_options(folder, dir / "from-folder"));
  // The same tensors in the same order, hence the same shards, byte for byte.
  EXPECT_EQ(from_file.cache.to_json()["records"], from_folder.cache.to_json()["records"]);
}

INSTANTIATE_TEST_SUITE_P(Tiny, ConvertSingleFile,
                         ::testing::Values(SingleFile{"sd15", "tiny-sd15/tiny-sd15-single.safetensors", "tiny-sd15/model"},
                                           SingleFile{"sdxl", "tiny-sdxl/tiny-sdxl-single.safetensors", "tiny-sdxl/model"}),
                         [](const ::testing::TestParamInfo<SingleFile>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace websd
