#pragma once
#include "sched/alpha_product_scheduler.h"
#include "sched/sample_ops.h"

namespace websd::sched {

// diffusers' LCMScheduler (Latent Consistency Models): each step jumps to the consistency
// model's clean estimate, then re-noises it to the next timestep with fresh noise.
class LcmScheduler : public AlphaProductScheduler {
 public:
  explicit LcmScheduler(ConfigReader& config);
  void set_timesteps(int num_inference_steps) override;
  HostTensor step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) override;

 private:
  int original_inference_steps_;
  double timestep_scaling_;
  Prediction prediction_;
  X0Clipping clipping_;
};

}  // namespace websd::sched
