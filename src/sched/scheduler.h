#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "rng/torch_generator.h"
#include "sched/sigma_schedule.h"

namespace websd {

// A diffusers noise scheduler, driven the way diffusers' pipelines drive one:
//   set_timesteps(n); latents *= init_noise_sigma();
//   for i over timesteps(): eps = unet(scale_model_input(latents, i), timesteps()[i]);
//                           latents = step(eps, i, latents);
// Steps are addressed by their index in timesteps() (diffusers' step_index); stateful schedulers
// (PNDM, DPM-Solver) expect consecutive steps, starting anywhere for img2img.
class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Throws websd::Error when num_inference_steps is < 1 or does not fit the training schedule.
  virtual void set_timesteps(int num_inference_steps) = 0;
  // The model's timestep at each step (fractional for Karras-spaced Euler).
  const std::vector<double>& timesteps() const { return timesteps_; }
  // Standard deviation of the starting noise: 1 for alpha-based schedulers, from sigma_max for Euler.
  virtual double init_noise_sigma() const { return 1.0; }
  virtual HostTensor scale_model_input(const HostTensor& sample, size_t step_index) const;
  // One denoising step from timesteps()[step_index] to the next.
  virtual HostTensor step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) = 0;
  // Noises a clean sample to the level of timesteps()[step_index] (img2img start, inpainting).
  virtual HostTensor add_noise(const HostTensor& original, const HostTensor& noise, size_t step_index) const = 0;

  // Stochastic steps (LCM between steps, SDE DPM-Solver++) draw their noise from this generator,
  // as diffusers' pipelines pass theirs to step(); it must outlive the steps.
  void set_generator(TorchGenerator* generator) { generator_ = generator; }

  const std::string& name() const { return name_; }  // diffusers' class name
  // How the sigmas are spaced (Karras, exponential); timesteps' own for schedulers without sigmas.
  virtual sched::SigmaSpacing sigma_spacing() const { return sched::SigmaSpacing::kTimesteps; }

 protected:
  explicit Scheduler(std::string name) : name_(std::move(name)) {}
  // Throws websd::Error unless set_timesteps ran and step_index is one of its steps.
  void check_step(size_t step_index) const;
  [[noreturn]] void fail(const std::string& what) const;
  // Throws websd::Error unless 1 ≤ num_inference_steps ≤ train_steps.
  void check_step_count(int num_inference_steps, int train_steps) const;
  HostTensor draw_noise(const Shape& shape) const;

  std::vector<double> timesteps_;

 private:
  std::string name_;
  TorchGenerator* generator_ = nullptr;
};

// The scheduler a model folder's scheduler/scheduler_config.json describes (class from "_class_name").
std::unique_ptr<Scheduler> load_scheduler(const std::string& scheduler_config_path);
// Builds class_name (diffusers' name, e.g. "EulerDiscreteScheduler") from its config. Unsupported
// values of the class's fields are rejected by name, as are fields no diffusers scheduler has;
// other schedulers' fields are ignored, as diffusers does.
std::unique_ptr<Scheduler> make_scheduler(const std::string& class_name, ConfigReader& config);
// The CLI's --scheduler names (pndm, dpm++2m, dpm++2m-karras, euler, euler-karras, ddim, lcm) applied
// to a model's scheduler config like diffusers' XScheduler.from_config(base_config, **overrides):
// the fields the new class knows carry over (except those the base only had as defaults), the
// others are dropped, and the preset's options are set on top.
std::unique_ptr<Scheduler> scheduler_from_preset(const std::string& preset, const nlohmann::json& base_config);
const std::vector<std::string>& scheduler_presets();

}  // namespace websd
