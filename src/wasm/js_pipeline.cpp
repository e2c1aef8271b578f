#include "wasm/js_pipeline.h"

#include <emscripten/emscripten.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/webgpu/js_gpu_host.h"
#include "backend/webgpu/webgpu_backend.h"
#include "core/error.h"
#include "wasm/js_parameters.h"
#include "wasm/js_values.h"

namespace websd::wasm {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
  if (name == "webgpu") return std::make_unique<WebGpuBackend>(make_js_gpu_host());
  throw Error("unknown backend '" + name + "' (this build has: cpu, webgpu)");
}

namespace {

// Lets the JavaScript event loop run between steps: on the CPU backend a generation never waits on
// anything else, so without this a worker could not take a cancel message until the picture was
// done (a WebGPU run also waits at each step's read-back).
EM_ASYNC_JS(void, websd_js_yield, (), { await new Promise((resolve) => setTimeout(resolve, 0)); });

// Inside a stage the run yields to the event loop at most this often (a yield costs up to 4 ms in a
// page, where timers nest), so a stop asked for on the CPU backend lands within about this long;
// a WebGPU run also waits at each step's read-back, where JS runs anyway.
constexpr double kStopYieldMs = 100;

std::optional<uint64_t> random_weights_option(const val& options) {
  if (!has_field(options, "randomWeights")) return std::nullopt;
  return seed_field(options, "randomWeights", 0);
}

val stages_to_js(const std::vector<StageReport>& stages) {
  val out = val::array();
  for (const StageReport& s : stages) {
    val stage = val::object();
    stage.set("name", s.name);
    stage.set("ms", s.ms);
    stage.set("kernels", static_cast<double>(s.kernels));
    stage.set("peakBytes", static_cast<double>(s.peak_bytes));
    stage.set("pipelines", static_cast<double>(s.pipelines));
    stage.set("compileMs", s.compile_ms);
    out.call<void>("push", stage);
  }
  return out;
}

val result_to_js(const GenerateResult& r) {
  val out = val::object();
  out.set("image", tensor_to_js(r.image));
  out.set("latents", tensor_to_js(r.latents));
  out.set("promptEmbeds", tensor_to_js(r.prompt_embeds));
  out.set("negativePromptEmbeds", r.negative_prompt_embeds ? tensor_to_js(*r.negative_prompt_embeds) : val::null());
  out.set("pooledPromptEmbeds", r.pooled_prompt_embeds ? tensor_to_js(*r.pooled_prompt_embeds) : val::null());
  out.set("negativePooledPromptEmbeds",
          r.negative_pooled_prompt_embeds ? tensor_to_js(*r.negative_pooled_prompt_embeds) : val::null());
  const std::vector<float> timesteps(r.timesteps.begin(), r.timesteps.end());
  out.set("timesteps", tensor_to_js(HostTensor({static_cast<int64_t>(timesteps.size())}, timesteps)));
  out.set("stages", stages_to_js(r.stages));
  out.set("parameters", parameters_to_js(r.parameters));
  return out;
}

}  // namespace

JsPipeline::JsPipeline(const std::string& model_dir, const std::string& backend, const val& options)
    : backend_(make_backend(backend)),
      pipe_(TextToImagePipeline::load(model_dir, *backend_, random_weights_option(options),
                                      string_field(options, "config", ""))) {}

JsPipeline::JsPipeline(std::unique_ptr<Backend> backend, const ModelSource& source)
    : backend_(std::move(backend)), pipe_(TextToImagePipeline::load(source, *backend_)) {}

