#include "sched/alpha_product_scheduler.h"

#include <cmath>

#include "sched/sample_ops.h"

namespace websd::sched {

AlphaProductScheduler::AlphaProductScheduler(std::string name, TrainSchedule train, bool set_alpha_to_one)
    : Scheduler(std::move(name)),
      train_(std::move(train)),
      final_alpha_cumprod_(set_alpha_to_one ? 1.0f : train_.alphas_cumprod.front()) {}

float AlphaProductScheduler::alpha_prod(int64_t timestep) const {
  return timestep >= 0 ? train_.alphas_cumprod[static_cast<size_t>(timestep)] : final_alpha_cumprod_;
}

void AlphaProductScheduler::set_schedule(std::vector<double> timesteps) {
  for (double t : timesteps)
    if (t >= train_.num_train_timesteps)
      fail("timestep " + std::to_string(static_cast<int64_t>(t)) + " is past the " +
           std::to_string(train_.num_train_timesteps) + " training timesteps (fewer steps or a smaller steps_offset)");
  timesteps_ = std::move(timesteps);
}

HostTensor AlphaProductScheduler::add_noise(const HostTensor& original, const HostTensor& noise,
                                            size_t step_index) const {
  check_step(step_index);
  check_same_shape(name(), noise, original);
  float alpha = alpha_prod(timestep_at(step_index));
  float signal_scale = std::sqrt(alpha);
  float noise_scale = std::sqrt(1.0f - alpha);
  return map(original, noise, [&](float x, float n) { return signal_scale * x + noise_scale * n; });
}

}  // namespace websd::sched
