#include <chrono>
#include <iostream>
#include <map>

#include "backend/cpu/cpu_backend.h"
#include "cli/commands.h"
#include "cli/peak_memory.h"
#include "cli/progress_bar.h"
#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/text_to_image.h"

namespace websd::cli {
namespace {

struct GenerateOptions {
  std::string model, prompt, negative_prompt, scheduler, scheduler_config, backend = "cpu", output, save_tensors;
  bool has_negative = false;
  int steps = 50, width = 0, height = 0;
  double cfg_scale = 7.5;
  uint64_t seed = 0;
};

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
  throw Error("unknown backend '" + name + "' (the native CLI has: cpu)");
}

int run_generate(const GenerateOptions& o) {
  std::unique_ptr<Backend> backend = make_backend(o.backend);
  TextToImagePipeline pipe = TextToImagePipeline::load(o.model, *backend);
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

  ProgressBar bar("generating");
  const auto start = std::chrono::steady_clock::now();
  GenerateResult r = pipe.generate(params, [&](int step, int total, const HostTensor&) { bar.update(step, total); });
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  write_png(o.output, r.image);
  if (!o.save_tensors.empty()) {
    std::map<std::string, HostTensor> tensors = {{"image", r.image}, {"latents", r.latents}, {"prompt_embeds", r.prompt_embeds}};
    if (r.negative_prompt_embeds) tensors["negative_prompt_embeds"] = *r.negative_prompt_embeds;
    tensors["timesteps"] = HostTensor({static_cast<int64_t>(r.timesteps.size())},
                                      std::vector<float>(r.timesteps.begin(), r.timesteps.end()));
    write_safetensors(o.save_tensors, tensors);
  }
  std::cout << "wrote " << o.output << " (" << r.image.shape[1] << "x" << r.image.shape[0] << ", "
            << o.steps << " steps, " << seconds << " s, peak memory " << static_cast<int>(to_mib(peak_rss_bytes()))
            << " MiB)\n";
  return 0;
}

}  // namespace

Runner add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "text to image with a diffusers model folder");
  cmd->add_option("--model", o->model, "diffusers model folder (model_index.json, unet/, vae/, ...)")->required();
  cmd->add_option("--prompt", o->prompt, "what to draw")->required();
  cmd->add_option("--negative-prompt", o->negative_prompt, "what to steer away from (omitted: diffusers' None)")
      ->each([o](const std::string&) { o->has_negative = true; });
  cmd->add_option("--steps", o->steps, "denoising steps")->capture_default_str()->check(CLI::Range(1, 10000));
  cmd->add_option("--cfg-scale", o->cfg_scale, "classifier-free guidance scale (≤ 1 disables guidance)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "torch CPU generator seed for the starting noise")->capture_default_str();
  cmd->add_option("--width", o->width, "picture width, a multiple of the VAE factor (default: the model's)");
  cmd->add_option("--height", o->height, "picture height, a multiple of the VAE factor (default: the model's)");
  auto* preset = cmd->add_option("--scheduler", o->scheduler, "scheduler in place of the model's own")
                     ->check(CLI::IsMember({"pndm", "dpm++2m", "dpm++2m-karras", "euler", "euler-karras", "ddim", "lcm"}));
  cmd->add_option("--scheduler-config", o->scheduler_config, "a diffusers scheduler_config.json to use instead")
      ->check(CLI::ExistingFile)
      ->excludes(preset);
  cmd->add_option("--backend", o->backend, "compute backend")->capture_default_str()->check(CLI::IsMember({"cpu"}));
  cmd->add_option("-o,--output", o->output, "where to write the PNG")->required();
  cmd->add_option("--save-tensors", o->save_tensors, "also write image, latents and embeddings as safetensors");
  return [o] { return run_generate(*o); };
}

}  // namespace websd::cli
