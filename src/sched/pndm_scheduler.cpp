#include "sched/pndm_scheduler.h"

#include <algorithm>
#include <cmath>

namespace websd::sched {

PndmScheduler::PndmScheduler(ConfigReader& config)
    : AlphaProductScheduler("PNDMScheduler",
                            read_train_schedule(config, {0.0001, 0.02, "linear"}, ZeroSnrField::kAbsent),
                            config.get_bool("set_alpha_to_one", false)),
      skip_prk_steps_(config.get_bool("skip_prk_steps", false)),
      prediction_(read_prediction_type(config, false)),
      spacing_(read_timestep_spacing(config, "leading")),
      steps_offset_(config.get_int("steps_offset", 0)) {}

void PndmScheduler::set_timesteps(int num_inference_steps) {
  const int train_steps = train_.num_train_timesteps;
  check_step_count(num_inference_steps, train_steps);
  num_inference_steps_ = num_inference_steps;
  const int n = num_inference_steps;

  // The inference timesteps in ascending order.
  std::vector<double> ascending;
  switch (spacing_) {
    case Spacing::kLinspace: ascending = rounded(linspace_timesteps(train_steps - 1, n)); break;
    case Spacing::kLeading: ascending = leading_timesteps(train_steps, n, steps_offset_); break;
    case Spacing::kTrailing:
      ascending = trailing_timesteps(train_steps, static_cast<double>(train_steps) / n);
      break;
  }
  std::reverse(ascending.begin(), ascending.end());
  const size_t count = ascending.size();

  std::vector<double> schedule;
  if (skip_prk_steps_) {
    // PLMS repeats the second-to-last timestep: its second step re-evaluates the first one.
    schedule.assign(ascending.begin(), ascending.end() - 1);
    if (count >= 2) schedule.push_back(ascending[count - 2]);
    schedule.push_back(ascending.back());
    std::reverse(schedule.begin(), schedule.end());
    runge_kutta_steps_ = 0;
  } else {
    // Runge-Kutta warm-up over the last four timesteps, each visited at its start, its midpoint
    // (twice) and its end, then PLMS over the remaining timesteps.
    const double half = static_cast<double>(train_steps / n / 2);
    std::vector<double> points;
    for (size_t i = count >= 4 ? count - 4 : 0; i < count; ++i) {
      points.push_back(ascending[i]);
      points.push_back(ascending[i] + half);
    }
    points.pop_back();
    std::vector<double> doubled;
    for (double p : points) doubled.insert(doubled.end(), {p, p});
    schedule.assign(doubled.begin() + 1, doubled.end() - 1);
    if (schedule.empty()) fail("the Runge-Kutta warm-up (skip_prk_steps = false) needs at least 2 steps");
    runge_kutta_steps_ = schedule.size();
    schedule.insert(schedule.end(), ascending.begin(), ascending.begin() + (count >= 3 ? count - 3 : 0));
    // Both parts run from noisy to clean.
    std::reverse(schedule.begin(), schedule.begin() + static_cast<std::ptrdiff_t>(runge_kutta_steps_));
    std::reverse(schedule.begin() + static_cast<std::ptrdiff_t>(runge_kutta_steps_), schedule.end());
  }
  set_schedule(std::move(schedule));
  counter_ = 0;
  ets_.clear();
  rk_model_output_ = HostTensor();
  cur_sample_ = HostTensor();
}

HostTensor PndmScheduler::step(const HostTensor& model_output, size_t step_index, const HostTensor& sample) {
  check_step(step_index);
  check_same_shape(name(), model_output, sample);
  int64_t timestep = timestep_at(step_index);
  if (counter_ < runge_kutta_steps_) return step_runge_kutta(model_output, timestep, sample);
  return step_linear_multistep(model_output, timestep, sample);
}

HostTensor PndmScheduler::step_runge_kutta(const HostTensor& model_output, int64_t timestep,
                                           const HostTensor& sample) {
  const int64_t half = train_.num_train_timesteps / num_inference_steps_ / 2;
  // Odd steps evaluate the same point as the step before (the midpoint, or the end).
  int64_t prev_timestep = timestep - (counter_ % 2 ? 0 : half);
  int64_t start_timestep = static_cast<int64_t>(timesteps_[counter_ / 4 * 4]);

  // Classic RK4 weights 1/6, 1/3, 1/3, 1/6 over the four evaluations of one interval.
  auto accumulate = [&](float weight) {
    HostTensor weighted = map(model_output, [&](float e) { return weight * e; });
    rk_model_output_ = rk_model_output_.data.empty()
                           ? std::move(weighted)
                           : map(rk_model_output_, weighted, [](float a, float b) { return a + b; });
  };
  HostTensor estimate = model_output;
  const float sixth = static_cast<float>(1.0 / 6);
  const float third = static_cast<float>(1.0 / 3);
  switch (counter_ % 4) {
    case 0:
      accumulate(sixth);
      ets_.push_back(model_output);
      cur_sample_ = sample;
      break;
    case 1:
    case 2: accumulate(third); break;
    case 3:
      estimate = map(rk_model_output_, model_output, [&](float acc, float e) { return acc + sixth * e; });
      rk_model_output_ = HostTensor();
      break;
  }
  HostTensor prev = previous_sample(cur_sample_, start_timestep, prev_timestep, estimate);
  ++counter_;
  return prev;
}

HostTensor PndmScheduler::step_linear_multistep(const HostTensor& model_output, int64_t timestep,
                                                const HostTensor& sample) {
  if (!skip_prk_steps_ && ets_.size() < 3) fail("the PLMS steps need the Runge-Kutta warm-up steps before them");
  const int64_t ratio = train_.num_train_timesteps / num_inference_steps_;
  int64_t prev_timestep = timestep - ratio;
  // The second call re-evaluates the first interval with the averaged estimate (a Heun step),
  // so it goes back to the first sample and timestep.
  if (counter_ != 1) {
    if (ets_.size() > 3) ets_.erase(ets_.begin(), ets_.end() - 3);
    ets_.push_back(model_output);
  } else {
    prev_timestep = timestep;
    timestep = timestep + ratio;
  }

  HostTensor estimate;
  const HostTensor* base = &sample;
  const size_t n = ets_.size();
  if (n == 1 && counter_ == 0) {
    estimate = model_output;
    cur_sample_ = sample;
  } else if (n == 1 && counter_ == 1) {
    estimate = map(model_output, ets_.back(), [](float e, float last) { return (e + last) / 2; });
    base = &cur_sample_;
  } else if (n == 2) {
    estimate = map(ets_[1], ets_[0], [](float e1, float e2) { return (3 * e1 - e2) / 2; });
  } else if (n == 3) {
    estimate = HostTensor(model_output.shape);
    for (size_t i = 0; i < estimate.data.size(); ++i)
      estimate.data[i] = (23 * ets_[2].data[i] - 16 * ets_[1].data[i] + 5 * ets_[0].data[i]) / 12;
  } else {
    const float scale = static_cast<float>(1.0 / 24);
    estimate = HostTensor(model_output.shape);
    for (size_t i = 0; i < estimate.data.size(); ++i)
      estimate.data[i] =
          scale * (55 * ets_[3].data[i] - 59 * ets_[2].data[i] + 37 * ets_[1].data[i] - 9 * ets_[0].data[i]);
  }
  HostTensor prev = previous_sample(*base, timestep, prev_timestep, estimate);
  if (n == 1 && counter_ == 1) cur_sample_ = HostTensor();
  ++counter_;
  return prev;
}

HostTensor PndmScheduler::previous_sample(const HostTensor& sample, int64_t timestep, int64_t prev_timestep,
                                          const HostTensor& model_output) const {
  const float alpha = alpha_prod(timestep);
  const float alpha_prev = alpha_prod(prev_timestep);
  const float beta = 1.0f - alpha;
  const float beta_prev = 1.0f - alpha_prev;
  HostTensor eps = prediction_ == Prediction::kVPrediction
                       ? map(model_output, sample,
                             [&](float v, float x) { return std::sqrt(alpha) * v + std::sqrt(beta) * x; })
                       : model_output;
  const float sample_coeff = std::sqrt(alpha_prev / alpha);
  const float denom = alpha * std::sqrt(beta_prev) + std::sqrt(alpha * beta * alpha_prev);
  const float eps_coeff = alpha_prev - alpha;
  return map(sample, eps, [&](float x, float e) { return sample_coeff * x - eps_coeff * e / denom; });
}

}  // namespace websd::sched
