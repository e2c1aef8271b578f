// The UNet options SD 2.x checkpoints set: linear projections in the transformers, a head count
// per level (attention_head_dim [5, 10, 20, 20]), cross_attention_dim 1024, upcast_attention.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "models/loader_test_util.h"
#include "models/unet.h"
#include "support/fixtures.h"

namespace websd {
namespace {

const std::string kTinyUnet = test::fixture("tiny-sd15/model/unet");
const char* kWeightsFile = "diffusion_pytorch_model.safetensors";

// The published config of stabilityai/stable-diffusion-2-1's UNet.
const char* kSd21Config = R"({
  "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
  "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
  "center_input_sample": false, "cross_attention_dim": 1024,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1, "dual_cross_attention": false, "flip_sin_to_cos": true, "freq_shift": 0,
  "in_channels": 4, "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05,
  "norm_num_groups": 32, "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4,
  "sample_size": 96, "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
  "upcast_attention": true, "use_linear_projection": true
})";

// The reference input of the tiny SD 1.5 UNet, run through the UNet in `dir`.
HostTensor run(const std::string& dir) {
  CpuBackend be;
  SafetensorsFile ref(test::fixture("tiny-sd15/components.safetensors"));
  const UNet2DConditionModel unet = UNet2DConditionModel::load(dir, be);
  const HostTensor timesteps = ref.read("unet_timestep");
  return be.to_host(unet.forward(be.upload(ref.read("unet_sample")), timesteps.data, be.upload(ref.read("unet_context"))));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(UNetSd2, ConfigResolvesPerLevelHeads) {
  test::TempComponent tmp(kTinyUnet);
  tmp.config = nlohmann::json::parse(kSd21Config);
  const UNetConfig cfg = UNetConfig::load(tmp.with_original_weights() + "/config.json");
  EXPECT_EQ(cfg.attention_heads, (std::vector<int>{5, 10, 20, 20}));  // 64 channels per head everywhere
  EXPECT_TRUE(cfg.use_linear_projection);
  EXPECT_EQ(cfg.cross_attention_dim, (std::vector<int>(4, 1024)));
  EXPECT_EQ(cfg.sample_height, 96);
}

// use_linear_projection stores proj_in/proj_out as Linear [out, in] instead of 1x1 convolutions
// [out, in, 1, 1]: the same map, so the same weights in the other layout give the same output.
TEST(UNetSd2, LinearProjectionEqualsTheConvolutionItReplaces) {
  test::TempComponent tmp(kTinyUnet);
  tmp.config["use_linear_projection"] = true;
  const std::string dir = tmp.with_rewritten_weights(kWeightsFile, [](std::map<std::string, HostTensor>& tensors) {
    int reshaped = 0;
    for (auto& [name, t] : tensors)
      if ((ends_with(name, "proj_in.weight") || ends_with(name, "proj_out.weight")) && t.shape.size() == 4) {
        t.shape = {t.shape[0], t.shape[1]};
        ++reshaped;
      }
    EXPECT_EQ(reshaped, 2 * 16);  // 16 transformers: 3 down blocks × 2, 3 up blocks × 3, the mid block
  });
  EXPECT_LE(test::compare(run(dir).data, run(kTinyUnet).data).max_abs, 1e-6);

  // The conv layout under use_linear_projection is a shape mismatch, named.
  test::TempComponent wrong(kTinyUnet);
  wrong.config["use_linear_projection"] = true;
  const std::string wrong_dir = wrong.with_original_weights();
  CpuBackend be;
  test::expect_error_naming([&] { UNet2DConditionModel::load(wrong_dir, be); }, {"proj_in.weight"});
}

// The tiny SD 2.x UNet against diffusers: per-level heads (attention_head_dim [2, 4, 4, 4]), linear
// projections and upcast_attention together.
TEST(UNetSd2, TinySd2MatchesDiffusers) {
  const std::string dir = test::fixture("tiny-sd2");
  CpuBackend be;
  const UNet2DConditionModel unet = UNet2DConditionModel::load(dir + "/model/unet", be);
  EXPECT_EQ(unet.config().attention_heads, (std::vector<int>{2, 4, 4, 4}));
  EXPECT_TRUE(unet.config().use_linear_projection);
  SafetensorsFile ref(dir + "/components.safetensors");
  const HostTensor timesteps = ref.read("unet_timestep");
  const HostTensor got = be.to_host(
      unet.forward(be.upload(ref.read("unet_sample")), timesteps.data, be.upload(ref.read("unet_context"))));
  const HostTensor want = ref.read("unet_out");
  const test::Diff d = test::compare(got.data, want.data);
  std::cout << "tiny-sd2 UNet max abs error " << d.max_abs << ", mean " << d.mean_abs << "\n";
  EXPECT_TENSOR_MATCHES_DIFFUSERS(got, want, test::kReadmeComponentMaxAbs);
}

// Which level's head count each transformer uses: with every to_q zeroed except at one level, the
// attention elsewhere is a plain average whatever the heads, so only that level's entry of
// attention_head_dim may change the output. Down level i and up block n-1-i use entry i; the mid
// block the last entry.
TEST(UNetSd2, EachLevelUsesItsOwnHeadCount) {
  const auto prefixes_of_level = [](int level) -> std::set<std::string> {
    switch (level) {
      case 0: return {"down_blocks.0.", "up_blocks.3."};
      case 1: return {"down_blocks.1.", "up_blocks.2."};
      case 2: return {"down_blocks.2.", "up_blocks.1."};
      default: return {"mid_block."};
    }
  };
  for (int live : {1, 3}) {
    SCOPED_TRACE("attention live at level " + std::to_string(live));
    test::TempComponent base(kTinyUnet);
    const auto zero_other_levels = [&](std::map<std::string, HostTensor>& tensors) {
      for (auto& [name, t] : tensors) {
        if (!ends_with(name, "to_q.weight")) continue;
        bool keep = false;
        for (const std::string& p : prefixes_of_level(live)) keep |= name.rfind(p, 0) == 0;
        if (!keep) std::fill(t.data.begin(), t.data.end(), 0.0f);
      }
    };
    const auto output_with_heads = [&](const std::vector<int>& heads) {
      test::TempComponent tmp(kTinyUnet);
      tmp.config["attention_head_dim"] = heads;
      return run(tmp.with_rewritten_weights(kWeightsFile, zero_other_levels));
    };
    const HostTensor uniform = output_with_heads({8, 8, 8, 8});
    for (int changed = 0; changed < 4; ++changed) {
      std::vector<int> heads(4, 8);
      heads[static_cast<size_t>(changed)] = 2;
      const double diff = test::compare(output_with_heads(heads).data, uniform.data).max_abs;
      if (changed == live)
        EXPECT_GT(diff, 1e-4) << "level " << changed;
      else
        EXPECT_LE(diff, 1e-6) << "level " << changed;
    }
  }
}

}  // namespace
}  // namespace websd
