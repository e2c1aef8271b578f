#include "pipeline/text_to_image.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/number_format.h"
#include "io/config.h"
#include "pipeline/model_source.h"
#include "rng/torch_generator.h"

namespace websd {

TextToImagePipeline::TextToImagePipeline(Backend& backend, ModelIndex index, PromptEncoder prompt_encoder,
                                         UNet2DConditionModel unet, AutoencoderKL vae, nlohmann::json scheduler_config)
    : backend_(&backend),
      index_(std::move(index)),
      prompt_encoder_(std::move(prompt_encoder)),
      unet_(std::move(unet)),
      vae_(std::move(vae)),
      scheduler_config_(std::move(scheduler_config)) {}

TextToImagePipeline TextToImagePipeline::load(const std::string& model, Backend& backend,
                                              std::optional<uint64_t> random_seed, const std::string& config_dir) {
  ModelSource source = ModelSource::open(model, config_dir);
  if (random_seed) source.use_random_weights(*random_seed);
  return load(source, backend);
}

TextToImagePipeline TextToImagePipeline::load(const ModelSource& source, Backend& backend) {
  const ModelIndex& index = source.index();
  const std::string scheduler_file = index.component("scheduler") + "/scheduler_config.json";
  nlohmann::json scheduler_config = read_json_file(scheduler_file);
  const auto config = [&](const char* component) { return index.component(component) + "/config.json"; };
  const auto weights = [&](const char* component) { return source.weights(component, backend); };
  const auto text_stage = [&](const char* tokenizer, const char* encoder) {
    ClipTokenizer t = ClipTokenizer::from_folder(index.component(tokenizer));
    return PromptEncoder::TextStage{std::move(t),
                                    ClipTextModel::build(ClipTextConfig::parse(source.config(encoder)), weights(encoder))};
  };
  // One after another, so a broken folder is reported at its first component.
  std::vector<PromptEncoder::TextStage> stages;
  stages.push_back(text_stage("tokenizer", "text_encoder"));
  const bool xl = index.family == PipelineFamily::kStableDiffusionXL;
  if (xl) stages.push_back(text_stage("tokenizer_2", "text_encoder_2"));
  PromptEncoder prompt_encoder(backend, std::move(stages), index.force_zeros_for_empty_prompt);
  UNet2DConditionModel unet = UNet2DConditionModel::build(UNetConfig::parse(source.config("unet")), weights("unet"));
  // SDXL's pooled embeddings and size conditioning have to go somewhere, and a text_time UNet
  // cannot run without them: the pipeline class and the UNet must agree.
  if (unet.config().text_time != xl)
    throw Error(config("unet") + ": " +
                (xl ? "model_index.json names StableDiffusionXLPipeline, whose UNet needs addition_embed_type \"text_time\""
                    : "addition_embed_type \"text_time\" is SDXL's, but model_index.json names " + index.pipeline_class));
  AutoencoderKL vae = AutoencoderKL::build(AutoencoderKLConfig::parse(source.config("vae")), weights("vae"));
  TextToImagePipeline p(backend, index, std::move(prompt_encoder), std::move(unet), std::move(vae),
                        std::move(scheduler_config));
  p.scheduler_ = load_scheduler(scheduler_file);
  return p;
}

int TextToImagePipeline::default_width() const { return unet_.config().sample_width * vae_.downscale_factor(); }
int TextToImagePipeline::default_height() const { return unet_.config().sample_height * vae_.downscale_factor(); }

void TextToImagePipeline::validate(const GenerateParams& params, int width, int height, double guidance) const {
  const int f = vae_.downscale_factor();
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0 || width % f || height % f)
    throw Error("width and height must be positive multiples of " + std::to_string(f) + " (got " + size + ")");
  if (width > GenerateParams::kMaxSide || height > GenerateParams::kMaxSide ||
      int64_t{width} * height > GenerateParams::kMaxPixels)
    throw Error("a " + size + " picture is larger than websd draws: at most " + std::to_string(GenerateParams::kMaxSide) +
                " pixels a side and " + std::to_string(GenerateParams::kMaxPixels) + " in all (2048x2048)");
  if (params.steps < 1) throw Error("steps must be at least 1 (got " + std::to_string(params.steps) + ")");
  if (!(guidance >= 0 && guidance <= GenerateParams::kMaxGuidanceScale))
    throw Error("guidance scale must be a number from 0 to " + shortest_decimal(GenerateParams::kMaxGuidanceScale) + " (got " +
                shortest_decimal(guidance) + ")");
  const auto check_text = [](const std::string& text, const char* what) {
    if (text.size() > GenerateParams::kMaxPromptBytes)
      throw Error(std::string("the ") + what + " is " + std::to_string(text.size()) + " bytes; at most " +
                  std::to_string(GenerateParams::kMaxPromptBytes) + " are accepted (the text encoder reads its first 75 tokens)");
  };
  check_text(params.prompt, "prompt");
  if (params.negative_prompt) check_text(*params.negative_prompt, "negative prompt");
}

