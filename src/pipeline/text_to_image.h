#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "models/autoencoder_kl.h"
#include "models/unet.h"
#include "pipeline/latent_preview.h"
#include "pipeline/model_index.h"
#include "pipeline/generation_parameters.h"
#include "pipeline/model_source.h"
#include "pipeline/prompt_encoder.h"
#include "pipeline/vae_tiling.h"
#include "rng/torch_generator.h"
#include "sched/scheduler.h"

namespace websd {

struct GenerateParams {
  // What generate() accepts, checked before anything is allocated, each refusal a message that
  // names the value and the limit. A prompt's first 75 tokens reach the text encoder, a few hundred
  // bytes; the pictures' limits keep a step's activations within a GPU's or a tab's memory.
  static constexpr size_t kMaxPromptBytes = 64 << 10;
  static constexpr int kMaxSide = 4096;
  static constexpr int64_t kMaxPixels = 2048 * 2048;
  static constexpr double kMaxGuidanceScale = 100;

  std::string prompt;
  // nullopt behaves like diffusers' negative_prompt=None, "" like an explicit empty string.
  std::optional<std::string> negative_prompt;
  int steps = 50;               // diffusers' num_inference_steps default
  // ≤ 1 skips the unconditional branch, as diffusers does. nullopt: the family's diffusers default,
  // 7.5 for StableDiffusionPipeline, 5.0 for StableDiffusionXLPipeline.
  std::optional<double> guidance_scale;
  uint64_t seed = 0;
  int width = 0, height = 0;    // 0: the model's sample_size × the VAE's factor
  // diffusers' clip_skip: 0 (None) uses the usual layer, k > 0 the hidden state k layers before it
  // (see PromptEncoder). Applies to the prompt, not the negative prompt, as in diffusers.
  int clip_skip = 0;
  // Starting latents instead of torch.randn(seed) (diffusers' latents= argument).
  std::optional<HostTensor> latents;
  // Whole (the default, as diffusers) or tiled within a memory budget (pipeline/vae_tiling.h).
  VaeDecodeOptions vae;
  // Asked inside every stage, between the models' blocks (Backend::stop_point), with the stage's
  // name ("text_encoder", "unet_step", "vae_decode"); throwing stops the run there, and the
  // exception leaves generate(). The pipeline and its backend serve the next run as before.
  std::function<void(const std::string& stage)> stop_check;
};

// One stage of a run (the text encoder, each UNet step, the VAE decode), measured on its backend.
struct StageReport {
  std::string name;         // "text_encoder", "unet_step", "vae_decode"
  double ms = 0;            // wall time, the stage's results read back to the host
  uint64_t kernels = 0;     // kernels launched (GPU dispatches)
  int64_t peak_bytes = 0;   // the most device memory held during the stage, weights included
  uint64_t pipelines = 0;   // GPU pipelines compiled during the stage (a kernel's first use)
  double compile_ms = 0;    // and the time that took, part of ms
};

struct GenerateResult {
  HostTensor image;  // H×W×3 in [0, 1], before rounding
  HostTensor latents;  // final latents, before the VAE
  HostTensor prompt_embeds;
  std::optional<HostTensor> negative_prompt_embeds;
  // SDXL's pooled text embeddings (the UNet's text_embeds); absent for SD 1.x/2.x.
  std::optional<HostTensor> pooled_prompt_embeds;
  std::optional<HostTensor> negative_pooled_prompt_embeds;
  std::vector<double> timesteps;
  std::vector<StageReport> stages;  // in order; one unet_step per denoising step
  // The settings that made the picture, for its PNG (the model's name is the caller's to add).
  GenerationParameters parameters;
};

// Called after each denoising step with the step number (1-based), the total, and the latents.
using StepCallback = std::function<void(int step, int total, const HostTensor& latents)>;

// diffusers' StableDiffusionPipeline and StableDiffusionXLPipeline text-to-image, step for step;
// model_index.json says which. The families differ only in the prompt encoding (PromptEncoder) and
// SDXL's added UNet conditioning (pooled embeddings and the size/crop time ids); the denoising
// loop is shared.
class TextToImagePipeline {
 public:
  // model: a diffusers folder, an artifact folder or a single-file checkpoint (pipeline/model_source.h), whose configs
  // come from config_dir if given, else from the family's standard configs sized to its weights.
  // random_seed: build the models from their config.json files alone, with Weights::random(seed)
  // in place of a checkpoint, so full-size models can be timed where no weights exist (the
  // pictures are noise).
  static TextToImagePipeline load(const std::string& model, Backend& backend,
                                  std::optional<uint64_t> random_seed = std::nullopt,
                                  const std::string& config_dir = "");
  // From an opened source (its random weights, uploaded artifact tensors or observer set).
  static TextToImagePipeline load(const ModelSource& source, Backend& backend);

  // The model's own scheduler config (scheduler/scheduler_config.json).
  const nlohmann::json& scheduler_config() const { return scheduler_config_; }
  void set_scheduler(std::unique_ptr<Scheduler> scheduler) { scheduler_ = std::move(scheduler); }
  int default_width() const;
  int default_height() const;
  int vae_factor() const { return vae_.downscale_factor(); }
  PipelineFamily family() const { return index_.family; }
  // model_index.json's folder: the model folder, or a single file's config folder.
  const ModelIndex& model_index() const { return index_; }
  double default_guidance_scale() const { return index_.family == PipelineFamily::kStableDiffusionXL ? 5.0 : 7.5; }

  GenerateResult generate(const GenerateParams& params, const StepCallback& on_step = {});

  // The live preview's map for this model's VAE (pipeline/latent_preview.h): fitted on first use
  // to a decode of 8×8 random latents (64 samples for 5 unknowns a colour), then, once asked for,
  // to each generation's final latents and picture (a picture of the model's own kind, which
  // random latents are not: the next generation's preview takes that picture's colours). Call it
  // before generate(), not from a step callback, so that the first fit's buffers are not held
  // through the denoising loop.
  const LatentPreview& latent_preview();

  // One prompt → what the UNet is conditioned on (see PromptEncoder).
  PromptEmbeddings encode_prompt(const std::string& text, int clip_skip = 0) const {
    return prompt_encoder_.encode(text, clip_skip);
  }

 private:
  TextToImagePipeline(Backend& backend, ModelIndex index, PromptEncoder prompt_encoder, UNet2DConditionModel unet,
                      AutoencoderKL vae, nlohmann::json scheduler_config);
  void validate(const GenerateParams& params, int width, int height, double guidance) const;

  Backend* backend_;
  ModelIndex index_;
  PromptEncoder prompt_encoder_;
  UNet2DConditionModel unet_;
  AutoencoderKL vae_;
  nlohmann::json scheduler_config_;
  std::unique_ptr<Scheduler> scheduler_;
  TorchGenerator generator_{0};
  std::optional<LatentPreview> latent_preview_;
};

// SDXL's size and crop conditioning as StableDiffusionXLPipeline passes it by default: original
// size (height, width), crop top-left (0, 0), target size (height, width); [batch, 6], one row per
// batch entry.
HostTensor sdxl_time_ids(int width, int height, int64_t batch);

// latents / scaling_factor → VAE (in tiles of `tile` latents, 0: whole) → (x / 2 + 0.5) clamped → H×W×3.
HostTensor decode_latents(Backend& backend, const AutoencoderKL& vae, const HostTensor& latents, int tile = 0);

}  // namespace websd
