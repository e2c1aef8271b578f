#include "wasm/js_parameters.h"

namespace websd::wasm {

val parameters_to_js(const GenerationParameters& p) {
  val out = val::object();
  out.set("prompt", p.prompt);
  out.set("negativePrompt", p.negative_prompt);
  out.set("steps", p.steps);
  out.set("sampler", p.sampler);
  out.set("scheduleType", p.schedule_type);
  out.set("cfgScale", p.cfg_scale);
  out.set("seed", p.seed <= (uint64_t{1} << 53) ? val(static_cast<double>(p.seed))
                                                 : val::global("BigInt")(val(std::to_string(p.seed))));
  out.set("width", p.width);
  out.set("height", p.height);
  out.set("clipSkip", p.clip_skip);
  out.set("model", p.model);
  return out;
}

GenerationParameters parameters_from_js(const val& obj) {
  GenerationParameters p;
  p.prompt = string_field(obj, "prompt", "");
  p.negative_prompt = string_field(obj, "negativePrompt", "");
  p.steps = int_field(obj, "steps", 0);
  p.sampler = string_field(obj, "sampler", "");
  p.schedule_type = string_field(obj, "scheduleType", "");
  p.cfg_scale = number_field(obj, "cfgScale", 0);
  p.seed = seed_field(obj, "seed", 0);
  p.width = int_field(obj, "width", 0);
  p.height = int_field(obj, "height", 0);
  p.clip_skip = int_field(obj, "clipSkip", 0);
  p.model = string_field(obj, "model", "");
  return p;
}

}  // namespace websd::wasm
