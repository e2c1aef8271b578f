#include "sched/ddim_scheduler.h"

#include <cmath>

namespace websd::sched {

DdimScheduler::DdimScheduler(ConfigReader& config)
    : AlphaProductScheduler("DDIMScheduler",
                            read_train_schedule(config, {0.0001, 0.02, "linear"}, ZeroSnrField::kRescale),
                            config.get_bool("set_alpha_to_one", true)),
      prediction_(read_prediction_type(config, true)),
      clipping_(X0Clipping::read(config, true, true)),
      spacing_(read_timestep_spacing(config, "leading")),
      steps_offset_(config.get_int("steps_offset", 0)) {}

void DdimScheduler::set_timesteps(int num_inference_steps) {
  const int train_steps = train_.num_train_timesteps;
  check_step_count(num_inference_steps, train_steps);
  num_inference_steps_ = num_inference_steps;
  switch (spacing_) {
    case Spacing::kLinspace: set_schedule(rounded(linspace_timesteps(train_steps - 1, num_inference_steps))); break;
    case Spacing::kLeading: set_schedule(leading_timesteps(train_steps, num_inference_steps, steps_offset_)); break;
    case Spacing::kTrailing:
      set_schedule(trailing_timesteps(train_steps, static_cast<double>(train_steps) / num_inference_steps));
      break;
  }
}

HostTensor DdimScheduler::step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) {
  check_step(step_index);
  check_same_shape(name(), model_output, sample);
  // diffusers steps back by the average stride whatever the spacing (formula (12) of the DDIM paper).
  const int64_t timestep = timestep_at(step_index);
  const int64_t prev_timestep = timestep - train_.num_train_timesteps / num_inference_steps_;
  const float alpha = alpha_prod(timestep);
  const float alpha_prev = alpha_prod(prev_timestep);
  const float beta = 1.0f - alpha;
  const float sqrt_alpha = std::sqrt(alpha);
  const float sqrt_beta = std::sqrt(beta);

  HostTensor x0, eps;
  switch (prediction_) {
    case Prediction::kEpsilon:
      x0 = map(sample, model_output, [&](float x, float e) { return (x - sqrt_beta * e) / sqrt_alpha; });
      eps = model_output;
      break;
    case Prediction::kSample:
      x0 = model_output;
      eps = map(sample, x0, [&](float x, float x0v) { return (x - sqrt_alpha * x0v) / sqrt_beta; });
      break;
    case Prediction::kVPrediction:
      x0 = map(sample, model_output, [&](float x, float v) { return sqrt_alpha * x - sqrt_beta * v; });
      eps = map(model_output, sample, [&](float v, float x) { return sqrt_alpha * v + sqrt_beta * x; });
      break;
  }
  clipping_.apply(x0);

  // With eta = 0 there is no random term: x_prev = sqrt(alpha_prev) x0 + sqrt(1 - alpha_prev) eps.
  const float direction = std::sqrt(1.0f - alpha_prev);
  const float signal = std::sqrt(alpha_prev);
  return map(x0, eps, [&](float x0v, float e) { return signal * x0v + direction * e; });
}

}  // namespace websd::sched
