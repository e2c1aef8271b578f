#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/unet.h"
#include "pipeline/model_index.h"
#include "rng/torch_generator.h"
#include "sched/scheduler.h"
#include "tokenizer/clip_tokenizer.h"

namespace websd {

struct GenerateParams {
  std::string prompt;
  // nullopt behaves like diffusers' negative_prompt=None, "" like an explicit empty string.
  std::optional<std::string> negative_prompt;
  int steps = 50;               // diffusers' num_inference_steps default
  double guidance_scale = 7.5;  // ≤ 1 skips the unconditional branch, as diffusers does
  uint64_t seed = 0;
  int width = 0, height = 0;    // 0: the model's sample_size × the VAE's factor
  // Starting latents instead of torch.randn(seed) (diffusers' latents= argument).
  std::optional<HostTensor> latents;
};

// One stage of a run (the text encoder, each UNet step, the VAE decode), measured on its backend.
struct StageReport {
  std::string name;         // "text_encoder", "unet_step", "vae_decode"
  double ms = 0;            // wall time, the stage's results read back to the host
  uint64_t kernels = 0;     // kernels launched (GPU dispatches)
  int64_t peak_bytes = 0;   // the most device memory held during the stage, weights included
};

struct GenerateResult {
  HostTensor image;  // H×W×3 in [0, 1], before rounding
  HostTensor latents;  // final latents, before the VAE
  HostTensor prompt_embeds;
  std::optional<HostTensor> negative_prompt_embeds;
  std::vector<double> timesteps;
  std::vector<StageReport> stages;  // in order; one unet_step per denoising step
};

// Called after each denoising step with the step number (1-based), the total, and the latents.
using StepCallback = std::function<void(int step, int total, const HostTensor& latents)>;

// diffusers' StableDiffusionPipeline text-to-image, step for step.
class TextToImagePipeline {
 public:
  // random_seed: build the models from their config.json files alone, with Weights::random(seed)
  // in place of a checkpoint, so full-size models can be timed where no weights exist (the
  // pictures are noise).
  static TextToImagePipeline load(const std::string& model_dir, Backend& backend,
                                  std::optional<uint64_t> random_seed = std::nullopt);

  // The model's own scheduler config (scheduler/scheduler_config.json).
  const nlohmann::json& scheduler_config() const { return scheduler_config_; }
  void set_scheduler(std::unique_ptr<Scheduler> scheduler) { scheduler_ = std::move(scheduler); }
  int default_width() const;
  int default_height() const;
  int vae_factor() const { return vae_.downscale_factor(); }

  GenerateResult generate(const GenerateParams& params, const StepCallback& on_step = {});

  // One prompt → the text encoder's last hidden state [1, 77, C].
  HostTensor encode_prompt(const std::string& text) const;

 private:
  TextToImagePipeline(Backend& backend, ModelIndex index, ClipTokenizer tokenizer, ClipTextModel text_encoder,
                      UNet2DConditionModel unet, AutoencoderKL vae, nlohmann::json scheduler_config);
  void validate(const GenerateParams& params, int width, int height) const;

  Backend* backend_;
  ModelIndex index_;
  ClipTokenizer tokenizer_;
  ClipTextModel text_encoder_;
  UNet2DConditionModel unet_;
  AutoencoderKL vae_;
  nlohmann::json scheduler_config_;
  std::unique_ptr<Scheduler> scheduler_;
  TorchGenerator generator_{0};
};

// latents / scaling_factor → VAE → (x / 2 + 0.5) clamped → H×W×3.
HostTensor decode_latents(Backend& backend, const AutoencoderKL& vae, const HostTensor& latents);

}  // namespace websd
