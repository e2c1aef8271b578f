// The JS face of the engine (embind): what web/lib/websd.mjs wraps. Options mirror the native
// CLI's flags; every failure reaches JS as an Error carrying websd::Error's message.
#include <emscripten/bind.h>

#include <cmath>
#include <map>
#include <memory>

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/model_index.h"
#include "pipeline/text_to_image.h"
#include "tokenizer/clip_tokenizer.h"
#include "wasm/js_values.h"

namespace websd::wasm {
namespace {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
  throw Error("unknown backend '" + name + "' (this build has: cpu)");
}

int int_option(const val& options, const char* name, int fallback) {
  const double v = number_field(options, name, fallback);
  if (v != std::floor(v) || std::abs(v) > 1e9) throw Error(std::string("option '") + name + "' must be an integer");
  return static_cast<int>(v);
}

// A seed is a JS number (exact up to 2^53) or a BigInt, like the CLI's unsigned 64-bit --seed.
uint64_t seed_option(const val& options) {
  if (!has_field(options, "seed")) return 0;
  const val seed = options["seed"];
  if (seed.typeOf().as<std::string>() == "bigint") {
    if (seed < val(0) || seed >= val::global("BigInt")(val("18446744073709551616")))
      throw Error("option 'seed' must be an integer in [0, 2^64)");
    return std::stoull(seed.call<std::string>("toString"));
  }
  const double v = number_field(options, "seed", 0);
  if (v < 0 || v != std::floor(v) || v > 9007199254740991.0)
    throw Error("option 'seed' must be an integer in [0, 2^53] (use a BigInt above that)");
  return static_cast<uint64_t>(v);
}

class Pipeline {
 public:
  Pipeline(const std::string& model_dir, const std::string& backend)
      : model_dir_(model_dir), backend_(make_backend(backend)), pipe_(TextToImagePipeline::load(model_dir, *backend_)) {}

  // options: {prompt, negativePrompt?, steps?, cfgScale?, seed?, width?, height?, scheduler? |
  // schedulerConfig?}; onStep(step, total) after each denoising step, if a function.
  val generate(const val& options, const val& on_step) {
    GenerateParams params;
    if (!has_field(options, "prompt")) throw Error("option 'prompt' is required");
    params.prompt = string_field(options, "prompt", "");
    if (has_field(options, "negativePrompt")) params.negative_prompt = string_field(options, "negativePrompt", "");
    params.steps = int_option(options, "steps", params.steps);
    if (params.steps < 1) throw Error("option 'steps' must be at least 1");
    params.guidance_scale = number_field(options, "cfgScale", params.guidance_scale);
    params.seed = seed_option(options);
    params.width = int_option(options, "width", 0);
    params.height = int_option(options, "height", 0);
    select_scheduler(string_field(options, "scheduler", ""), string_field(options, "schedulerConfig", ""));

    const bool report = on_step.typeOf().as<std::string>() == "function";
    GenerateResult r = pipe_.generate(params, [&](int step, int total, const HostTensor&) {
      if (report) on_step(step, total);
    });
    val out = val::object();
    out.set("image", tensor_to_js(r.image));
    out.set("latents", tensor_to_js(r.latents));
    out.set("promptEmbeds", tensor_to_js(r.prompt_embeds));
    out.set("negativePromptEmbeds", r.negative_prompt_embeds ? tensor_to_js(*r.negative_prompt_embeds) : val::null());
    const std::vector<float> timesteps(r.timesteps.begin(), r.timesteps.end());
    out.set("timesteps", tensor_to_js(HostTensor({static_cast<int64_t>(timesteps.size())}, timesteps)));
    return out;
  }

  int default_width() const { return pipe_.default_width(); }
  int default_height() const { return pipe_.default_height(); }

 private:
  // Each call names its scheduler (or gets the model's own), so one call's choice never leaks
  // into the next.
  void select_scheduler(const std::string& preset, const std::string& config_path) {
    if (!preset.empty() && !config_path.empty()) throw Error("options 'scheduler' and 'schedulerConfig' exclude each other");
    if (!preset.empty())
      pipe_.set_scheduler(scheduler_from_preset(preset, pipe_.scheduler_config()));
    else
      pipe_.set_scheduler(load_scheduler(
          config_path.empty() ? ModelIndex::load(model_dir_).component("scheduler") + "/scheduler_config.json" : config_path));
  }

  std::string model_dir_;
  std::unique_ptr<Backend> backend_;  // before pipe_, which refers to it
  TextToImagePipeline pipe_;
};

std::unique_ptr<Pipeline> load_pipeline(const std::string& model_dir, const std::string& backend) {
  return with_js_errors([&] { return std::make_unique<Pipeline>(model_dir, backend); });
}

val generate(Pipeline& p, const val& options, const val& on_step) {
  return with_js_errors([&] { return p.generate(options, on_step); });
}

val tokenize(const std::string& tokenizer_dir, const std::string& text, const std::string& pad_token) {
  return with_js_errors([&] {
    ClipTokenizer tok = ClipTokenizer::from_folder(tokenizer_dir);
    if (!pad_token.empty()) tok.set_pad_token(pad_token);
    val ids = val::array();
    for (int id : tok.encode(text)) ids.call<void>("push", id);
    return ids;
  });
}

val encode_png_js(const val& image) {
  return with_js_errors([&] {
    const std::vector<uint8_t> png = encode_png(tensor_from_js(image, "image"));
    return val::global("Uint8Array").new_(emscripten::typed_memory_view(png.size(), png.data())).call<val>("slice");
  });
}

void write_png_js(const std::string& path, const val& image) {
  with_js_errors([&] { write_png(path, tensor_from_js(image, "image")); });
}

// tensors: {name: {shape, data}}, written as float32 by the same writer as the native CLI.
void write_safetensors_js(const std::string& path, const val& tensors) {
  with_js_errors([&] {
    std::map<std::string, HostTensor> out;
    for (const std::string& name : emscripten::vecFromJSArray<std::string>(val::global("Object").call<val>("keys", tensors)))
      out[name] = tensor_from_js(tensors[name], "tensor '" + name + "'");
    write_safetensors(path, out);
  });
}

}  // namespace

EMSCRIPTEN_BINDINGS(websd) {
  emscripten::class_<Pipeline>("Pipeline")
      .class_function("load", &load_pipeline)
      .function("generate", &generate)
      .function("defaultWidth", &Pipeline::default_width)
      .function("defaultHeight", &Pipeline::default_height);
  emscripten::function("tokenize", &tokenize);
  emscripten::function("encodePng", &encode_png_js);
  emscripten::function("writePng", &write_png_js);
  emscripten::function("writeSafetensors", &write_safetensors_js);
}

}  // namespace websd::wasm
