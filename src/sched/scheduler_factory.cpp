#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "sched/ddim_scheduler.h"
#include "sched/dpm_solver_multistep_scheduler.h"
#include "sched/euler_discrete_scheduler.h"
#include "sched/lcm_scheduler.h"
#include "sched/pndm_scheduler.h"
#include "sched/scheduler.h"

namespace websd {
namespace {

using Factory = std::function<std::unique_ptr<Scheduler>(ConfigReader&)>;

template <class T>
Factory factory() {
  return [](ConfigReader& config) { return std::make_unique<T>(config); };
}

const std::map<std::string, Factory>& classes() {
  static const std::map<std::string, Factory> table = {
      {"PNDMScheduler", factory<sched::PndmScheduler>()},
      {"DDIMScheduler", factory<sched::DdimScheduler>()},
      {"LCMScheduler", factory<sched::LcmScheduler>()},
      {"EulerDiscreteScheduler", factory<sched::EulerDiscreteScheduler>()},
      {"DPMSolverMultistepScheduler", factory<sched::DpmSolverMultistepScheduler>()},
  };
  return table;
}

// Builds the scheduler from the fields it knows; the caller decides what the others mean.
std::unique_ptr<Scheduler> construct(const std::string& class_name, ConfigReader& config) {
  auto it = classes().find(class_name);
  if (it == classes().end()) {
    std::string known;
    for (const auto& [name, unused] : classes()) known += (known.empty() ? "" : ", ") + name;
    throw Error(config.file() + ": scheduler class '" + class_name + "' is not supported by websd (supported: " +
                known + ")");
  }
  return it->second(config);
}

struct Preset {
  const char* name;
  const char* class_name;
  nlohmann::json options;
};

// The options diffusers users pass to from_config for each sampler, as the reference fixtures
// were made: Euler steps on SD's "leading" grid, DDIM without clipping (latents are not in
// [-1, 1]), LCM with its own alpha at the final step.
const std::vector<Preset>& presets() {
  static const std::vector<Preset> table = {
      {"pndm", "PNDMScheduler", nlohmann::json::object()},
      {"dpm++2m", "DPMSolverMultistepScheduler", {{"algorithm_type", "dpmsolver++"}, {"solver_order", 2}}},
      {"dpm++2m-karras",
       "DPMSolverMultistepScheduler",
       {{"algorithm_type", "dpmsolver++"}, {"solver_order", 2}, {"use_karras_sigmas", true}}},
      {"euler", "EulerDiscreteScheduler", {{"interpolation_type", "linear"}, {"timestep_spacing", "leading"}}},
      {"euler-karras", "EulerDiscreteScheduler", {{"use_karras_sigmas", true}, {"timestep_spacing", "leading"}}},
      {"ddim", "DDIMScheduler", {{"clip_sample", false}}},
      {"lcm", "LCMScheduler", {{"set_alpha_to_one", true}, {"timestep_spacing", "leading"}}},
  };
  return table;
}

}  // namespace

std::unique_ptr<Scheduler> load_scheduler(const std::string& scheduler_config_path) {
  ConfigReader config = ConfigReader::load(scheduler_config_path);
  const nlohmann::json& class_name = config.json().value("_class_name", nlohmann::json());
  if (!class_name.is_string())
    throw Error(scheduler_config_path +
                ": no \"_class_name\" naming the scheduler class (is this a scheduler_config.json?)");
  return make_scheduler(class_name.get<std::string>(), config);
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& class_name, ConfigReader& config) {
  std::unique_ptr<Scheduler> scheduler = construct(class_name, config);
  // A saved config can carry fields of the class it was converted from (from_config keeps them,
  // e.g. skip_prk_steps in Stable Diffusion 2.1's DDIM config) and diffusers ignores them; any
  // field that no scheduler has is still an error.
  config.ignore({"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "skip_prk_steps",
                 "set_alpha_to_one", "prediction_type", "timestep_spacing", "steps_offset", "clip_sample",
                 "clip_sample_range", "thresholding", "dynamic_thresholding_ratio", "sample_max_value",
                 "rescale_betas_zero_snr", "original_inference_steps", "timestep_scaling", "interpolation_type",
                 "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min", "sigma_max",
                 "timestep_type", "final_sigmas_type", "solver_order", "algorithm_type", "solver_type",
                 "lower_order_final", "euler_at_final", "use_lu_lambdas", "use_flow_sigmas", "flow_shift",
                 "lambda_min_clipped", "variance_type", "use_dynamic_shifting", "time_shift_type", "predict_x0",
                 "disable_corrector", "solver_p"});
  config.finish();
  return scheduler;
}

std::unique_ptr<Scheduler> scheduler_from_preset(const std::string& preset, const nlohmann::json& base_config) {
  auto it = std::find_if(presets().begin(), presets().end(), [&](const Preset& p) { return preset == p.name; });
  if (it == presets().end()) {
    std::string known;
    for (const auto& p : presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
    throw Error("scheduler '" + preset + "' is not one websd knows (choose one of: " + known + ")");
  }
  if (!base_config.is_object())
    throw Error("scheduler '" + preset + "': the model's scheduler config is not a JSON object");

  // diffusers' from_config: fields the base only had as its own class's defaults
  // (_use_default_values) do not carry over, nor do private ones; fields the new class does not
  // know are dropped (they are never read below).
  std::set<std::string> defaulted;
  if (auto d = base_config.find("_use_default_values"); d != base_config.end() && d->is_array())
    for (const auto& key : *d)
      if (key.is_string()) defaulted.insert(key.get<std::string>());
  nlohmann::json merged = nlohmann::json::object();
  for (const auto& [key, value] : base_config.items())
    if (!key.empty() && key[0] != '_' && !defaulted.count(key)) merged[key] = value;
  for (const auto& [key, value] : it->options.items()) merged[key] = value;

  ConfigReader config(std::move(merged),
                      "scheduler '" + preset + "' (" + it->class_name + " over the model's scheduler config)");
  return construct(it->class_name, config);
}

const std::vector<std::string>& scheduler_presets() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& p : presets()) out.push_back(p.name);
    return out;
  }();
  return names;
}

}  // namespace websd
