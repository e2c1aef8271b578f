#include "models/autoencoder_kl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "models/loader_test_util.h"
#include "support/fixtures.h"

namespace websd {
namespace {

std::string shapes_dir() { return test::asset("tiny-shapes/model/vae"); }

// The tiny models whose VAE diffusers ran: <model>/model/vae and <model>/components.safetensors.
const char* const kReferenceModels[] = {"tiny-sd15", "tiny-sd2"};

HostTensor reference(const std::string& model, const std::string& name) {
  return SafetensorsFile(test::fixture(model + "/components.safetensors")).read(name);
}

void expect_matches(const std::string& what, const HostTensor& got, const HostTensor& want) {
  SCOPED_TRACE(what);
  const test::Diff d = test::compare(got.data, want.data);
  std::cout << what << " max abs error " << d.max_abs << ", mean " << d.mean_abs << "\n";
  EXPECT_TENSOR_MATCHES_DIFFUSERS(got, want, test::kReadmeComponentMaxAbs);
}

bool all_finite(const HostTensor& t) {
  return std::all_of(t.data.begin(), t.data.end(), [](float v) { return std::isfinite(v); });
}

// A smooth deterministic test pattern in [-1, 1].
HostTensor pattern(const Shape& shape) {
  HostTensor t(shape);
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = std::sin(0.37f * static_cast<float>(i));
  return t;
}

// The fixture's latent is what diffusers' vae.decode() was given: no scaling_factor applied.
TEST(AutoencoderKL, DecodeMatchesDiffusers) {
  CpuBackend be;
  for (const std::string model : kReferenceModels) {
    const AutoencoderKL vae = AutoencoderKL::load(test::fixture(model + "/model/vae"), be);
    const Tensor image = vae.decode(be.upload(reference(model, "vae_latent")));
    expect_matches(model + " vae_decoded", be.to_host(image), reference(model, "vae_decoded"));
  }
}

TEST(AutoencoderKL, EncodeMatchesDiffusers) {
  CpuBackend be;
  for (const std::string model : kReferenceModels) {
    const AutoencoderKL vae = AutoencoderKL::load(test::fixture(model + "/model/vae"), be);
    const AutoencoderKL::Posterior p = vae.encode(be.upload(reference(model, "vae_image")));
    expect_matches(model + " vae_posterior_mean", be.to_host(p.mean), reference(model, "vae_posterior_mean"));
    expect_matches(model + " vae_posterior_std", be.to_host(p.std), reference(model, "vae_posterior_std"));
  }
}

TEST(AutoencoderKL, RunsTinyShapes) {
  CpuBackend be;
  const AutoencoderKL vae = AutoencoderKL::load(shapes_dir(), be);
  EXPECT_FLOAT_EQ(vae.scaling_factor(), 0.978871762752533f);
  EXPECT_FALSE(vae.shift_factor().has_value());
  EXPECT_EQ(vae.downscale_factor(), 8);
  EXPECT_EQ(vae.latent_channels(), 4);

  const HostTensor image = be.to_host(vae.decode(be.upload(pattern({1, 4, 8, 12}))));
  EXPECT_EQ(image.shape, (Shape{1, 3, 64, 96}));
  EXPECT_TRUE(all_finite(image));

  // Odd sizes: each stride-2 downsampler pads only bottom/right, so 36 → 18 → 9 → 4 and 40 → 20 → 10 → 5.
  const AutoencoderKL::Posterior p = vae.encode(be.upload(pattern({2, 3, 36, 40})));
  for (const Tensor* t : {&p.mean, &p.std}) {
    const HostTensor h = be.to_host(*t);
    EXPECT_EQ(h.shape, (Shape{2, 4, 4, 5}));
    EXPECT_TRUE(all_finite(h));
  }
}

// Checkpoints from before diffusers 0.14 name the mid-block attention query/key/value/proj_attn.
TEST(AutoencoderKL, LegacyAttentionNames) {
  test::TempComponent tmp(shapes_dir());
  const std::string dir = tmp.with_rewritten_weights("diffusion_pytorch_model.safetensors", [](auto& tensors) {
    const std::pair<const char*, const char*> renames[] = {
        {"to_q", "query"}, {"to_k", "key"}, {"to_v", "value"}, {"to_out.0", "proj_attn"}};
    for (const char* half : {"encoder", "decoder"})
      for (auto [now, before] : renames)
        for (const char* param : {"weight", "bias"}) {
          const std::string prefix = std::string(half) + ".mid_block.attentions.0.";
          auto node = tensors.extract(prefix + now + "." + param);
          ASSERT_FALSE(node.empty());
          node.key() = prefix + before + "." + param;
          tensors.insert(std::move(node));
        }
  });
  CpuBackend be;
  const Tensor latents = be.upload(pattern({1, 4, 4, 4}));
  const HostTensor want = be.to_host(AutoencoderKL::load(shapes_dir(), be).decode(latents));
  EXPECT_EQ(be.to_host(AutoencoderKL::load(dir, be).decode(latents)).data, want.data);
}

// SD3/Flux-style options: no quant convs, no mid-block attention, a shift factor.
TEST(AutoencoderKL, OptionalPartsFollowConfig) {
  test::TempComponent tmp(shapes_dir());
  tmp.config["use_quant_conv"] = false;
  tmp.config["use_post_quant_conv"] = false;
  tmp.config["mid_block_add_attention"] = false;
  tmp.config["shift_factor"] = 0.0609;
  const std::string dir = tmp.with_rewritten_weights("diffusion_pytorch_model.safetensors", [](auto& tensors) {
    std::erase_if(tensors, [](const auto& entry) {
      return entry.first.starts_with("quant_conv.") || entry.first.starts_with("post_quant_conv.") ||
             entry.first.find(".attentions.") != std::string::npos;
    });
  });
  CpuBackend be;
  const AutoencoderKL vae = AutoencoderKL::load(dir, be);
  EXPECT_EQ(vae.shift_factor(), 0.0609f);
  const HostTensor image = be.to_host(vae.decode(be.upload(pattern({1, 4, 4, 4}))));
  EXPECT_EQ(image.shape, (Shape{1, 3, 32, 32}));
  EXPECT_TRUE(all_finite(image));
  const HostTensor mean = be.to_host(vae.encode(be.upload(pattern({1, 3, 32, 32}))).mean);
  EXPECT_EQ(mean.shape, (Shape{1, 4, 4, 4}));
  EXPECT_TRUE(all_finite(mean));
}

TEST(AutoencoderKL, RejectsBadInput) {
  CpuBackend be;
  const AutoencoderKL vae = AutoencoderKL::load(shapes_dir(), be);
  test::expect_error_naming([&] { vae.decode(be.upload(pattern({1, 3, 8, 8}))); }, {"decode()", "[1, 3, 8, 8]"});
  test::expect_error_naming([&] { vae.encode(be.upload(pattern({3, 64, 64}))); }, {"encode()", "[3, 64, 64]"});
}

struct BadConfig {
  const char* field;
  nlohmann::json value;
  const char* named;  // what the error must name besides config.json
};

class AutoencoderKLBadConfig : public testing::TestWithParam<BadConfig> {};

TEST_P(AutoencoderKLBadConfig, NamesFileAndField) {
  test::TempComponent tmp(shapes_dir());
  tmp.config[GetParam().field] = GetParam().value;
  const std::string dir = tmp.with_original_weights();
  CpuBackend be;
  test::expect_error_naming([&] { AutoencoderKL::load(dir, be); }, {dir + "/config.json", GetParam().named});
}

INSTANTIATE_TEST_SUITE_P(
    Fields, AutoencoderKLBadConfig,
    testing::Values(BadConfig{"act_fn", "gelu", "act_fn"}, BadConfig{"tiling_overlap", 0.25, "tiling_overlap"},
                    BadConfig{"latents_mean", {0.1, 0.2, 0.3, 0.4}, "latents_mean"},
                    BadConfig{"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D", "AttnDownEncoderBlock2D",
                                                   "DownEncoderBlock2D"},
                              "down_block_types"},
                    BadConfig{"up_block_types", {"UpDecoderBlock2D"}, "up_block_types"},
                    BadConfig{"norm_num_groups", 24, "norm_num_groups"},
                    BadConfig{"block_out_channels", nlohmann::json::array(), "block_out_channels"},
                    BadConfig{"latent_channels", 0, "latent_channels"},
                    BadConfig{"use_quant_conv", "yes", "use_quant_conv"}));

TEST(AutoencoderKL, WeightsThatDisagreeWithConfig) {
  CpuBackend be;
  {
    test::TempComponent tmp(shapes_dir());
    tmp.config["block_out_channels"] = {32, 64, 64, 128};
    const std::string dir = tmp.with_original_weights();
    test::expect_error_naming([&] { AutoencoderKL::load(dir, be); },
                              {dir + "/diffusion_pytorch_model.safetensors", "encoder.down_blocks.3.resnets.0."});
  }
  {  // The checkpoint has quant_conv, which this config says is absent.
    test::TempComponent tmp(shapes_dir());
    tmp.config["use_quant_conv"] = false;
    const std::string dir = tmp.with_original_weights();
    test::expect_error_naming([&] { AutoencoderKL::load(dir, be); },
                              {dir + "/diffusion_pytorch_model.safetensors", "quant_conv.bias"});
  }
}

}  // namespace
}  // namespace websd
