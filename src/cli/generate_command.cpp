#include <chrono>
#include <iostream>
#include <map>
#include <optional>

#include "backend/cpu/cpu_backend.h"
#include "cli/commands.h"
#include "cli/node_handoff.h"
#include "cli/peak_memory.h"
#include "cli/progress_bar.h"
#include "cli/stage_report.h"
#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/text_to_image.h"

namespace websd::cli {
namespace {

struct GenerateOptions {
  std::string model, config, prompt, negative_prompt, scheduler, scheduler_config, backend = "cpu", output, save_tensors, report;
  bool has_negative = false;
  int steps = 50, width = 0, height = 0, runs = 1, clip_skip = 0, vae_tile_size = 0;
  bool vae_tiling = false;
  double vae_memory_budget = 0;  // MiB
  std::optional<double> cfg_scale;  // unset: the model family's default
  uint64_t seed = 0;
  std::optional<uint64_t> random_weights;
};

// The flags as given, for the Node CLI, which takes the same ones.
std::vector<std::string> given_flags(const CLI::App& cmd) {
  std::vector<std::string> args = {cmd.get_name()};
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->count() == 0 || opt->get_lnames().empty()) continue;
    if (opt->get_expected_min() == 0) {  // a flag: its name alone
      args.push_back("--" + opt->get_lnames().front());
      continue;
    }
    for (const std::string& value : opt->results()) {
      args.push_back("--" + opt->get_lnames().front());
      args.push_back(value);
    }
  }
  return args;
}

int run_generate(const GenerateOptions& o, const CLI::App& cmd) {
  // The WebGPU backend lives in the WebAssembly build, and so does the loader of artifact models
  // from a URL (verified and cached like in a browser): the Node CLI runs them (cli/node_handoff.h).
  const bool url = o.model.rfind("http://", 0) == 0 || o.model.rfind("https://", 0) == 0;
  if (o.backend == "webgpu" || url) exec_node_cli(given_flags(cmd));
  CpuBackend backend;
  TextToImagePipeline pipe = TextToImagePipeline::load(o.model, backend, o.random_weights, o.config);
  if (!o.scheduler_config.empty()) pipe.set_scheduler(load_scheduler(o.scheduler_config));
  if (!o.scheduler.empty()) pipe.set_scheduler(scheduler_from_preset(o.scheduler, pipe.scheduler_config()));

  GenerateParams params;
  params.prompt = o.prompt;
  if (o.has_negative) params.negative_prompt = o.negative_prompt;
  params.steps = o.steps;
  params.guidance_scale = o.cfg_scale;
  params.seed = o.seed;
  params.width = o.width;
  params.height = o.height;
  params.clip_skip = o.clip_skip;
  params.vae = {o.vae_tiling, o.vae_tile_size, static_cast<int64_t>(o.vae_memory_budget * 1048576.0)};

  // Each run is the whole generation again in this process; the outputs are the last run's.
  GenerateResult r;
  std::vector<double> run_seconds;
  std::vector<uint64_t> run_resident_bytes;
  for (int run = 0; run < o.runs; ++run) {
    ProgressBar bar("generating");
    const auto start = std::chrono::steady_clock::now();
    r = pipe.generate(params, [&](int step, int total, const HostTensor&) { bar.update(step, total); });
    bar.finish();
    run_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    run_resident_bytes.push_back(resident_bytes());
  }
  const double seconds = run_seconds.back();

  GenerationParameters settings = r.parameters;
  settings.model = model_label(o.model);
  write_png(o.output, r.image, {{"parameters", format_parameters(settings)}});
  if (!o.save_tensors.empty()) {
    std::map<std::string, HostTensor> tensors = {{"image", r.image}, {"latents", r.latents}, {"prompt_embeds", r.prompt_embeds}};
    if (r.negative_prompt_embeds) tensors["negative_prompt_embeds"] = *r.negative_prompt_embeds;
    if (r.pooled_prompt_embeds) tensors["pooled_prompt_embeds"] = *r.pooled_prompt_embeds;
    if (r.negative_pooled_prompt_embeds) tensors["negative_pooled_prompt_embeds"] = *r.negative_pooled_prompt_embeds;
    tensors["timesteps"] = HostTensor({static_cast<int64_t>(r.timesteps.size())},
                                      std::vector<float>(r.timesteps.begin(), r.timesteps.end()));
    write_safetensors(o.save_tensors, tensors);
  }
  std::cout << "wrote " << o.output << " (" << r.image.shape[1] << "x" << r.image.shape[0] << ", "
            << o.steps << " steps, " << seconds << " s, peak memory " << static_cast<int>(to_mib(peak_rss_bytes()))
            << " MiB)\n";
  std::cout << format_stages(o.backend, r.stages) << "\n";
  if (o.runs > 1) std::cout << format_runs(run_seconds) << "\n";
  if (!o.report.empty()) write_stages_json(o.report, o.backend, r.stages, run_seconds, run_resident_bytes);
  return 0;
}

}  // namespace

