// The configs of the released SD 1.5 checkpoint (assets/configs/sd15) load as they are, with the
// sizes and defaults diffusers gives them: the engine is not tuned to the tiny test models.
#include <gtest/gtest.h>

#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet.h"
#include "support/fixtures.h"

namespace websd {
namespace {

TEST(RealConfigs, Sd15TextEncoder) {
  const ClipTextConfig c = ClipTextConfig::load(test::asset("configs/sd15/text_encoder/config.json"));
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
}

TEST(RealConfigs, Sd15Unet) {
  const UNetConfig c = UNetConfig::load(test::asset("configs/sd15/unet/config.json"));
  EXPECT_EQ(c.block_out_channels, (std::vector<int>{320, 640, 1280, 1280}));
  EXPECT_EQ(c.cross_attention_dim.front(), 768);
  EXPECT_EQ(c.sample_width, 64);
}

TEST(RealConfigs, Sd15VaeDefaultsScalingFactor) {
  const AutoencoderKLConfig c = AutoencoderKLConfig::load(test::asset("configs/sd15/vae/config.json"));
  EXPECT_FLOAT_EQ(c.scaling_factor, 0.18215f);  // absent from the 2022 config: diffusers' default
  EXPECT_EQ(c.block_out_channels, (std::vector<int>{128, 256, 512, 512}));
}

}  // namespace
}  // namespace websd
