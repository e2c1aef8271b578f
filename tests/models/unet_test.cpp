#include "models/unet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "models/loader_test_util.h"
#include "support/fixtures.h"

namespace websd {
namespace {

namespace fs = std::filesystem;

const std::string kTinyUnet = test::fixture("tiny-sd15/model/unet");

// The published config of runwayml/stable-diffusion-v1-5's UNet.
const char* kSd15Config = R"({
  "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
  "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
  "cross_attention_dim": 768,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
  "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
})";

HostTensor ramp(Shape shape, float scale) {
  HostTensor t(std::move(shape));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = scale * std::sin(0.37f * static_cast<float>(i));
  return t;
}

void expect_finite(const HostTensor& t) {
  for (float v : t.data) ASSERT_TRUE(std::isfinite(v));
}

// The tiny SD 1.5 UNet's folder with `edit` applied to its config.json; returns the folder.
template <class F>
std::string edited_tiny_unet(test::TempComponent& tmp, F&& edit) {
  edit(tmp.config);
  return tmp.with_original_weights();
}

TEST(UNetTest, TinySd15MatchesDiffusers) {
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::load(kTinyUnet, be);
  SafetensorsFile ref(test::fixture("tiny-sd15/components.safetensors"));
  const HostTensor timesteps = ref.read("unet_timestep");
  Tensor out = unet.forward(be.upload(ref.read("unet_sample")), timesteps.data, be.upload(ref.read("unet_context")));
  const HostTensor got = be.to_host(out), want = ref.read("unet_out");
  EXPECT_TENSOR_MATCHES_DIFFUSERS(got, want, test::kReadmeComponentMaxAbs);
  std::cout << "tiny-sd15 UNet max abs error " << test::compare(got.data, want.data).max_abs << "\n";
}

// The steps of a generation share one TextContext: text_context() makes every cross-attention
// layer's keys and values (two linear layers each) up front, so each step does the same work as
// the next and gives the same output as a forward pass on its own.
TEST(UNetTest, StepsSharingATextContextMakeTheKeysAndValuesOnce) {
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::load(kTinyUnet, be);
  SafetensorsFile ref(test::fixture("tiny-sd15/components.safetensors"));
  const HostTensor timesteps = ref.read("unet_timestep");
  const Tensor sample = be.upload(ref.read("unet_sample")), states = be.upload(ref.read("unet_context"));
  const std::vector<float> alone = be.download(unet.forward(sample, timesteps.data, states));
  const auto kernels_of = [&](const auto& work) {
    const uint64_t before = be.stats().kernels;
    work();
    return be.stats().kernels - before;
  };
  std::optional<TextContext> context;
  // tiny-sd15, laid out as SD 1.5: a transformer after each resnet of three down levels (2 each)
  // and of three up levels (3 each), and one in the mid-block: 16 cross-attention layers.
  EXPECT_EQ(kernels_of([&] { context.emplace(unet.text_context(states)); }), 2u * 16u);
  const auto step = [&] { EXPECT_EQ(be.download(unet.forward(sample, timesteps.data, *context)), alone); };
  const uint64_t first = kernels_of(step), second = kernels_of(step);
  EXPECT_EQ(first, second);
  // A step on its own context makes the keys and values itself.
  TextContext lazy(states);
  EXPECT_EQ(kernels_of([&] { be.download(unet.forward(sample, timesteps.data, lazy)); }), first + 2u * 16u);

  test::expect_error_naming([&] { unet.text_context(be.upload(HostTensor({2, 77}))); }, {"context", "[2, 77]"});
  test::expect_error_naming([&] { unet.text_context(be.upload(HostTensor({2, 77, 5}))); },
                            {"5 channels", "cross_attention_dim"});
}

