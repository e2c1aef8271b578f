#include "pipeline/text_to_image.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "io/config.h"
#include "rng/torch_generator.h"

namespace websd {

TextToImagePipeline::TextToImagePipeline(Backend& backend, ModelIndex index, ClipTokenizer tokenizer,
                                         ClipTextModel text_encoder, UNet2DConditionModel unet, AutoencoderKL vae,
                                         nlohmann::json scheduler_config)
    : backend_(&backend),
      index_(std::move(index)),
      tokenizer_(std::move(tokenizer)),
      text_encoder_(std::move(text_encoder)),
      unet_(std::move(unet)),
      vae_(std::move(vae)),
      scheduler_config_(std::move(scheduler_config)) {}

TextToImagePipeline TextToImagePipeline::load(const std::string& model_dir, Backend& backend,
                                              std::optional<uint64_t> random_seed) {
  ModelIndex index = ModelIndex::load(model_dir);
  const std::string scheduler_file = index.component("scheduler") + "/scheduler_config.json";
  nlohmann::json scheduler_config = read_json_file(scheduler_file);
  const auto config = [&](const char* component) { return index.component(component) + "/config.json"; };
  const auto random_weights = [&] { return Weights::random(backend, *random_seed); };
  // One after another, so a broken folder is reported at its first component.
  ClipTokenizer tokenizer = ClipTokenizer::from_folder(index.component("tokenizer"));
  ClipTextModel text_encoder = random_seed
                                   ? ClipTextModel::build(ClipTextConfig::load(config("text_encoder")), random_weights())
                                   : ClipTextModel::load(index.component("text_encoder"), backend);
  UNet2DConditionModel unet = random_seed ? UNet2DConditionModel::random(UNetConfig::load(config("unet")), backend, *random_seed)
                                          : UNet2DConditionModel::load(index.component("unet"), backend);
  AutoencoderKL vae = random_seed ? AutoencoderKL::build(AutoencoderKLConfig::load(config("vae")), random_weights())
                                  : AutoencoderKL::load(index.component("vae"), backend);
  TextToImagePipeline p(backend, index, std::move(tokenizer), std::move(text_encoder), std::move(unet), std::move(vae),
                        std::move(scheduler_config));
  p.scheduler_ = load_scheduler(scheduler_file);
  return p;
}

int TextToImagePipeline::default_width() const { return unet_.config().sample_width * vae_.downscale_factor(); }
int TextToImagePipeline::default_height() const { return unet_.config().sample_height * vae_.downscale_factor(); }

HostTensor TextToImagePipeline::encode_prompt(const std::string& text) const {
  const std::vector<int> ids = tokenizer_.encode(text);
  return backend_->to_host(text_encoder_.forward(ids, 1).last_hidden_state);
}

void TextToImagePipeline::validate(const GenerateParams& params, int width, int height) const {
  const int f = vae_.downscale_factor();
  if (width <= 0 || height <= 0 || width % f || height % f)
    throw Error("width and height must be positive multiples of " + std::to_string(f) + " (got " +
                std::to_string(width) + "x" + std::to_string(height) + ")");
  if (params.steps < 1) throw Error("steps must be at least 1 (got " + std::to_string(params.steps) + ")");
  if (!std::isfinite(params.guidance_scale)) throw Error("guidance scale must be a finite number");
}

HostTensor decode_latents(Backend& backend, const AutoencoderKL& vae, const HostTensor& latents) {
  HostTensor scaled = latents;
  const float inv = 1.0f / vae.scaling_factor();
  const float shift = vae.shift_factor().value_or(0.0f);
  for (float& v : scaled.data) v = v * inv + shift;
  HostTensor decoded = backend.to_host(vae.decode(backend.upload(scaled)));
  const int64_t C = decoded.shape[1], H = decoded.shape[2], W = decoded.shape[3];
  HostTensor image({H, W, C});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i)
      image.data[static_cast<size_t>(i * C + c)] = std::clamp(decoded.data[static_cast<size_t>(c * H * W + i)] / 2.0f + 0.5f, 0.0f, 1.0f);
  return image;
}

