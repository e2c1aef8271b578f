#include <chrono>
#include <cstdio>
#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#include "cli/commands.h"
#include "cli/peak_memory.h"
#include "core/error.h"
#include "models/unet.h"
#include "rng/torch_generator.h"

namespace websd::cli {
namespace {

struct BenchOptions {
  std::string model, config;
  int width = 512, height = 512, batch = 2, runs = 1;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One UNet denoising step (batch 2 = classifier-free guidance) on the CPU backend: the unit of
// work that dominates a generation. With --config the weights are random, so a full-size model
// can be measured where its checkpoint cannot be had.
int run_bench(const BenchOptions& o) {
  if (o.width % 8 || o.height % 8 || o.width <= 0 || o.height <= 0)
    throw Error("--width and --height must be positive multiples of 8");
  CpuBackend backend;
  auto start = std::chrono::steady_clock::now();
  UNet2DConditionModel unet = o.model.empty()
                                  ? UNet2DConditionModel::random(UNetConfig::load(o.config), backend, 0)
                                  : UNet2DConditionModel::load((std::filesystem::path(o.model) / "unet").string(), backend);
  const double load_s = seconds_since(start);
  const uint64_t rss_loaded = peak_rss_bytes();

  const UNetConfig& cfg = unet.config();
  TorchGenerator gen(0);
  Tensor sample = backend.upload(gen.randn({o.batch, cfg.in_channels, o.height / 8, o.width / 8}));
  Tensor context = backend.upload(gen.randn({o.batch, 77, cfg.cross_attention_dim.front()}));
  const std::vector<float> timesteps(static_cast<size_t>(o.batch), 999.0f);
  const int64_t weights_bytes = backend.live_bytes();
  backend.reset_peak();
  double best = 1e30;
  for (int i = 0; i < o.runs; ++i) {
    start = std::chrono::steady_clock::now();
    HostTensor out = backend.to_host(unet.forward(sample, timesteps, context));
    best = std::min(best, seconds_since(start));
  }
  std::printf(
      "unet %s, %dx%d, batch %d: load %.2f s, step %.3f s (best of %d); peak RSS %.0f MiB (%.0f MiB after load); "
      "tensors: weights %.0f MiB, peak during the step %.0f MiB\n",
      o.model.empty() ? (o.config + " with random weights").c_str() : o.model.c_str(), o.width, o.height, o.batch, load_s,
      best, o.runs, to_mib(peak_rss_bytes()), to_mib(rss_loaded), to_mib(static_cast<uint64_t>(weights_bytes)),
      to_mib(static_cast<uint64_t>(backend.peak_bytes() - weights_bytes)));
  return 0;
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "time one UNet step and report peak memory (CPU backend)");
  auto* model = cmd->add_option("--model", o->model, "a diffusers model folder")->check(CLI::ExistingDirectory);
  cmd->add_option("--config", o->config, "a UNet config.json, run with random weights")
      ->check(CLI::ExistingFile)
      ->excludes(model);
  cmd->add_option("--width", o->width, "picture width")->capture_default_str();
  cmd->add_option("--height", o->height, "picture height")->capture_default_str();
  cmd->add_option("--batch", o->batch, "UNet batch (2 = with guidance)")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--runs", o->runs, "repetitions; the best is reported")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->callback([cmd, o] {
    if (o->model.empty() && o->config.empty()) throw CLI::RequiredError("--model or --config");
  });
  return [o] { return run_bench(*o); };
}

}  // namespace websd::cli