Runner add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "text to image with a diffusers model folder or single-file checkpoint");
  cmd->add_option("--model", o->model,
                  "diffusers model folder (model_index.json, unet/, vae/, ...), an artifact folder (websd convert), a "
                  "single-file .safetensors checkpoint (SD 1.x / SDXL, original layout), or an artifact model's "
                  "http(s) URL (loaded, verified and cached by the Node CLI)")
      ->required();
  cmd->add_option("--config", o->config,
                  "with a single file: a folder with the model's configs (e.g. a diffusers folder of the same "
                  "architecture) instead of the standard ones")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--prompt", o->prompt, "what to draw")->required();
  cmd->add_option("--negative-prompt", o->negative_prompt, "what to steer away from (omitted: diffusers' None)")
      ->each([o](const std::string&) { o->has_negative = true; });
  cmd->add_option("--steps", o->steps, "denoising steps")->capture_default_str()->check(CLI::Range(1, 10000));
  cmd->add_option("--cfg-scale", o->cfg_scale,
                  "classifier-free guidance scale (≤ 1 disables guidance; default: diffusers' 7.5, SDXL 5.0)");
  cmd->add_option("--seed", o->seed, "torch CPU generator seed for the starting noise")
      ->capture_default_str()
      ->check(seed_validator());
  cmd->add_option("--width", o->width, "picture width, a multiple of the VAE factor (default: the model's)");
  cmd->add_option("--height", o->height, "picture height, a multiple of the VAE factor (default: the model's)");
  cmd->add_option("--clip-skip", o->clip_skip,
                  "use the text encoder's hidden state this many layers earlier (diffusers' clip_skip; 0: the usual one)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--vae-tiling", o->vae_tiling,
               "decode in overlapping tiles of the VAE's own size, blended as diffusers' enable_tiling() does");
  cmd->add_option("--vae-tile-size", o->vae_tile_size, "decode in tiles of this many latents a side (a multiple of 4)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--vae-memory-budget", o->vae_memory_budget,
                  "MiB the VAE decode's intermediate tensors may hold; tiles the decode when it would need more")
      ->check(CLI::PositiveNumber);
  auto* preset = cmd->add_option("--scheduler", o->scheduler, "scheduler in place of the model's own")
                     ->check(CLI::IsMember({"pndm", "dpm++2m", "dpm++2m-karras", "euler", "euler-karras", "ddim", "lcm"}));
  cmd->add_option("--scheduler-config", o->scheduler_config, "a diffusers scheduler_config.json to use instead")
      ->check(CLI::ExistingFile)
      ->excludes(preset);
  cmd->add_option("--backend", o->backend, "compute backend (webgpu: runs web/cli/websd-node.mjs under Node)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "webgpu"}));
  cmd->add_option("--random-weights", o->random_weights,
                  "random weights from this seed instead of checkpoints (a config-only folder such as assets/configs/sd15, for timing)")
      ->check(seed_validator());
  cmd->add_option("-o,--output", o->output, "where to write the PNG")->required();
  cmd->add_option("--save-tensors", o->save_tensors, "also write image, latents and embeddings as safetensors");
  cmd->add_option("--report", o->report, "write the per-stage report (ms, kernels, peak memory) as JSON");
  cmd->add_option("--runs", o->runs, "generate this many times in one process (the first run includes warm-up); report the last")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  return [o, cmd] { return run_generate(*o, *cmd); };
}

}  // namespace websd::cli