namespace {

// Measures one stage: every stage ends by reading its result back, so the wall time covers the
// GPU's work too.
class StageTimer {
 public:
  StageTimer(Backend& backend, std::vector<StageReport>& out, std::string name)
      : backend_(backend), out_(out), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {
    backend_.reset_peak();
    kernels_ = backend_.stats().kernels;
  }
  ~StageTimer() {
    const BackendStats s = backend_.stats();
    const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start_;
    out_.push_back({name_, ms.count(), s.kernels - kernels_, s.peak_bytes});
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  Backend& backend_;
  std::vector<StageReport>& out_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  uint64_t kernels_ = 0;
};

}  // namespace

GenerateResult TextToImagePipeline::generate(const GenerateParams& params, const StepCallback& on_step) {
  const int width = params.width ? params.width : default_width();
  const int height = params.height ? params.height : default_height();
  validate(params, width, height);
  Backend& be = *backend_;
  const bool guided = params.guidance_scale > 1.0;

  GenerateResult result;
  {
    StageTimer timer(be, result.stages, "text_encoder");
    result.prompt_embeds = encode_prompt(params.prompt);
    if (guided) result.negative_prompt_embeds = encode_prompt(params.negative_prompt.value_or(""));
  }

  // Unconditional first, as diffusers concatenates [negative, positive].
  Tensor context;
  if (guided) {
    HostTensor both = *result.negative_prompt_embeds;
    both.shape[0] = 2;
    both.data.insert(both.data.end(), result.prompt_embeds.data.begin(), result.prompt_embeds.data.end());
    context = be.upload(both);
  } else {
    context = be.upload(result.prompt_embeds);
  }

  scheduler_->set_timesteps(params.steps);
  result.timesteps = scheduler_->timesteps();

  const int f = vae_.downscale_factor();
  const Shape latent_shape = {1, vae_.latent_channels(), height / f, width / f};
  // One generator for the starting noise and any noise the scheduler's steps draw (LCM), as
  // diffusers passes its generator to both. It is a member so that the scheduler's pointer to it
  // stays valid; each call re-seeds it.
  generator_ = TorchGenerator(params.seed);
  scheduler_->set_generator(&generator_);
  HostTensor latents;
  if (params.latents) {
    if (params.latents->shape != latent_shape)
      throw Error("starting latents have shape " + shape_str(params.latents->shape) + ", expected " + shape_str(latent_shape));
    latents = *params.latents;
  } else {
    latents = generator_.randn(latent_shape);
  }
  const float sigma = static_cast<float>(scheduler_->init_noise_sigma());
  for (float& v : latents.data) v *= sigma;

  const int total = static_cast<int>(result.timesteps.size());
  for (int i = 0; i < total; ++i) {
    const float t = static_cast<float>(result.timesteps[static_cast<size_t>(i)]);
    HostTensor model_input = scheduler_->scale_model_input(latents, static_cast<size_t>(i));
    if (guided) {
      const size_t n = model_input.data.size();
      model_input.shape[0] = 2;
      model_input.data.resize(2 * n);
      std::copy_n(model_input.data.begin(), n, model_input.data.begin() + static_cast<std::ptrdiff_t>(n));
    }
    const std::vector<float> ts(static_cast<size_t>(model_input.shape[0]), t);
    HostTensor noise;
    {
      StageTimer timer(be, result.stages, "unet_step");
      noise = be.to_host(unet_.forward(be.upload(model_input), ts, context));
    }
    if (guided) {
      const size_t n = latents.data.size();
      const float g = static_cast<float>(params.guidance_scale);
      HostTensor combined(latents.shape);
      for (size_t k = 0; k < n; ++k) combined.data[k] = noise.data[k] + g * (noise.data[n + k] - noise.data[k]);
      noise = std::move(combined);
    }
    latents = scheduler_->step(noise, static_cast<size_t>(i), latents);
    if (on_step) on_step(i + 1, total, latents);
  }
  result.latents = latents;
  {
    StageTimer timer(be, result.stages, "vae_decode");
    result.image = decode_latents(be, vae_, latents);
  }
  return result;
}

}  // namespace websd
