#pragma once
#include <vector>

#include "sched/sample_ops.h"
#include "sched/scheduler.h"
#include "sched/sigma_schedule.h"
#include "sched/timestep_spacing.h"
#include "sched/train_schedule.h"

namespace websd::sched {

// diffusers' EulerDiscreteScheduler (Karras et al. 2022, Algorithm 2) without churn: an Euler
// step of the probability-flow ODE in sigma.
class EulerDiscreteScheduler : public Scheduler {
 public:
  explicit EulerDiscreteScheduler(ConfigReader& config);
  void set_timesteps(int num_inference_steps) override;
  double init_noise_sigma() const override;
  HostTensor scale_model_input(const HostTensor& sample, size_t step_index) const override;
  HostTensor step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) override;
  HostTensor add_noise(const HostTensor& original, const HostTensor& noise, size_t step_index) const override;
  // The noise level at each timestep, then the one after the last step.
  const std::vector<float>& sigmas() const { return sigmas_; }

  sched::SigmaSpacing sigma_spacing() const override { return sigma_spacing_; }

 private:
  TrainSchedule train_;
  std::vector<float> training_sigmas_;
  Prediction prediction_;
  SigmaSpacing sigma_spacing_;
  bool has_sigma_min_, has_sigma_max_;
  double sigma_min_, sigma_max_;
  Spacing spacing_;
  bool continuous_timesteps_;
  int steps_offset_;
  float final_sigma_;
  std::vector<float> sigmas_;  // one per timestep, then the final sigma
};

}  // namespace websd::sched