TEST(UNetTest, TinySdxlTextTimeMatchesDiffusers) {
  const std::string dir = test::fixture("tiny-sdxl");
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::load(dir + "/model/unet", be);
  ASSERT_TRUE(unet.config().text_time);
  SafetensorsFile ref(dir + "/components.safetensors");
  const HostTensor timesteps = ref.read("unet_timestep");
  const Tensor added = unet.added_conditioning(ref.read("unet_text_embeds"), ref.read("unet_time_ids"));
  Tensor out = unet.forward(be.upload(ref.read("unet_sample")), timesteps.data, be.upload(ref.read("unet_context")), &added);
  const HostTensor got = be.to_host(out), want = ref.read("unet_out");
  EXPECT_TENSOR_MATCHES_DIFFUSERS(got, want, test::kReadmeComponentMaxAbs);
  std::cout << "tiny-sdxl UNet max abs error " << test::compare(got.data, want.data).max_abs << "\n";

  const Tensor sample = be.upload(ref.read("unet_sample")), context = be.upload(ref.read("unet_context"));
  test::expect_error_naming([&] { unet.forward(sample, timesteps.data, context); }, {"text_time", "added_conditioning"});
  // One row per batch entry: conditioning for one entry more than the sample has does not fit.
  const HostTensor text = ref.read("unet_text_embeds"), ids = ref.read("unet_time_ids");
  const int64_t rows = sample.dim(0) + 1;
  HostTensor more_text({rows, text.shape[1]}), more_ids({rows, ids.shape[1]});
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(text.data.begin(), text.shape[1], more_text.data.begin() + r * text.shape[1]);
    std::copy_n(ids.data.begin(), ids.shape[1], more_ids.data.begin() + r * ids.shape[1]);
  }
  const Tensor too_many = unet.added_conditioning(more_text, more_ids);
  test::expect_error_naming([&] { unet.forward(sample, timesteps.data, context, &too_many); }, {"added conditioning"});
}

TEST(UNetTest, TinyShapesLoadsAndGivesFiniteOutput) {
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::load(test::asset("tiny-shapes/model/unet"), be);
  EXPECT_EQ(unet.config().block_out_channels, (std::vector<int>{64, 128, 128}));
  const std::vector<float> timesteps = {981.0f};
  Tensor out = unet.forward(be.upload(ramp({1, 4, 16, 16}, 1.0f)), timesteps, be.upload(ramp({1, 77, 32}, 0.5f)));
  const HostTensor got = be.to_host(out);
  EXPECT_EQ(got.shape, (Shape{1, 4, 16, 16}));
  expect_finite(got);
}

// 18×14 latents are not divisible by 2³: the down path rounds up (18→9→5→3) and the up path must
// upsample to each skip connection's size rather than double.
TEST(UNetTest, OddLatentSizeUpsamplesToTheSkipSizes) {
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::load(kTinyUnet, be);
  const std::vector<float> timesteps = {500.0f, 20.5f};
  Tensor out = unet.forward(be.upload(ramp({2, 4, 18, 14}, 1.0f)), timesteps, be.upload(ramp({2, 77, 32}, 0.5f)));
  const HostTensor got = be.to_host(out);
  EXPECT_EQ(got.shape, (Shape{2, 4, 18, 14}));
  expect_finite(got);
}

TEST(UNetTest, RandomSd15BuildsFromConfigAlone) {
  test::TempComponent tmp(kTinyUnet);
  const std::string dir = edited_tiny_unet(tmp, [](nlohmann::json& cfg) { cfg = nlohmann::json::parse(kSd15Config); });
  const UNetConfig cfg = UNetConfig::load(dir + "/config.json");
  EXPECT_EQ(cfg.attention_heads, (std::vector<int>{8, 8, 8, 8}));
  EXPECT_EQ(cfg.cross_attention_dim, (std::vector<int>{768, 768, 768, 768}));
  EXPECT_EQ(cfg.time_embed_dim, 1280);
  EXPECT_EQ(cfg.up_transformer_layers, (std::vector<std::vector<int>>(4, {1, 1, 1})));
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::random(cfg, be, 7);
  EXPECT_EQ(unet.config().block_out_channels, (std::vector<int>{320, 640, 1280, 1280}));
}

