#include "models/single_file/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "io/config.h"
#include "models/single_file/config_sizes.h"
#include "support/fixtures.h"

namespace websd {
namespace {

struct Family {
  const char* single_file;
  const char* folder;
  std::vector<std::string> components;
};

class SingleFile : public ::testing::TestWithParam<Family> {};

// Every tensor of every component, read from the single file through the name mapping and its
// recipes (reshaped VAE attention, split OpenCLIP q/k/v, transposed projection), equals the
// diffusers folder's tensor bit for bit, and nothing is left over on either side.
TEST_P(SingleFile, EveryTensorEqualsTheFoldersBitForBit) {
  const Family& f = GetParam();
  const SingleFileCheckpoint ck = SingleFileCheckpoint::open(test::fixture(f.single_file));
  EXPECT_EQ(ck.components(), f.components);
  EXPECT_TRUE(ck.ignored().empty());
  CpuBackend backend;
  size_t checked = 0;
  for (const std::string& component : f.components) {
    SCOPED_TRACE(component);
    const std::vector<std::string> files = Weights::component_files(test::fixture(f.folder) + "/" + component);
    ASSERT_EQ(files.size(), 1u);
    SafetensorsFile folder(files[0]);
    const Weights mapped = ck.weights(component, backend);
    EXPECT_EQ(ck.tensors(component).size(), folder.tensors().size());
    for (const auto& [name, info] : folder.tensors()) {
      const HostTensor want = folder.read(name);
      const HostTensor got = mapped.get_host(name, info.shape);
      ASSERT_EQ(got.data.size(), want.data.size()) << name;
      EXPECT_EQ(std::memcmp(got.data.data(), want.data.data(), want.data.size() * sizeof(float)), 0) << name;
      EXPECT_EQ(ck.file().info(ck.tensors(component).at(name).key).dtype, info.dtype) << name;
      ++checked;
    }
    EXPECT_NO_THROW(mapped.check_all_used());
  }
  // OpenCLIP's fused in_proj weight and bias each become three tensors.
  size_t fused = 0;
  for (const auto& [name, info] : ck.file().tensors()) fused += name.find(".attn.in_proj_") != std::string::npos;
  EXPECT_EQ(fused, f.components.size() == 4 ? 4u : 0u);
  EXPECT_EQ(checked, ck.file().tensors().size() + 2 * fused);
}

// The sizes read from the weights are the folder's config values.
TEST_P(SingleFile, SizesFromTheWeightsAreTheFoldersConfig) {
  const Family& f = GetParam();
  const SingleFileCheckpoint ck = SingleFileCheckpoint::open(test::fixture(f.single_file));
  for (const std::string& component : f.components) {
    SCOPED_TRACE(component);
    const nlohmann::json config = read_json_file(test::fixture(f.folder) + "/" + component + "/config.json");
    const single_file::DiffusersTensors& t = ck.tensors(component);
    const nlohmann::json sizes = component == "unet"  ? single_file::unet_sizes(t)
                                 : component == "vae" ? single_file::vae_sizes(t)
                                                      : single_file::clip_sizes(t);
    EXPECT_GE(sizes.size(), 5u);
    for (const auto& [key, value] : sizes.items()) EXPECT_EQ(value, config.value(key, nlohmann::json())) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, SingleFile,
                         ::testing::Values(Family{"tiny-sd15/tiny-sd15-single.safetensors", "tiny-sd15/model",
                                                  {"unet", "vae", "text_encoder"}},
                                           Family{"tiny-sdxl/tiny-sdxl-single.safetensors", "tiny-sdxl/model",
                                                  {"unet", "vae", "text_encoder", "text_encoder_2"}}));

TEST(SingleFileCheckpoint, DetectsTheFamily) {
  const SingleFileCheckpoint sd1 = SingleFileCheckpoint::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"));
  EXPECT_EQ(sd1.family(), CheckpointFamily::kSd1);
  EXPECT_EQ(sd1.standard_configs_name(), "sd15");
  const SingleFileCheckpoint xl = SingleFileCheckpoint::open(test::fixture("tiny-sdxl/tiny-sdxl-single.safetensors"));
  EXPECT_EQ(xl.family(), CheckpointFamily::kSdxl);
  EXPECT_EQ(xl.family_name(), "SDXL");
  EXPECT_EQ(xl.standard_configs_name(), "sdxl");
}

// SDXL's size embeddings take what the label_emb projection leaves beside the pooled embedding:
// (112 - 64) / 6 = 8 in the tiny model, (2816 - 1280) / 6 = 256 in SDXL base.
TEST(SingleFileCheckpoint, SdxlTimeEmbeddingWidthFromTheProjection) {
  const SingleFileCheckpoint xl = SingleFileCheckpoint::open(test::fixture("tiny-sdxl/tiny-sdxl-single.safetensors"));
  const std::string standard = test::asset("configs/sdxl/unet/config.json");
  const nlohmann::json c = xl.sized_config("unet", read_json_file(standard), standard);
  const nlohmann::json folder = read_json_file(test::fixture("tiny-sdxl/model/unet/config.json"));
  for (const char* key : {"addition_time_embed_dim", "projection_class_embeddings_input_dim", "block_out_channels",
                          "transformer_layers_per_block", "cross_attention_dim"})
    EXPECT_EQ(c[key], folder[key]) << key;
  // Not in the weights, so SDXL base's: 64-channel heads, the 1024-pixel sample size.
  EXPECT_EQ(c["attention_head_dim"], nlohmann::json({1, 1, 1}));
  EXPECT_EQ(c["sample_size"], 128);
}

TEST(SingleFileCheckpoint, UnknownComponentIsAnError) {
  const SingleFileCheckpoint sd1 = SingleFileCheckpoint::open(test::fixture("tiny-sd15/tiny-sd15-single.safetensors"));
  EXPECT_THROW(sd1.tensors("text_encoder_2"), Error);
}

}  // namespace
}  // namespace websd
