#include "sched/euler_discrete_scheduler.h"

#include <algorithm>
#include <cmath>

namespace websd::sched {

EulerDiscreteScheduler::EulerDiscreteScheduler(ConfigReader& config)
    : Scheduler("EulerDiscreteScheduler"),
      train_(read_train_schedule(config, {0.0001, 0.02, "linear"}, ZeroSnrField::kRescaleWithFloor)),
      training_sigmas_(training_sigmas(train_.alphas_cumprod)),
      prediction_(read_prediction_type(config, true)),
      sigma_spacing_(read_sigma_spacing(config)),
      has_sigma_min_(config.has("sigma_min")),
      has_sigma_max_(config.has("sigma_max")),
      sigma_min_(config.get_double("sigma_min", 0.0)),
      sigma_max_(config.get_double("sigma_max", 0.0)),
      spacing_(read_timestep_spacing(config, "linspace")),
      steps_offset_(config.get_int("steps_offset", 0)),
      final_sigma_(read_final_sigma(config, training_sigmas_)) {
  config.expect("interpolation_type", {"linear"});
  std::string timestep_type = config.get_string("timestep_type", "discrete");
  if (timestep_type != "discrete" && timestep_type != "continuous")
    config.fail("timestep_type", "supported: \"discrete\", \"continuous\"");
  // diffusers only uses continuous (EDM-style 0.25 log sigma) timesteps with v-prediction.
  continuous_timesteps_ = timestep_type == "continuous" && prediction_ == Prediction::kVPrediction;
}

void EulerDiscreteScheduler::set_timesteps(int num_inference_steps) {
  const int train_steps = train_.num_train_timesteps;
  check_step_count(num_inference_steps, train_steps);
  const int n = num_inference_steps;
  std::vector<double> timesteps;
  switch (spacing_) {
    case Spacing::kLinspace: timesteps = linspace_timesteps(train_steps - 1, n); break;
    case Spacing::kLeading: timesteps = leading_timesteps(train_steps, n, steps_offset_); break;
    case Spacing::kTrailing: timesteps = trailing_timesteps(train_steps, static_cast<double>(train_steps) / n); break;
  }
  // diffusers holds these timesteps in float32 before looking their sigmas up.
  for (double& t : timesteps) t = static_cast<float>(t);

  std::vector<double> sigmas = interpolate_sigmas(timesteps, training_sigmas_);
  if (sigma_spacing_ != SigmaSpacing::kTimesteps) {
    double low = has_sigma_min_ ? sigma_min_ : sigmas.back();
    double high = has_sigma_max_ ? sigma_max_ : sigmas.front();
    sigmas = sigma_spacing_ == SigmaSpacing::kKarras ? karras_sigmas(low, high, n) : exponential_sigmas(low, high, n);
    std::vector<float> log_sigmas = log_f32(training_sigmas_);
    for (size_t i = 0; i < sigmas.size(); ++i) timesteps[i] = sigma_to_timestep(sigmas[i], log_sigmas);
  }

  sigmas_.assign(sigmas.begin(), sigmas.end());
  sigmas_.push_back(final_sigma_);
  for (size_t i = 0; i < timesteps.size(); ++i)
    timesteps[i] = continuous_timesteps_ ? 0.25f * std::log(sigmas_[i]) : static_cast<float>(timesteps[i]);
  timesteps_ = std::move(timesteps);
}

double EulerDiscreteScheduler::init_noise_sigma() const {
  if (sigmas_.empty()) fail("set_timesteps must run before init_noise_sigma");
  float max_sigma = *std::max_element(sigmas_.begin(), sigmas_.end());
  // With leading spacing the first timestep is not the last training one, so diffusers scales
  // the noise as for a variance-preserving sample.
  if (spacing_ == Spacing::kLeading) return std::sqrt(max_sigma * max_sigma + 1.0f);
  return max_sigma;
}

HostTensor EulerDiscreteScheduler::scale_model_input(const HostTensor& sample, size_t step_index) const {
  check_step(step_index);
  const float sigma = sigmas_[step_index];
  const float scale = std::sqrt(sigma * sigma + 1.0f);
  return map(sample, [&](float x) { return x / scale; });
}

HostTensor EulerDiscreteScheduler::step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) {
  check_step(step_index);
  check_same_shape(name(), model_output, sample);
  const float sigma = sigmas_[step_index];
  HostTensor x0;
  switch (prediction_) {
    case Prediction::kEpsilon: x0 = map(sample, model_output, [&](float x, float e) { return x - sigma * e; }); break;
    case Prediction::kSample: x0 = model_output; break;
    case Prediction::kVPrediction: {
      const float variance = sigma * sigma + 1.0f;
      const float v_scale = -sigma / std::sqrt(variance);
      x0 = map(model_output, sample, [&](float v, float x) { return v * v_scale + x / variance; });
      break;
    }
  }
  const float dt = sigmas_[step_index + 1] - sigma;
  HostTensor out(sample.shape);
  for (size_t i = 0; i < out.data.size(); ++i) {
    float derivative = (sample.data[i] - x0.data[i]) / sigma;
    out.data[i] = sample.data[i] + derivative * dt;
  }
  return out;
}

HostTensor EulerDiscreteScheduler::add_noise(const HostTensor& original, const HostTensor& noise,
                                             size_t step_index) const {
  check_step(step_index);
  check_same_shape(name(), noise, original);
  const float sigma = sigmas_[step_index];
  return map(original, noise, [&](float x, float n) { return x + n * sigma; });
}

}  // namespace websd::sched
