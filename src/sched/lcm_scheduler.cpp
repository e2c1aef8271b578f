#include "sched/lcm_scheduler.h"

#include <cmath>

#include "sched/numpy_compat.h"

namespace websd::sched {

LcmScheduler::LcmScheduler(ConfigReader& config)
    : AlphaProductScheduler("LCMScheduler",
                            read_train_schedule(config, {0.00085, 0.012, "scaled_linear"}, ZeroSnrField::kRescale),
                            config.get_bool("set_alpha_to_one", true)),
      original_inference_steps_(config.get_int("original_inference_steps", 50)),
      timestep_scaling_(config.get_double("timestep_scaling", 10.0)),
      prediction_(read_prediction_type(config, true)),
      clipping_(X0Clipping::read(config, true, false)) {
  // diffusers' LCMScheduler stores these but derives its timesteps from the distillation
  // schedule alone.
  config.ignore({"timestep_spacing", "steps_offset"});
  if (original_inference_steps_ < 1 || original_inference_steps_ > train_.num_train_timesteps)
    config.fail("original_inference_steps", "must be between 1 and num_train_timesteps");
}

void LcmScheduler::set_timesteps(int num_inference_steps) {
  if (num_inference_steps < 1 || num_inference_steps > original_inference_steps_)
    fail("num_inference_steps = " + std::to_string(num_inference_steps) +
         ": must be between 1 and original_inference_steps = " + std::to_string(original_inference_steps_));
  // The distillation schedule: every k-th training timestep, ending at k - 1; inference takes
  // evenly spaced entries of it from the noisy end.
  const int k = train_.num_train_timesteps / original_inference_steps_;
  std::vector<double> indices = np::linspace_open(0.0, original_inference_steps_, num_inference_steps);
  std::vector<double> schedule;
  for (double index : indices) {
    int from_noisy_end = static_cast<int>(std::floor(index));
    schedule.push_back(static_cast<double>((original_inference_steps_ - from_noisy_end) * k - 1));
  }
  set_schedule(std::move(schedule));
}

HostTensor LcmScheduler::step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) {
  check_step(step_index);
  check_same_shape(name(), model_output, sample);
  const bool last = step_index + 1 == timesteps_.size();
  const int64_t timestep = timestep_at(step_index);
  const int64_t next_timestep = last ? timestep : timestep_at(step_index + 1);
  const float alpha = alpha_prod(timestep);
  const float alpha_next = alpha_prod(next_timestep);
  const float sqrt_alpha = std::sqrt(alpha);
  const float sqrt_beta = std::sqrt(1.0f - alpha);

  // Consistency-model boundary condition with sigma_data = 0.5.
  const float scaled = static_cast<float>(timestep) * static_cast<float>(timestep_scaling_);
  const float c_skip = (1.0f / (scaled * scaled + 0.25f)) * 0.25f;
  const float c_out = scaled / std::sqrt(scaled * scaled + 0.25f);

  HostTensor x0;
  switch (prediction_) {
    case Prediction::kEpsilon:
      x0 = map(sample, model_output, [&](float x, float e) { return (x - sqrt_beta * e) / sqrt_alpha; });
      break;
    case Prediction::kSample: x0 = model_output; break;
    case Prediction::kVPrediction:
      x0 = map(sample, model_output, [&](float x, float v) { return sqrt_alpha * x - sqrt_beta * v; });
      break;
  }
  clipping_.apply(x0);
  HostTensor denoised = map(x0, sample, [&](float x0v, float x) { return c_out * x0v + c_skip * x; });
  if (last) return denoised;

  HostTensor noise = draw_noise(sample.shape);
  const float signal = std::sqrt(alpha_next);
  const float spread = std::sqrt(1.0f - alpha_next);
  return map(denoised, noise, [&](float d, float n) { return signal * d + spread * n; });
}

}  // namespace websd::sched