TEST(UNetTest, RandomTinyModelIsDeterministicAndFinite) {
  const UNetConfig cfg = UNetConfig::load(kTinyUnet + "/config.json");
  CpuBackend be;
  const std::vector<float> timesteps = {10.0f};
  const HostTensor sample = ramp({1, 4, 8, 8}, 1.0f), context = ramp({1, 5, 32}, 1.0f);
  auto run = [&](uint64_t seed) {
    UNet2DConditionModel unet = UNet2DConditionModel::random(cfg, be, seed);
    return be.to_host(unet.forward(be.upload(sample), timesteps, be.upload(context)));
  };
  const HostTensor a = run(3), b = run(3), c = run(4);
  expect_finite(a);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
}

// SDXL's architecture features on the tiny model's sizes: text_time added conditioning (64 text
// features + 6 time ids × 8), linear projections, per-level heads and transformer depths.
TEST(UNetTest, RandomSdxlStyleModelTakesAddedConditioning) {
  test::TempComponent tmp(kTinyUnet);
  const std::string dir = edited_tiny_unet(tmp, [](nlohmann::json& cfg) {
    cfg["addition_embed_type"] = "text_time";
    cfg["addition_time_embed_dim"] = 8;
    cfg["projection_class_embeddings_input_dim"] = 112;
    cfg["use_linear_projection"] = true;
    cfg["attention_head_dim"] = {2, 4, 4, 4};
    cfg["transformer_layers_per_block"] = {1, 2, 1, 1};
  });
  const UNetConfig cfg = UNetConfig::load(dir + "/config.json");
  EXPECT_EQ(cfg.up_transformer_layers[2], (std::vector<int>{2, 2, 2}));
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::random(cfg, be, 1);
  const std::vector<float> timesteps = {999.0f};
  const Tensor sample = be.upload(ramp({1, 4, 8, 8}, 1.0f)), context = be.upload(ramp({1, 7, 32}, 1.0f));
  const HostTensor text_embeds = ramp({1, 64}, 1.0f);
  const Tensor added = unet.added_conditioning(text_embeds, HostTensor({1, 6}, {128, 128, 0, 0, 128, 128}));
  const HostTensor got = be.to_host(unet.forward(sample, timesteps, context, &added));
  EXPECT_EQ(got.shape, (Shape{1, 4, 8, 8}));
  expect_finite(got);

  test::expect_error_naming([&] { unet.forward(sample, timesteps, context); }, {"text_time", "time_ids"});
  const HostTensor short_ids({1, 5}, {128, 128, 0, 0, 128});
  test::expect_error_naming([&] { unet.added_conditioning(text_embeds, short_ids); },
                            {"projection_class_embeddings_input_dim"});
  test::expect_error_naming([&] { unet.added_conditioning(ramp({2, 64}, 1.0f), short_ids); }, {"same N"});
}

TEST(UNetTest, PerResnetTransformerDepthsNeedTheReverseList) {
  test::TempComponent tmp(kTinyUnet);
  const std::string dir = edited_tiny_unet(tmp, [](nlohmann::json& cfg) {
    cfg["transformer_layers_per_block"] = {{1, 2}, 1, 1, 3};
    cfg["reverse_transformer_layers_per_block"] = {3, 1, {1, 2, 1}, 1};
  });
  const UNetConfig cfg = UNetConfig::load(dir + "/config.json");
  EXPECT_EQ(cfg.down_transformer_layers[0], (std::vector<int>{1, 2}));
  EXPECT_EQ(cfg.mid_transformer_layers, 3);
  EXPECT_EQ(cfg.up_transformer_layers[2], (std::vector<int>{1, 2, 1}));
  EXPECT_EQ(cfg.up_transformer_layers[3], (std::vector<int>{1, 1, 1}));
}

TEST(UNetTest, ForwardRejectsInputsThatDoNotFitTheConfig) {
  CpuBackend be;
  UNet2DConditionModel unet = UNet2DConditionModel::load(kTinyUnet, be);
  const std::vector<float> one = {1.0f}, two = {1.0f, 2.0f};
  const Tensor sample = be.upload(ramp({1, 4, 8, 8}, 1.0f)), context = be.upload(ramp({1, 7, 32}, 1.0f));
  test::expect_error_naming([&] { unet.forward(be.upload(ramp({1, 3, 8, 8}, 1.0f)), one, context); }, {"sample"});
  test::expect_error_naming([&] { unet.forward(sample, two, context); }, {"timesteps"});
  test::expect_error_naming(
      [&] {
        unet.forward(sample, one, be.upload(ramp({1, 7, 16}, 1.0f)));
      },
      {"cross_attention_dim"});
  const Tensor added = be.upload(ramp({1, 64}, 1.0f));
  test::expect_error_naming([&] { unet.forward(sample, one, context, &added); }, {"text_time"});
  test::expect_error_naming([&] { unet.added_conditioning(ramp({1, 64}, 1.0f), HostTensor({1, 6})); }, {"text_time"});
}

