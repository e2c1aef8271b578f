// The CPU backend frees an intermediate as soon as the last Tensor referring to it dies; these
// tests hold the models to that: nothing outlives a forward pass, and the peak is a small part
// of everything the pass allocated.
#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet.h"
#include "support/fixtures.h"

namespace websd {
namespace {

struct Usage {
  int64_t leaked, peak_extra, allocated;
};

template <typename F>
Usage measure(CpuBackend& be, F&& forward) {
  const int64_t before = be.live_bytes(), allocated_before = be.allocated_bytes();
  be.reset_peak();
  forward();
  return {be.live_bytes() - before, be.peak_bytes() - before, be.allocated_bytes() - allocated_before};
}

TEST(Memory, UNetFreesIntermediates) {
  CpuBackend be;
  auto unet = UNet2DConditionModel::load(test::fixture("tiny-sd15/model/unet"), be);
  SafetensorsFile ref(test::fixture("tiny-sd15/components.safetensors"));
  const Tensor sample = be.upload(ref.read("unet_sample")), context = be.upload(ref.read("unet_context"));
  const HostTensor t = ref.read("unet_timestep");
  const Usage u = measure(be, [&] { be.to_host(unet.forward(sample, t.data, context)); });
  EXPECT_EQ(u.leaked, 0);
  EXPECT_LT(u.peak_extra * 5, u.allocated) << "peak " << u.peak_extra << " of " << u.allocated << " allocated";
}

TEST(Memory, VaeDecodeFreesIntermediates) {
  CpuBackend be;
  auto vae = AutoencoderKL::load(test::fixture("tiny-sd15/model/vae"), be);
  const Tensor latent = be.upload(SafetensorsFile(test::fixture("tiny-sd15/components.safetensors")).read("vae_latent"));
  const Usage u = measure(be, [&] { be.to_host(vae.decode(latent)); });
  EXPECT_EQ(u.leaked, 0);
  EXPECT_LT(u.peak_extra * 5, u.allocated) << "peak " << u.peak_extra << " of " << u.allocated << " allocated";
}

TEST(Memory, TextEncoderFreesIntermediates) {
  CpuBackend be;
  auto te = ClipTextModel::load(test::fixture("tiny-sd15/model/text_encoder"), be);
  const HostTensor ids = SafetensorsFile(test::fixture("tiny-sd15/components.safetensors")).read("te_input_ids");
  const std::vector<int> tokens(ids.data.begin(), ids.data.end());
  const Usage u = measure(be, [&] { be.to_host(te.forward(tokens, 1).last_hidden_state); });
  EXPECT_EQ(u.leaked, 0);
  // Two layers only, and the output keeps three states: a smaller ratio.
  EXPECT_LT(u.peak_extra * 3, u.allocated) << "peak " << u.peak_extra << " of " << u.allocated << " allocated";
}

}  // namespace
}  // namespace websd