void JsPipeline::begin(const val& options, const val& on_step, const val& should_stop) {
  params_.reset();
  result_.reset();
  error_.reset();
  GenerateParams params;
  if (!has_field(options, "prompt")) throw Error("option 'prompt' is required");
  params.prompt = string_field(options, "prompt", "");
  if (has_field(options, "negativePrompt")) params.negative_prompt = string_field(options, "negativePrompt", "");
  params.steps = int_field(options, "steps", params.steps);
  if (params.steps < 1) throw Error("option 'steps' must be at least 1");
  if (has_field(options, "cfgScale")) params.guidance_scale = number_field(options, "cfgScale", 0);
  params.seed = seed_field(options, "seed", 0);
  params.width = int_field(options, "width", 0);
  params.height = int_field(options, "height", 0);
  params.clip_skip = int_field(options, "clipSkip", 0);
  if (params.clip_skip < 0) throw Error("option 'clipSkip' must be 0 or more");
  params.vae.tiling = bool_field(options, "vaeTiling", false);
  params.vae.tile_size = int_field(options, "vaeTileSize", 0);
  const double budget = number_field(options, "vaeMemoryBudgetMiB", 0);
  if (!(budget >= 0)) throw Error("option 'vaeMemoryBudgetMiB' must be 0 or more");
  params.vae.memory_budget = static_cast<int64_t>(budget * 1048576.0);
  select_scheduler(string_field(options, "scheduler", ""), string_field(options, "schedulerConfig", ""));
  preview_every_ = int_field(options, "previewEvery", 0);
  if (preview_every_ < 0) throw Error("option 'previewEvery' must be 0 (no previews) or more");
  on_step_ = on_step.typeOf().as<std::string>() == "function" ? on_step : val::undefined();
  should_stop_ = should_stop.typeOf().as<std::string>() == "function" ? should_stop : val::undefined();
  if (!should_stop_.isUndefined()) params.stop_check = [this](const std::string& stage) { stop_point(stage); };
  params_ = std::move(params);
}

void JsPipeline::run() noexcept {
  try {
    if (!params_) throw Error("generate: begin() was not called");
    const GenerateParams params = std::move(*params_);
    params_.reset();
    last_yield_ms_ = -kStopYieldMs;  // the first stop point yields: a stop asked for before the run lands there
    const bool previews = preview_every_ > 0 && !on_step_.isUndefined();
    if (previews) pipe_.latent_preview();  // the first fit's decode, before the loop
    result_ = pipe_.generate(params, [&](int step, int total, const HostTensor& latents) {
      if (on_step_.isUndefined()) return;
      websd_js_yield();  // a cancel posted during the step lands before on_step_ is asked to go on
      last_yield_ms_ = emscripten_get_now();
      const bool due = previews && (step % preview_every_ == 0 || step == total);
      const val preview = due ? tensor_to_js(latent_preview_image(pipe_.latent_preview(), latents)) : val::undefined();
      if (on_step_(step, total, preview).isFalse()) throw Error("generation stopped by onStep");
    });
  } catch (const std::exception& e) {
    error_ = e.what();
  }
  on_step_ = val::undefined();
  should_stop_ = val::undefined();
}

void JsPipeline::stop_point(const std::string& stage) {
  if (emscripten_get_now() - last_yield_ms_ >= kStopYieldMs) {
    websd_js_yield();
    last_yield_ms_ = emscripten_get_now();
  }
  if (should_stop_().as<bool>()) throw Error("generation stopped during " + stage);
}

val JsPipeline::finish() {
  if (error_) {
    const std::string message = std::move(*error_);
    error_.reset();
    throw Error(message);
  }
  if (!result_) throw Error("generate: run() has not completed");
  val out = result_to_js(*result_);
  result_.reset();
  return out;
}

void JsPipeline::select_scheduler(const std::string& preset, const std::string& config_path) {
  if (!preset.empty() && !config_path.empty()) throw Error("options 'scheduler' and 'schedulerConfig' exclude each other");
  if (!preset.empty())
    pipe_.set_scheduler(scheduler_from_preset(preset, pipe_.scheduler_config()));
  else
    pipe_.set_scheduler(load_scheduler(
        config_path.empty() ? pipe_.model_index().component("scheduler") + "/scheduler_config.json" : config_path));
}

}  // namespace websd::wasm
