#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "convert/converter.h"

namespace websd::cli {

Runner add_convert_command(CLI::App& app) {
  struct Options {
    std::string model, config, output, dtype = "f16";
    double shard_mib = 32;
    std::optional<uint64_t> random_weights;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "make web artifacts of a model: float16 weight shards, a manifest with their SHA-256, the configs");
  cmd->add_option("--model", o->model,
                  "diffusers model folder or single-file .safetensors checkpoint (with --random-weights: a config folder "
                  "such as assets/configs/sd15)")
      ->required();
  cmd->add_option("--config", o->config, "with a single file: a folder with the model's configs instead of the standard ones")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", o->output, "the artifact folder to write (DIST/NAME)")->required();
  cmd->add_option("--dtype", o->dtype, "weight type in the shards")->capture_default_str()->check(CLI::IsMember({"f16", "f32"}));
  cmd->add_option("--shard-mib", o->shard_mib, "target shard size in MiB")->capture_default_str()->check(CLI::Range(0.001, 2047.0));
  cmd->add_option("--random-weights", o->random_weights, "random weights from this seed instead of checkpoints (for benchmarks)")
      ->check(seed_validator());
  return [o] {
    ConvertOptions options;
    options.model = o->model;
    options.config_dir = o->config;
    options.output = o->output;
    options.dtype = o->dtype == "f32" ? WeightBytes::DType::F32 : WeightBytes::DType::F16;
    options.shard_bytes = static_cast<uint64_t>(o->shard_mib * (1 << 20));
    options.random_seed = o->random_weights;
    ProgressBar bar("converting (MiB)");
    options.on_progress = [&](uint64_t done, uint64_t total) {
      bar.update(static_cast<int>(done >> 20), static_cast<int>(std::max<uint64_t>(total >> 20, 1)));
    };
    const auto start = std::chrono::steady_clock::now();
    const ConvertResult r = convert_model(options);
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "wrote " << o->output << ": " << r.model.family << " (" << r.model.pipeline_class << "), "
              << r.cache.shards.size() << " shards, " << r.cache.total_params() << " parameters in " << r.model.dtype << ", "
              << (r.model.total_bytes >> 20) << " MiB, in " << seconds << " s\n";
    return 0;
  };
}

}  // namespace websd::cli
