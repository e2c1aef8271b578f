// The models on the WebGPU backend against diffusers' outputs in tests/fixtures (the tiny models in
// the real SD 1.5 and SDXL architectures) and against the CPU backend on the same inputs, inside
// the wasm module on a real device: tests/web/webgpu/fixtures.test.mjs installs the JS GPU host
// and calls websd_webgpu_fixtures(fixtures_dir) through ccall({async: true}).
#include <emscripten/emscripten.h>

#include <cstdio>
#include <functional>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/webgpu/js_gpu_host.h"
#include "backend/webgpu/webgpu_backend.h"
#include "backend/webgpu/device_report.h"
#include "io/safetensors.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet.h"
#include "support/tolerances.h"

namespace websd {
namespace {

using device_test::diff;
using device_test::Report;

// The GPU against diffusers: the fixtures README's float32 limit for components and this engine's
// regression limit (support/tolerances.h says why both). The GPU against the CPU backend, both
// float32 arithmetic on the same float16 weights, must agree closer than either does with
// diffusers' README limit.
constexpr double kDiffusersTol = test::kReadmeComponentMaxAbs, kRegressionTol = test::kRegressionMaxAbs,
                 kCpuTol = 2e-4;

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

// Runs `run` on both backends and records the GPU's output against the reference and the CPU's.
void check(Report& r, const std::string& name, const HostTensor& want, CpuBackend& cpu, WebGpuBackend& gpu,
           const std::function<Tensor(Backend&)>& run) {
  try {
    const std::vector<float> on_cpu = cpu.download(run(cpu));
    const std::vector<float> on_gpu = gpu.download(run(gpu));
    const auto vs_ref = diff(on_gpu, want.data), vs_cpu = diff(on_gpu, on_cpu), cpu_ref = diff(on_cpu, want.data);
    r.add(name + " vs diffusers", vs_ref.max, kDiffusersTol, vs_ref.max <= kDiffusersTol,
          "mean " + sci(vs_ref.mean) + "; cpu backend vs diffusers max " + sci(cpu_ref.max));
    r.add(name + " vs diffusers, regression limit", vs_ref.max, kRegressionTol, vs_ref.max <= kRegressionTol,
          "mean " + sci(vs_ref.mean));
    r.add(name + " vs cpu backend", vs_cpu.max, kCpuTol, vs_cpu.max <= kCpuTol, "mean " + sci(vs_cpu.mean));
  } catch (const std::exception& e) {
    r.add(name, -1, kDiffusersTol, false, e.what());
  }
}

std::string run(const std::string& fixtures) {
  Report r;
  CpuBackend cpu;
  WebGpuBackend gpu(make_js_gpu_host());
  const std::string sd15 = fixtures + "/tiny-sd15";
  SafetensorsFile ref(sd15 + "/components.safetensors");

  const HostTensor ids_f = ref.read("te_input_ids");
  const std::vector<int> ids(ids_f.data.begin(), ids_f.data.end());
  check(r, "sd15 text encoder last hidden state", ref.read("te_last_hidden_state"), cpu, gpu, [&](Backend& be) {
    return ClipTextModel::load(sd15 + "/model/text_encoder", be).forward(ids, 1).last_hidden_state;
  });
  check(r, "sd15 text encoder penultimate hidden state", ref.read("te_penultimate_hidden_state"), cpu, gpu,
        [&](Backend& be) {
          return ClipTextModel::load(sd15 + "/model/text_encoder", be).forward(ids, 1).penultimate_hidden_state;
        });
  const HostTensor timesteps = ref.read("unet_timestep");
  check(r, "sd15 unet", ref.read("unet_out"), cpu, gpu, [&](Backend& be) {
    return UNet2DConditionModel::load(sd15 + "/model/unet", be)
        .forward(be.upload(ref.read("unet_sample")), timesteps.data, be.upload(ref.read("unet_context")));
  });
  check(r, "sd15 vae decode", ref.read("vae_decoded"), cpu, gpu, [&](Backend& be) {
    return AutoencoderKL::load(sd15 + "/model/vae", be).decode(be.upload(ref.read("vae_latent")));
  });
  check(r, "sd15 vae encode mean", ref.read("vae_posterior_mean"), cpu, gpu, [&](Backend& be) {
    return AutoencoderKL::load(sd15 + "/model/vae", be).encode(be.upload(ref.read("vae_image"))).mean;
  });
  check(r, "sd15 vae encode std", ref.read("vae_posterior_std"), cpu, gpu, [&](Backend& be) {
    return AutoencoderKL::load(sd15 + "/model/vae", be).encode(be.upload(ref.read("vae_image"))).std;
  });

  // SDXL's UNet (text_time additional embeddings).
  const std::string sdxl = fixtures + "/tiny-sdxl";
  SafetensorsFile xref(sdxl + "/components.safetensors");
  const HostTensor xt = xref.read("unet_timestep");
  check(r, "sdxl unet", xref.read("unet_out"), cpu, gpu, [&](Backend& be) {
    const UNet2DConditionModel unet = UNet2DConditionModel::load(sdxl + "/model/unet", be);
    const Tensor added = unet.added_conditioning(xref.read("unet_text_embeds"), xref.read("unet_time_ids"));
    return unet.forward(be.upload(xref.read("unet_sample")), xt.data, be.upload(xref.read("unet_context")), &added);
  });
  const BackendStats s = gpu.stats();
  r.add("gpu stats", 0, 0, true,
        std::to_string(s.kernels) + " dispatches, peak " + std::to_string(s.peak_bytes >> 10) + " KiB held");
  return r.text();
}

}  // namespace
}  // namespace websd

extern "C" EMSCRIPTEN_KEEPALIVE const char* websd_webgpu_fixtures(const char* fixtures_dir) {
  static std::string report;
  return websd::device_test::entry_point(report, [fixtures_dir] { return websd::run(fixtures_dir); });
}