HostTensor decode_latents(Backend& backend, const AutoencoderKL& vae, const HostTensor& latents, int tile) {
  HostTensor scaled = latents;
  const float inv = 1.0f / vae.scaling_factor();
  const float shift = vae.shift_factor().value_or(0.0f);
  for (float& v : scaled.data) v = v * inv + shift;
  HostTensor decoded = vae_decode(backend, vae, scaled, tile);
  const int64_t C = decoded.shape[1], H = decoded.shape[2], W = decoded.shape[3];
  HostTensor image({H, W, C});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i)
      image.data[static_cast<size_t>(i * C + c)] = std::clamp(decoded.data[static_cast<size_t>(c * H * W + i)] / 2.0f + 0.5f, 0.0f, 1.0f);
  return image;
}

HostTensor sdxl_time_ids(int width, int height, int64_t batch) {
  const float h = static_cast<float>(height), w = static_cast<float>(width);
  const std::array<float, 6> row = {h, w, 0.0f, 0.0f, h, w};
  HostTensor ids({batch, 6});
  for (int64_t b = 0; b < batch; ++b) std::copy(row.begin(), row.end(), ids.data.begin() + b * 6);
  return ids;
}

namespace {

// Runs f when it goes out of scope, by return or by exception.
template <class F>
class OnExit {
 public:
  explicit OnExit(F f) : f_(std::move(f)) {}
  ~OnExit() { f_(); }
  OnExit(const OnExit&) = delete;
  OnExit& operator=(const OnExit&) = delete;

