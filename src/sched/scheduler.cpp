#include "sched/scheduler.h"

namespace websd {

HostTensor Scheduler::scale_model_input(const HostTensor& sample, size_t step_index) const {
  check_step(step_index);
  return sample;
}

void Scheduler::check_step(size_t step_index) const {
  if (timesteps_.empty()) fail("set_timesteps must run before the denoising steps");
  if (step_index >= timesteps_.size())
    fail("step index " + std::to_string(step_index) + " is past the last of " + std::to_string(timesteps_.size()) +
         " timesteps");
}

void Scheduler::fail(const std::string& what) const { throw Error(name_ + ": " + what); }

void Scheduler::check_step_count(int num_inference_steps, int train_steps) const {
  if (num_inference_steps < 1 || num_inference_steps > train_steps)
    fail("num_inference_steps = " + std::to_string(num_inference_steps) + ": must be between 1 and " +
         std::to_string(train_steps));
}

HostTensor Scheduler::draw_noise(const Shape& shape) const {
  if (!generator_) fail("this step adds random noise: set_generator must give it a generator first");
  return generator_->randn(shape);
}

}  // namespace websd
