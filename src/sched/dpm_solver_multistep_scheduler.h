#pragma once
#include <vector>

#include "sched/sample_ops.h"
#include "sched/scheduler.h"
#include "sched/sigma_schedule.h"
#include "sched/timestep_spacing.h"
#include "sched/train_schedule.h"

namespace websd::sched {

// diffusers' DPMSolverMultistepScheduler: DPM-Solver (Lu et al. 2022) and DPM-Solver++ of order
// 1-3, with the SDE variant of DPM-Solver++.
class DpmSolverMultistepScheduler : public Scheduler {
 public:
  explicit DpmSolverMultistepScheduler(ConfigReader& config);
  void set_timesteps(int num_inference_steps) override;
  HostTensor step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) override;
  HostTensor add_noise(const HostTensor& original, const HostTensor& noise, size_t step_index) const override;
  // The noise level at each timestep, then the one after the last step.
  const std::vector<float>& sigmas() const { return sigmas_; }

  sched::SigmaSpacing sigma_spacing() const override { return sigma_spacing_; }

 private:
  enum class Algorithm { kDpmSolver, kDpmSolverPlusPlus, kSdeDpmSolverPlusPlus };
  // What the solver integrates: the data prediction x0 (DPM-Solver++) or the noise (DPM-Solver).
  HostTensor convert_model_output(const HostTensor& model_output, size_t step_index, const HostTensor& sample) const;
  HostTensor update(int order, size_t step_index, const HostTensor& sample, const HostTensor* noise) const;
  bool data_prediction() const { return algorithm_ != Algorithm::kDpmSolver; }

  TrainSchedule train_;
  std::vector<float> training_sigmas_;
  int solver_order_;
  Prediction prediction_;
  X0Clipping thresholding_;
  Algorithm algorithm_;
  bool heun_;
  bool lower_order_final_;
  bool euler_at_final_;
  bool final_sigma_zero_;
  SigmaSpacing sigma_spacing_;
  bool lu_lambdas_;
  double lambda_min_clipped_;
  Spacing spacing_;
  int steps_offset_;
  float final_sigma_;

  std::vector<float> sigmas_;  // one per timestep, then the final sigma
  std::vector<HostTensor> model_outputs_;  // the last solver_order converted outputs, newest last
  int lower_order_nums_ = 0;
};

}  // namespace websd::sched
