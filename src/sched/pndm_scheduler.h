#pragma once
#include <vector>

#include "sched/alpha_product_scheduler.h"
#include "sched/sample_ops.h"
#include "sched/timestep_spacing.h"

namespace websd::sched {

// diffusers' PNDMScheduler: pseudo linear multistep (PLMS) steps, optionally preceded by the
// Runge-Kutta warm-up of the PNDM paper (skip_prk_steps = false).
class PndmScheduler : public AlphaProductScheduler {
 public:
  explicit PndmScheduler(ConfigReader& config);
  void set_timesteps(int num_inference_steps) override;
  HostTensor step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) override;

 private:
  HostTensor step_runge_kutta(const HostTensor& model_output, int64_t timestep, const HostTensor& sample);
  HostTensor step_linear_multistep(const HostTensor& model_output, int64_t timestep, const HostTensor& sample);
  // Formula (9) of the PNDM paper: the sample at prev_timestep given the noise estimate at timestep.
  HostTensor previous_sample(const HostTensor& sample, int64_t timestep, int64_t prev_timestep,
                             const HostTensor& model_output) const;

  bool skip_prk_steps_;
  Prediction prediction_;
  Spacing spacing_;
  int steps_offset_;

  int num_inference_steps_ = 0;
  size_t runge_kutta_steps_ = 0;
  // Running state: steps taken, recent noise estimates, and the Runge-Kutta accumulators.
  size_t counter_ = 0;
  std::vector<HostTensor> ets_;
  HostTensor rk_model_output_;
  HostTensor cur_sample_;
};

}  // namespace websd::sched