TEST(UNetTest, UnknownConfigFieldIsRejectedByName) {
  test::TempComponent tmp(kTinyUnet);
  const std::string config =
      edited_tiny_unet(tmp, [](nlohmann::json& cfg) { cfg["some_new_option"] = true; }) + "/config.json";
  test::expect_error_naming([&] { UNetConfig::load(config); }, {config, "some_new_option"});
}

TEST(UNetTest, UnsupportedConfigValuesAreRejectedByName) {
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"act_fn", "gelu"},
      {"down_block_types",
       {"SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
      {"mid_block_type", nullptr},
      {"addition_embed_type", "text_image"},
      {"class_embed_type", "timestep"},
      {"only_cross_attention", {false, true, false, false}},
      {"time_cond_proj_dim", 256},
      {"resnet_time_scale_shift", "scale_shift"},
      {"layers_per_block", {2, 2}},
      {"attention_head_dim", 33},
      {"norm_num_groups", 24},
      {"transformer_layers_per_block", {{1, 1}, 1, 1, 1}},
      {"_class_name", "UNet2DModel"},
      // Found with tests/fuzz/config_fuzzer.cpp: 10^9 resnets a block asked for 4 GB of per-resnet
      // lists; 10^9 channels overflowed the default time embedding width (4 × channels).
      {"layers_per_block", 1000000000},
      {"block_out_channels", 1000000000},
  };
  for (const auto& [field, value] : cases) {
    SCOPED_TRACE(field);
    test::TempComponent tmp(kTinyUnet);
    // Init-captures: Clang 14 (Emscripten 3.1.6's) cannot capture structured bindings.
    const std::string config =
        edited_tiny_unet(tmp, [&f = field, &v = value](nlohmann::json& cfg) { cfg[f] = v; }) + "/config.json";
    // Per-resnet depths are only ambiguous for the up path, so the missing field is named.
    const std::string named = field == "transformer_layers_per_block" ? "reverse_transformer_layers_per_block" : field;
    test::expect_error_naming([&] { UNetConfig::load(config); }, {config, "'" + named + "'"});
  }
}

TEST(UNetTest, WeightsThatDoNotMatchTheConfigAreRejected) {
  CpuBackend be;
  test::TempComponent no_attention(kTinyUnet);  // the checkpoint has attention this config does not use
  const std::string a =
      edited_tiny_unet(no_attention, [](nlohmann::json& cfg) { cfg["down_block_types"][0] = "DownBlock2D"; });
  test::expect_error_naming([&] { UNet2DConditionModel::load(a, be); },
                            {"diffusion_pytorch_model.safetensors", "not used", "down_blocks.0.attentions.0"});

  test::TempComponent fewer_layers(kTinyUnet);
  const std::string b = edited_tiny_unet(fewer_layers, [](nlohmann::json& cfg) { cfg["layers_per_block"] = 1; });
  test::expect_error_naming(
      [&] { UNet2DConditionModel::load(b, be); },
      {"diffusion_pytorch_model.safetensors", "up_blocks.2.resnets.1.norm1.weight", "config.json"});

  test::TempComponent wider(kTinyUnet);
  const std::string c = edited_tiny_unet(wider, [](nlohmann::json& cfg) {
    cfg["block_out_channels"] = {64, 64, 64, 64};
  });
  test::expect_error_naming([&] { UNet2DConditionModel::load(c, be); },
                            {"diffusion_pytorch_model.safetensors", "conv_in.weight", "config.json"});
}

}  // namespace
}  // namespace websd