 private:
  F f_;
};

// Backend::Reuse::Once until the returned guard goes, then Repeating (the default) again.
auto reuse_once(Backend& be) {
  be.set_reuse(Backend::Reuse::Once);
  return OnExit([&be] { be.set_reuse(Backend::Reuse::Repeating); });
}

// The run's stop check (GenerateParams::stop_check) on the backend while one stage runs, told the
// stage's name; none once the returned guard goes.
auto stop_check_in(Backend& be, const GenerateParams& params, std::string stage) {
  if (params.stop_check) be.set_stop_check([&check = params.stop_check, stage = std::move(stage)] { check(stage); });
  return OnExit([&be] { be.set_stop_check(nullptr); });
}

// Measures one stage: every stage ends by reading its result back, so the wall time covers the
// GPU's work too.
class StageTimer {
 public:
  StageTimer(Backend& backend, std::vector<StageReport>& out, std::string name)
      : backend_(backend), out_(out), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {
    backend_.reset_peak();
    before_ = backend_.stats();
  }
  ~StageTimer() {
    const BackendStats s = backend_.stats();
    const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start_;
    out_.push_back({name_, ms.count(), s.kernels - before_.kernels, s.peak_bytes, s.pipelines - before_.pipelines,
                    s.compile_ms - before_.compile_ms});
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  Backend& backend_;
  std::vector<StageReport>& out_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  BackendStats before_;
};

// Two [1, ...] tensors as one batch of 2.
HostTensor batch_of(const HostTensor& first, const HostTensor& second) {
  HostTensor both = first;
  both.shape[0] = 2;
  both.data.insert(both.data.end(), second.data.begin(), second.data.end());
  return both;
}

}  // namespace

GenerateResult TextToImagePipeline::generate(const GenerateParams& params, const StepCallback& on_step) {
  const int width = params.width ? params.width : default_width();
  const int height = params.height ? params.height : default_height();
  const double guidance = params.guidance_scale.value_or(default_guidance_scale());
  validate(params, width, height, guidance);
  const int f = vae_.downscale_factor();
  const Shape latent_shape = {1, vae_.latent_channels(), height / f, width / f};
  // Before any step, so that a tile size or budget the decode cannot keep fails at once.
  const int vae_tile = vae_tile_size(vae_.config(), latent_shape, params.vae);
  Backend& be = *backend_;
  // Between generations the model holds its weights only, after a stopped run too.
  const OnExit trim_at_end([&be] { be.trim(); });
  const bool guided = guidance > 1.0;

  GenerateResult result;
  GenerationParameters& settings = result.parameters;
  settings.prompt = params.prompt;
  settings.negative_prompt = params.negative_prompt.value_or("");
  settings.steps = params.steps;
  describe_sampler(*scheduler_, settings);
  settings.cfg_scale = guidance;
  settings.seed = params.seed;
  settings.width = width;
  settings.height = height;
  settings.clip_skip = params.clip_skip;
  PromptEmbeddings positive, negative;
  // The steps share the text context, so each cross-attention layer's keys and values are made once,
  // here with the text (unconditional first, as diffusers concatenates [negative, positive]); it goes
  // (with them) before the decode.
  std::optional<TextContext> context;
  {
    StageTimer timer(be, result.stages, "text_encoder");
    const auto stop = stop_check_in(be, params, "text_encoder");
    positive = prompt_encoder_.encode(params.prompt, params.clip_skip);
    if (guided) negative = prompt_encoder_.encode_negative(params.negative_prompt, positive);
    context.emplace(unet_.text_context(be.upload(guided ? batch_of(negative.embeds, positive.embeds) : positive.embeds)));
  }
  result.prompt_embeds = positive.embeds;
  result.pooled_prompt_embeds = positive.pooled;
  if (guided) {
    result.negative_prompt_embeds = negative.embeds;
    result.negative_pooled_prompt_embeds = negative.pooled;
  }

  std::optional<Tensor> added;
  if (positive.pooled)
    added = unet_.added_conditioning(guided ? batch_of(*negative.pooled, *positive.pooled) : *positive.pooled,
                                     sdxl_time_ids(width, height, guided ? 2 : 1));

  scheduler_->set_timesteps(params.steps);
  result.timesteps = scheduler_->timesteps();

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
    if (guided) model_input = batch_of(model_input, model_input);
    const std::vector<float> ts(static_cast<size_t>(model_input.shape[0]), t);
    HostTensor noise;
    {
      StageTimer timer(be, result.stages, "unet_step");
      const auto stop = stop_check_in(be, params, "unet_step");
      noise = be.to_host(unet_.forward(be.upload(model_input), ts, *context, added ? &*added : nullptr));
    }
    if (guided) {
      const size_t n = latents.data.size();
      const float g = static_cast<float>(guidance);
      HostTensor combined(latents.shape);
      for (size_t k = 0; k < n; ++k) combined.data[k] = noise.data[k] + g * (noise.data[n + k] - noise.data[k]);
      noise = std::move(combined);
    }
    latents = scheduler_->step(noise, static_cast<size_t>(i), latents);
    if (on_step) on_step(i + 1, total, latents);
  }
  result.latents = latents;
  context.reset();
  added.reset();
  // The UNet's pooled activations are no use to the VAE, whose tensors have other sizes.
  be.trim();
  {
    const auto once = reuse_once(be);  // the decode runs once: idle buffers make room for new sizes
    StageTimer timer(be, result.stages, "vae_decode");
    const auto stop = stop_check_in(be, params, "vae_decode");
    result.image = decode_latents(be, vae_, latents, vae_tile);
  }
  // A picture too small or too plain to determine the map (2×2 latents, say) keeps the one there is.
  if (latent_preview_)
    if (std::optional<LatentPreview> fit = fit_latent_preview(result.latents, result.image)) latent_preview_ = std::move(fit);
  return result;
}

const LatentPreview& TextToImagePipeline::latent_preview() {
  if (!latent_preview_) {
    {
      const auto once = reuse_once(*backend_);
      const HostTensor latents = TorchGenerator(0).randn({1, vae_.config().latent_channels, 8, 8});
      latent_preview_ = fit_latent_preview(latents, decode_latents(*backend_, vae_, latents));
      if (!latent_preview_) throw Error("latent preview: the VAE's response to random latents could not be fitted");
    }
    backend_->trim();
  }
  return *latent_preview_;
}

}  // namespace websd
