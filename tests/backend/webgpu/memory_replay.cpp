// GPU memory and dispatches of a full-size model without a GPU: the WebGPU backend's own allocation code (its
// buffer pool, the tensor-core kernels' scratch) driven through a host that allocates nothing and
// runs nothing, shaped like the lent H100 (limits, subgroups of 32, tensor cores or not). Runs the
// UNet step a few times as the denoising loop does, then the VAE decode as the pipeline does
// (pool trimmed, Reuse::Once), and prints what the pool holds beside the weights, the dispatches
// of each UNet step (the steps share one TextContext, as a generation's do) and the pipelines the
// two models compile. A separate
// program (replay_webgpu_memory), not a test: docs/performance.md quotes it, and the device run
// checks it against the real GPU's figures.
//   build/tests/replay_webgpu_memory MODEL_DIR [--f32] [--latents N]
// MODEL_DIR: a diffusers folder's configs (assets/configs/sd15, assets/configs/sdxl); latents:
// the latent side (default: the size the UNet was trained at); the text context is 77 tokens.
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/webgpu/gpu_host.h"
#include "backend/webgpu/webgpu_backend.h"
#include "core/error.h"
#include "models/autoencoder_kl.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/weights.h"

namespace websd {
namespace {

class CountingHost : public GpuHost {
 public:
  explicit CountingHost(bool tensor_cores) {
    limits_.max_storage_buffer_binding_size = 2147483644ull;  // the H100's, through Dawn on Vulkan
    limits_.max_buffer_size = 1ull << 40;
    limits_.max_storage_buffers_per_shader_stage = 16;
    limits_.max_workgroup_storage = 49152;
    limits_.tensor_cores = tensor_cores;
    limits_.subgroup_size = 32;
  }
  uint32_t create_buffer(uint64_t bytes) override {
    sizes_[next_] = bytes;
    held += bytes;
    peak = std::max(peak, held);
    ++created;
    return next_++;
  }
  void destroy_buffer(uint32_t id) noexcept override {
    held -= sizes_[id];
    sizes_.erase(id);
  }
  void write_buffer(uint32_t, uint64_t, std::span<const uint8_t>) override {}
  uint32_t create_pipeline(const std::string&, const std::string&, const std::string&) override { return next_++; }
  void dispatch(uint32_t, std::span<const GpuBinding>, std::span<const uint8_t>, uint32_t, uint32_t, uint32_t) override {}
  void flush() override {}
  std::vector<uint8_t> read_buffer(uint32_t, uint64_t, uint64_t bytes) override { return std::vector<uint8_t>(bytes); }
  GpuLimits limits() const override { return limits_; }

  uint64_t held = 0, peak = 0, created = 0;

 private:
  GpuLimits limits_;
  uint32_t next_ = 1;
  std::map<uint32_t, uint64_t> sizes_;
};

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

Tensor zeros(Backend& be, const Shape& shape) {
  return be.upload(shape, std::vector<float>(static_cast<size_t>(numel(shape))));
}

int run(int argc, char** argv) {
  if (argc < 2) throw Error("usage: replay_webgpu_memory MODEL_DIR [--f32] [--latents N]");
  const std::string dir = argv[1];
  bool tensor_cores = true;
  int64_t side = 0;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--f32")) tensor_cores = false;
    else if (!std::strcmp(argv[i], "--latents") && i + 1 < argc) side = std::stoll(argv[++i]);
    else throw Error(std::string("replay_webgpu_memory: unknown argument ") + argv[i]);
  }
  auto host = std::make_shared<CountingHost>(tensor_cores);
  WebGpuBackend be(host);
  const UNetConfig config = UNetConfig::load(dir + "/unet/config.json");
  if (!side) side = config.sample_height;
  const UNet2DConditionModel unet = UNet2DConditionModel::random(config, be, 0);
  const AutoencoderKL vae = AutoencoderKL::build(AutoencoderKLConfig::load(dir + "/vae/config.json"), Weights::random(be, 1));
  const uint64_t weights = host->held;
  std::printf("%s, %s, latents %lldx%lld: UNet and VAE weights %.1f MiB\n", dir.c_str(),
              tensor_cores ? "tensor cores" : "float32 kernels", static_cast<long long>(side), static_cast<long long>(side),
              mib(weights));

  const std::vector<float> timesteps{999.0f, 999.0f};
  std::optional<Tensor> added;
  if (config.text_time) {
    const int pooled = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim;
    added = unet.added_conditioning(HostTensor({2, pooled}), HostTensor({2, 6}));
  }
  std::optional<TextContext> context(unet.text_context(zeros(be, {2, 77, config.cross_attention_dim.at(0)})));
  for (int step = 0; step < 4; ++step) {
    const uint64_t created = host->created, dispatches = be.stats().kernels;
    be.to_host(unet.forward(zeros(be, {2, config.in_channels, side, side}), timesteps, *context, added ? &*added : nullptr));
    std::printf("UNet step %d: %.1f MiB beside the weights, %llu buffers made, %llu dispatches\n", step + 1,
                mib(host->peak - weights), static_cast<unsigned long long>(host->created - created),
                static_cast<unsigned long long>(be.stats().kernels - dispatches));
  }
  context.reset();
  added.reset();
  be.trim();
  host->peak = host->held;
  be.set_reuse(Backend::Reuse::Once);
  be.to_host(vae.decode(zeros(be, {1, vae.config().latent_channels, side, side})));
  std::printf("VAE decode: %.1f MiB beside the weights\n", mib(host->peak - weights));
  std::printf("pipelines compiled in all: %llu\n", static_cast<unsigned long long>(be.stats().pipelines));
  return 0;
}

}  // namespace
}  // namespace websd

int main(int argc, char** argv) {
  try {
    return websd::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
