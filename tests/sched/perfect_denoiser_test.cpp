// For data that is a single point x0, the exact model output is known at every noise level
// (epsilon and sample predictions are constant, v follows from the level), and the sampling ODE
// is solved exactly by every deterministic scheduler here: whatever the options, the run must end
// on x0 (or on x0 noised to the final sigma). This exercises the options the fixtures do not.
#include <gtest/gtest.h>

#include <cmath>

#include "fixture_cases.h"
#include "sched/dpm_solver_multistep_scheduler.h"
#include "sched/euler_discrete_scheduler.h"

namespace websd {
namespace {

struct Variant {
  std::string class_name;
  nlohmann::json options;
  std::vector<std::string> predictions = {"epsilon", "sample", "v_prediction"};
  // PNDM and DDIM step back by num_train_timesteps // steps whatever the spacing, as diffusers
  // does, so only step counts that divide 1000 land on the next timestep of trailing spacing.
  std::vector<int> steps = {1, 4, 13, 25};
  double tolerance = 2e-4;
};

std::ostream& operator<<(std::ostream& os, const Variant& v) { return os << v.class_name << " " << v.options.dump(); }

HostTensor pattern(float scale, float phase) {
  HostTensor t({1, 4, 3, 3});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = scale * std::sin(phase + 0.7f * static_cast<float>(i));
  return t;
}

// (signal, noise) weights of the model's input at a step, normalised to a variance-preserving
// sample: Euler's samples are x0 + sigma * eps, scaled by 1 / sqrt(1 + sigma^2) for the model.
std::pair<float, float> input_weights(const Scheduler& s, size_t step) {
  HostTensor one({1}, {1.0f}), zero({1}, {0.0f});
  float a = s.add_noise(one, zero, step).data[0];
  float b = s.add_noise(zero, one, step).data[0];
  float norm = std::sqrt(a * a + b * b);
  return {a / norm, b / norm};
}

// Where the run must end: x0, or x0 noised to a non-zero final sigma.
HostTensor expected_end(const Scheduler& s, const HostTensor& x0, const HostTensor& eps) {
  float final_sigma = 0;
  bool variance_preserving = true;
  if (auto* euler = dynamic_cast<const sched::EulerDiscreteScheduler*>(&s)) {
    final_sigma = euler->sigmas().back();
    variance_preserving = false;
  } else if (auto* dpm = dynamic_cast<const sched::DpmSolverMultistepScheduler*>(&s)) {
    final_sigma = dpm->sigmas().back();
  }
  float alpha = variance_preserving ? 1.0f / std::sqrt(1.0f + final_sigma * final_sigma) : 1.0f;
  HostTensor out(x0.shape);
  for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = alpha * (x0.data[i] + final_sigma * eps.data[i]);
  return out;
}

class PerfectDenoiser : public ::testing::TestWithParam<Variant> {};

TEST_P(PerfectDenoiser, EndsOnTheData) {
  const Variant& v = GetParam();
  const HostTensor x0 = pattern(0.8f, 0.3f);
  const HostTensor eps = pattern(1.1f, 1.9f);
  for (const std::string& prediction : v.predictions) {
    for (int steps : v.steps) {
      SCOPED_TRACE(prediction + ", " + std::to_string(steps) + " steps");
      nlohmann::json options = v.options;
      options["prediction_type"] = prediction;
      ConfigReader config(options, "test config");
      auto scheduler = make_scheduler(v.class_name, config);
      TorchGenerator generator(3);
      scheduler->set_generator(&generator);
      scheduler->set_timesteps(steps);
      HostTensor sample = scheduler->add_noise(x0, eps, 0);
      for (size_t i = 0; i < scheduler->timesteps().size(); ++i) {
        HostTensor model_output = eps;
        if (prediction == "sample") model_output = x0;
        if (prediction == "v_prediction") {
          auto [alpha, sigma] = input_weights(*scheduler, i);
          for (size_t k = 0; k < model_output.data.size(); ++k)
            model_output.data[k] = alpha * eps.data[k] - sigma * x0.data[k];
        }
        sample = scheduler->step(model_output, i, sample);
      }
      HostTensor want = expected_end(*scheduler, x0, eps);
      EXPECT_TENSOR_NEAR(sample, want, v.tolerance);
    }
  }
}

nlohmann::json sd(nlohmann::json options) {
  nlohmann::json config = {{"beta_start", 0.00085}, {"beta_end", 0.012}, {"beta_schedule", "scaled_linear"}};
  for (const auto& [key, value] : options.items()) config[key] = value;
  return config;
}

// Where sigma_max is 4096 (zero terminal SNR), float32 keeps x0 only to about 2^-12 next to the
// noise; and there epsilon cannot give x0 at all (alpha = 0).
const std::vector<std::string> kNoEpsilon = {"sample", "v_prediction"};
// PLMS and Runge-Kutta combine raw model outputs, which is exact only for a constant epsilon.
const std::vector<std::string> kEpsilonOnly = {"epsilon"};
// With fresh noise in every step only a constant x0 prediction stays exact.
const std::vector<std::string> kSampleOnly = {"sample"};
const std::vector<int> kDivisorSteps = {1, 4, 25};

INSTANTIATE_TEST_SUITE_P(
    Pndm, PerfectDenoiser,
    ::testing::Values(
        Variant{.class_name = "PNDMScheduler",
                .options = sd({{"skip_prk_steps", true}, {"set_alpha_to_one", true}}),
                .predictions = kEpsilonOnly},
        Variant{.class_name = "PNDMScheduler",
                .options = sd({{"set_alpha_to_one", true}, {"steps_offset", 1}}),
                .predictions = kEpsilonOnly,
                // Under 4 steps diffusers' Runge-Kutta warm-up stops at timestep 1, short of the end.
                .steps = {4, 13, 25}},
        // A single step uses the one output as it is, so v-prediction is exact there.
        Variant{.class_name = "PNDMScheduler",
                .options = sd({{"skip_prk_steps", true}, {"set_alpha_to_one", true}}),
                .predictions = {"v_prediction"},
                .steps = {1}},
        Variant{.class_name = "PNDMScheduler",
                .options = sd({{"skip_prk_steps", true}, {"set_alpha_to_one", true}, {"timestep_spacing", "trailing"}}),
                .predictions = kEpsilonOnly,
                .steps = kDivisorSteps}));

INSTANTIATE_TEST_SUITE_P(
    Ddim, PerfectDenoiser,
    ::testing::Values(Variant{.class_name = "DDIMScheduler", .options = sd({{"steps_offset", 1}})},
                      Variant{.class_name = "DDIMScheduler",
                              .options = sd({{"timestep_spacing", "trailing"}, {"thresholding", true}}),
                              .steps = kDivisorSteps},
                      Variant{.class_name = "DDIMScheduler", .options = {{"beta_schedule", "squaredcos_cap_v2"}}},
                      Variant{.class_name = "DDIMScheduler",
                              .options = {{"beta_schedule", "linear"}, {"clip_sample", false}}},
                      Variant{.class_name = "DDIMScheduler",
                              .options = sd({{"rescale_betas_zero_snr", true}, {"timestep_spacing", "trailing"}}),
                              .predictions = kNoEpsilon,
                              .steps = kDivisorSteps}));

Variant euler(nlohmann::json options) {
  return Variant{.class_name = "EulerDiscreteScheduler", .options = sd(options)};
}

INSTANTIATE_TEST_SUITE_P(
    Euler, PerfectDenoiser,
    ::testing::Values(euler({}), euler({{"timestep_spacing", "leading"}, {"steps_offset", 1}}),
                      euler({{"timestep_spacing", "trailing"}}), euler({{"use_karras_sigmas", true}}),
                      euler({{"use_exponential_sigmas", true}}),
                      euler({{"use_karras_sigmas", true}, {"sigma_min", 0.1}, {"sigma_max", 10.0}}),
                      euler({{"final_sigmas_type", "sigma_min"}}), euler({{"timestep_type", "continuous"}}),
                      Variant{.class_name = "EulerDiscreteScheduler",
                              .options = sd({{"rescale_betas_zero_snr", true}, {"timestep_spacing", "trailing"}}),
                              .predictions = kNoEpsilon,
                              .tolerance = 5e-4}));

Variant dpm(nlohmann::json options, std::vector<std::string> predictions = {"epsilon", "sample", "v_prediction"}) {
  return Variant{.class_name = "DPMSolverMultistepScheduler", .options = sd(options), .predictions = predictions};
}

INSTANTIATE_TEST_SUITE_P(
    DpmSolver, PerfectDenoiser,
    ::testing::Values(
        dpm({}), dpm({{"solver_type", "heun"}}), dpm({{"solver_order", 3}}),
        dpm({{"solver_order", 1}, {"algorithm_type", "deis"}}),
        dpm({{"solver_order", 3}, {"lower_order_final", false}}),
        dpm({{"algorithm_type", "sde-dpmsolver++"}}, kSampleOnly),
        dpm({{"algorithm_type", "sde-dpmsolver++"}, {"solver_type", "heun"}}, kSampleOnly),
        dpm({{"algorithm_type", "sde-dpmsolver++"}, {"solver_order", 3}}, kSampleOnly),
        dpm({{"algorithm_type", "dpmsolver"}, {"final_sigmas_type", "sigma_min"}}),
        dpm({{"algorithm_type", "dpmsolver"}, {"final_sigmas_type", "sigma_min"}, {"solver_type", "heun"}}),
        dpm({{"algorithm_type", "dpmsolver"}, {"final_sigmas_type", "sigma_min"}, {"solver_order", 3}}),
        dpm({{"algorithm_type", "dpmsolver"}, {"final_sigmas_type", "sigma_min"}, {"thresholding", true}}),
        dpm({{"euler_at_final", true}, {"final_sigmas_type", "sigma_min"}}),
        dpm({{"thresholding", true}, {"solver_type", "bh2"}}), dpm({{"use_karras_sigmas", true}}),
        dpm({{"use_exponential_sigmas", true}}), dpm({{"use_lu_lambdas", true}}),
        dpm({{"timestep_spacing", "trailing"}}), dpm({{"timestep_spacing", "leading"}, {"steps_offset", 1}}),
        Variant{.class_name = "DPMSolverMultistepScheduler",
                .options = {{"beta_schedule", "squaredcos_cap_v2"}, {"lambda_min_clipped", -5.1}}},
        dpm({{"rescale_betas_zero_snr", true}, {"timestep_spacing", "trailing"}}, kNoEpsilon)));

}  // namespace
}  // namespace websd
