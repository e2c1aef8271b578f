#pragma once
#include "sched/alpha_product_scheduler.h"
#include "sched/sample_ops.h"
#include "sched/timestep_spacing.h"

namespace websd::sched {

// diffusers' DDIMScheduler with eta = 0 (the deterministic sampler pipelines use by default).
class DdimScheduler : public AlphaProductScheduler {
 public:
  explicit DdimScheduler(ConfigReader& config);
  void set_timesteps(int num_inference_steps) override;
  HostTensor step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) override;

 private:
  Prediction prediction_;
  X0Clipping clipping_;
  Spacing spacing_;
  int steps_offset_;
  int num_inference_steps_ = 0;
};

}  // namespace websd::sched
