#include "sched/dpm_solver_multistep_scheduler.h"

#include <algorithm>
#include <cmath>

#include "sched/numpy_compat.h"

namespace websd::sched {
namespace {

float lambda_of(const AlphaSigma& a) { return std::log(a.alpha) - std::log(a.sigma); }

}  // namespace

DpmSolverMultistepScheduler::DpmSolverMultistepScheduler(ConfigReader& config)
    : Scheduler("DPMSolverMultistepScheduler"),
      train_(read_train_schedule(config, {0.0001, 0.02, "linear"}, ZeroSnrField::kRescaleWithFloor)),
      training_sigmas_(training_sigmas(train_.alphas_cumprod)),
      solver_order_(config.get_int("solver_order", 2)),
      prediction_(read_prediction_type(config, true)),
      thresholding_(X0Clipping::read(config, false, false)),
      lower_order_final_(config.get_bool("lower_order_final", true)),
      euler_at_final_(config.get_bool("euler_at_final", false)),
      sigma_spacing_(read_sigma_spacing(config)),
      lu_lambdas_(config.get_bool("use_lu_lambdas", false)),
      lambda_min_clipped_(config.get_double("lambda_min_clipped", -INFINITY)),
      spacing_(read_timestep_spacing(config, "linspace")),
      steps_offset_(config.get_int("steps_offset", 0)),
      final_sigma_(read_final_sigma(config, training_sigmas_)) {
  if (solver_order_ < 1 || solver_order_ > 3) config.fail("solver_order", "supported: 1, 2, 3");
  // diffusers maps the names of other solvers' variants onto its own, as here.
  std::string algorithm = config.get_string("algorithm_type", "dpmsolver++");
  if (algorithm == "dpmsolver++" || algorithm == "deis") {
    algorithm_ = Algorithm::kDpmSolverPlusPlus;
  } else if (algorithm == "sde-dpmsolver++") {
    algorithm_ = Algorithm::kSdeDpmSolverPlusPlus;
  } else if (algorithm == "dpmsolver") {
    algorithm_ = Algorithm::kDpmSolver;
  } else {
    config.fail("algorithm_type", "supported: \"dpmsolver++\", \"sde-dpmsolver++\", \"dpmsolver\"");
  }
  std::string solver_type = config.get_string("solver_type", "midpoint");
  if (solver_type != "midpoint" && solver_type != "heun" && solver_type != "logrho" && solver_type != "bh1" &&
      solver_type != "bh2")
    config.fail("solver_type", "supported: \"midpoint\", \"heun\"");
  heun_ = solver_type == "heun";
  final_sigma_zero_ = final_sigma_ == 0.0f;
  if (!data_prediction() && final_sigma_zero_)
    config.fail("final_sigmas_type", "algorithm_type \"dpmsolver\" needs \"sigma_min\"");
  config.expect("variance_type", {});
  config.expect("use_flow_sigmas", {false});
  // Flow-matching options; they act only together with use_flow_sigmas.
  config.ignore({"flow_shift", "use_dynamic_shifting", "time_shift_type"});
}

void DpmSolverMultistepScheduler::set_timesteps(int num_inference_steps) {
  const int train_steps = train_.num_train_timesteps;
  check_step_count(num_inference_steps, train_steps);
  const int n = num_inference_steps;

  // Timesteps whose lambda = log(alpha / sigma) is below lambda_min_clipped are never visited.
  int clipped = 0;
  for (float a : train_.alphas_cumprod) {
    float lambda = std::log(std::sqrt(a)) - std::log(std::sqrt(1.0f - a));
    if (lambda < lambda_min_clipped_) ++clipped;
  }
  const int last_timestep = train_steps - clipped;

  std::vector<double> timesteps;
  switch (spacing_) {
    case Spacing::kLinspace:
      timesteps = rounded(linspace_timesteps(last_timestep - 1, n + 1));
      timesteps.pop_back();
      break;
    case Spacing::kLeading:
      timesteps = leading_timesteps(last_timestep, n + 1, steps_offset_);
      timesteps.pop_back();
      break;
    case Spacing::kTrailing: timesteps = trailing_timesteps(last_timestep, static_cast<double>(train_steps) / n); break;
  }

  std::vector<float> log_sigmas = log_f32(training_sigmas_);
  std::vector<double> sigmas;
  // Re-spaced sigmas get the (fractional) timesteps of their noise levels, rounded except for
  // the cosine schedule.
  bool round_timesteps = train_.beta_schedule != "squaredcos_cap_v2";
  if (sigma_spacing_ == SigmaSpacing::kKarras) {
    sigmas = karras_sigmas(training_sigmas_.front(), training_sigmas_.back(), n);
  } else if (lu_lambdas_) {
    std::vector<double> lambdas = np::linspace(0.0, 1.0, n);
    double lambda_min = log_sigmas.front(), lambda_max = log_sigmas.back();
    for (double& l : lambdas) l = std::exp(lambda_max + l * (lambda_min - lambda_max));
    sigmas = std::move(lambdas);
  } else if (sigma_spacing_ == SigmaSpacing::kExponential) {
    sigmas = exponential_sigmas(training_sigmas_.front(), training_sigmas_.back(), n);
    round_timesteps = false;
  } else {
    sigmas = interpolate_sigmas(timesteps, training_sigmas_);
  }
  if (sigma_spacing_ != SigmaSpacing::kTimesteps || lu_lambdas_) {
    timesteps.resize(sigmas.size());
    for (size_t i = 0; i < sigmas.size(); ++i) {
      double t = sigma_to_timestep(sigmas[i], log_sigmas);
      timesteps[i] = round_timesteps ? np::round(t) : t;
    }
  }
  // diffusers keeps the timesteps as int64 (truncating any fraction).
  for (double& t : timesteps) t = std::trunc(t);

  sigmas_.assign(sigmas.begin(), sigmas.end());
  sigmas_.push_back(final_sigma_);
  timesteps_ = std::move(timesteps);
  model_outputs_.assign(static_cast<size_t>(solver_order_), HostTensor());
  lower_order_nums_ = 0;
}

HostTensor DpmSolverMultistepScheduler::convert_model_output(const HostTensor& model_output, size_t step_index,
                                                             const HostTensor& sample) const {
  const AlphaSigma a = alpha_sigma_from_sigma(sigmas_[step_index]);
  auto x0_from_eps = [&](const HostTensor& eps) {
    return map(sample, eps, [&](float x, float e) { return (x - a.sigma * e) / a.alpha; });
  };
  auto eps_from_x0 = [&](const HostTensor& x0) {
    return map(sample, x0, [&](float x, float x0v) { return (x - a.alpha * x0v) / a.sigma; });
  };
  HostTensor x0, eps;
  switch (prediction_) {
    case Prediction::kEpsilon: eps = model_output; break;
    case Prediction::kSample: x0 = model_output; break;
    case Prediction::kVPrediction:
      if (data_prediction())
        x0 = map(sample, model_output, [&](float x, float v) { return a.alpha * x - a.sigma * v; });
      else
        eps = map(model_output, sample, [&](float v, float x) { return a.alpha * v + a.sigma * x; });
      break;
  }
  if (data_prediction()) {
    if (x0.data.empty()) x0 = x0_from_eps(eps);
    thresholding_.apply(x0);
    return x0;
  }
  if (eps.data.empty()) eps = eps_from_x0(x0);
  if (thresholding_.active()) {
    HostTensor clipped = x0_from_eps(eps);
    thresholding_.apply(clipped);
    eps = eps_from_x0(clipped);
  }
  return eps;
}

HostTensor DpmSolverMultistepScheduler::update(int order, size_t step_index, const HostTensor& sample,
                                               const HostTensor* noise) const {
  const AlphaSigma t = alpha_sigma_from_sigma(sigmas_[step_index + 1]);
  const AlphaSigma s0 = alpha_sigma_from_sigma(sigmas_[step_index]);
  const float lambda_t = lambda_of(t);
  const float lambda_s0 = lambda_of(s0);
  const float h = lambda_t - lambda_s0;

  // Finite differences of the stored outputs: D0 = m0, D1 and D2 the first and second.
  const HostTensor& m0 = model_outputs_.back();
  HostTensor d1, d2;
  float r0 = 0.0f, r1 = 0.0f;
  if (order >= 2) {
    const HostTensor& m1 = model_outputs_[model_outputs_.size() - 2];
    const float lambda_s1 = lambda_of(alpha_sigma_from_sigma(sigmas_[step_index - 1]));
    r0 = (lambda_s0 - lambda_s1) / h;
    const float inv_r0 = 1.0f / r0;
    d1 = map(m0, m1, [&](float a, float b) { return inv_r0 * (a - b); });
    if (order == 3) {
      const HostTensor& m2 = model_outputs_[model_outputs_.size() - 3];
      const float lambda_s2 = lambda_of(alpha_sigma_from_sigma(sigmas_[step_index - 2]));
      r1 = (lambda_s1 - lambda_s2) / h;
      const float inv_r1 = 1.0f / r1;
      const float mix = r0 / (r0 + r1);
      const float inv_sum = 1.0f / (r0 + r1);
      HostTensor d1_1 = map(m1, m2, [&](float a, float b) { return inv_r1 * (a - b); });
      d2 = map(d1, d1_1, [&](float a, float b) { return inv_sum * (a - b); });
      d1 = map(d1, d1_1, [&](float a, float b) { return a + mix * (a - b); });
    }
  }

  // x_t = c_sample * sample + c0 * D0 + c1 * D1 + c2 * D2 + c_noise * noise.
  float c_sample = 0, c0 = 0, c1 = 0, c2 = 0, c_noise = 0;
  switch (algorithm_) {
    case Algorithm::kDpmSolverPlusPlus: {
      const float em1 = std::exp(-h) - 1.0f;
      c_sample = t.sigma / s0.sigma;
      c0 = -(t.alpha * em1);
      c1 = order == 2 && !heun_ ? -(0.5f * (t.alpha * em1)) : t.alpha * (em1 / h + 1.0f);
      c2 = -(t.alpha * ((em1 + h) / (h * h) - 0.5f));
      break;
    }
    case Algorithm::kDpmSolver: {
      const float ep1 = std::exp(h) - 1.0f;
      c_sample = t.alpha / s0.alpha;
      c0 = -(t.sigma * ep1);
      c1 = order == 2 && !heun_ ? -(0.5f * (t.sigma * ep1)) : -(t.sigma * (ep1 / h - 1.0f));
      c2 = -(t.sigma * ((ep1 - h) / (h * h) - 0.5f));
      break;
    }
    case Algorithm::kSdeDpmSolverPlusPlus: {
      const float decay = std::exp(-2.0f * h);
      c_sample = t.sigma / s0.sigma * std::exp(-h);
      c0 = t.alpha * (1.0f - decay);
      c1 = order == 2 && !heun_ ? 0.5f * (t.alpha * (1.0f - decay))
                                : t.alpha * ((1.0f - decay) / (-2.0f * h) + 1.0f);
      c2 = t.alpha * ((1.0f - decay - 2.0f * h) / ((2.0f * h) * (2.0f * h)) - 0.5f);
      c_noise = t.sigma * std::sqrt(1.0f - decay);
      break;
    }
  }

  HostTensor out(sample.shape);
  for (size_t i = 0; i < out.data.size(); ++i) {
    float x = c_sample * sample.data[i];
    x = x + c0 * m0.data[i];
    if (order >= 2) x = x + c1 * d1.data[i];
    if (order == 3) x = x + c2 * d2.data[i];
    if (noise) x = x + c_noise * noise->data[i];
    out.data[i] = x;
  }
  return out;
}

HostTensor DpmSolverMultistepScheduler::step(const HostTensor& model_output, size_t step_index,
                                             const HostTensor& sample) {
  check_step(step_index);
  check_same_shape(name(), model_output, sample);
  const size_t count = timesteps_.size();
  // Lower orders near the end stabilise short schedules.
  const bool lower_final = step_index + 1 == count &&
                           (euler_at_final_ || (lower_order_final_ && count < 15) || final_sigma_zero_);
  const bool lower_second = step_index + 2 == count && lower_order_final_ && count < 15;

  model_outputs_.erase(model_outputs_.begin());
  model_outputs_.push_back(convert_model_output(model_output, step_index, sample));

  HostTensor noise;
  if (algorithm_ == Algorithm::kSdeDpmSolverPlusPlus) noise = draw_noise(sample.shape);

  int order = 3;
  if (solver_order_ == 1 || lower_order_nums_ < 1 || lower_final)
    order = 1;
  else if (solver_order_ == 2 || lower_order_nums_ < 2 || lower_second)
    order = 2;
  HostTensor prev = update(order, step_index, sample, noise.data.empty() ? nullptr : &noise);
  if (lower_order_nums_ < solver_order_) ++lower_order_nums_;
  return prev;
}

HostTensor DpmSolverMultistepScheduler::add_noise(const HostTensor& original, const HostTensor& noise,
                                                  size_t step_index) const {
  check_step(step_index);
  check_same_shape(name(), noise, original);
  const AlphaSigma a = alpha_sigma_from_sigma(sigmas_[step_index]);
  return map(original, noise, [&](float x, float n) { return a.alpha * x + a.sigma * n; });
}

}  // namespace websd::sched
