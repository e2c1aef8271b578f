// Schedules and options with values worked out from diffusers' formulas (numpy semantics).
#include <gtest/gtest.h>

#include <cmath>

#include "fixture_cases.h"
#include "sched/dpm_solver_multistep_scheduler.h"
#include "sched/euler_discrete_scheduler.h"
#include "sched/sample_ops.h"

namespace websd {
namespace {

std::unique_ptr<Scheduler> make(const std::string& class_name, nlohmann::json options, int steps) {
  nlohmann::json config = {{"beta_start", 0.00085}, {"beta_end", 0.012}, {"beta_schedule", "scaled_linear"}};
  for (const auto& [key, value] : options.items()) config[key] = value;
  ConfigReader reader(config, "test config");
  auto scheduler = make_scheduler(class_name, reader);
  scheduler->set_timesteps(steps);
  return scheduler;
}

using Steps = std::vector<double>;

TEST(Spacing, Ddim) {
  EXPECT_EQ(make("DDIMScheduler", {{"timestep_spacing", "linspace"}}, 10)->timesteps(),
            (Steps{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}));
  EXPECT_EQ(make("DDIMScheduler", {{"timestep_spacing", "linspace"}}, 7)->timesteps(),
            (Steps{999, 832, 666, 500, 333, 166, 0}));  // numpy rounds halves to even
  EXPECT_EQ(make("DDIMScheduler", {{"timestep_spacing", "trailing"}}, 10)->timesteps(),
            (Steps{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}));
  EXPECT_EQ(make("DDIMScheduler", {{"steps_offset", 1}}, 4)->timesteps(), (Steps{751, 501, 251, 1}));
}

// numpy's arange overshoots by one value when 1000 / steps is inexact in the wrong direction, and
// diffusers keeps the extra timestep (-1): 61 trailing steps are 62 timesteps.
TEST(Spacing, TrailingKeepsNumpysExtraValue) {
  auto ddim = make("DDIMScheduler", {{"timestep_spacing", "trailing"}}, 61);
  const Steps& t = ddim->timesteps();
  ASSERT_EQ(t.size(), 62u);
  EXPECT_EQ(t[0], 999);
  EXPECT_EQ(t[60], 15);
  EXPECT_EQ(t[61], -1);
}

TEST(Spacing, Pndm) {
  EXPECT_EQ(make("PNDMScheduler", {{"skip_prk_steps", true}, {"timestep_spacing", "linspace"}}, 4)->timesteps(),
            (Steps{999, 666, 666, 333, 0}));
  EXPECT_EQ(make("PNDMScheduler", {{"skip_prk_steps", true}, {"timestep_spacing", "trailing"}}, 4)->timesteps(),
            (Steps{999, 749, 749, 499, 249}));
  // Runge-Kutta warm-up over the last four intervals (ends and midpoints), then PLMS from the
  // seventh timestep down.
  EXPECT_EQ(make("PNDMScheduler", {{"steps_offset", 1}}, 10)->timesteps(),
            (Steps{901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1}));
}

TEST(Spacing, EulerAndDpmSolver) {
  EXPECT_EQ(make("EulerDiscreteScheduler", {}, 10)->timesteps(),
            (Steps{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}));
  EXPECT_EQ(make("EulerDiscreteScheduler", {}, 4)->timesteps(), (Steps{999, 666, 333, 0}));
  EXPECT_EQ(make("EulerDiscreteScheduler", {{"timestep_spacing", "trailing"}}, 4)->timesteps(),
            (Steps{999, 749, 499, 249}));
  EXPECT_EQ(make("DPMSolverMultistepScheduler", {{"timestep_spacing", "trailing"}}, 4)->timesteps(),
            (Steps{999, 749, 499, 249}));
  EXPECT_EQ(make("DPMSolverMultistepScheduler", {{"timestep_spacing", "leading"}, {"steps_offset", 1}}, 4)->timesteps(),
            (Steps{801, 601, 401, 201}));
}

TEST(Spacing, LcmTakesEvenlySpacedDistillationSteps) {
  EXPECT_EQ(make("LCMScheduler", {{"original_inference_steps", 100}}, 4)->timesteps(), (Steps{999, 749, 499, 249}));
  EXPECT_EQ(make("LCMScheduler", {}, 3)->timesteps(), (Steps{999, 679, 339}));
}

// lambda_min_clipped drops the last training timesteps whose log(alpha / sigma) is below it: 4
// of the cosine schedule's for -5.1, so linspace runs over 996 timesteps.
TEST(Spacing, DpmSolverClipsLambda) {
  auto dpm = make("DPMSolverMultistepScheduler", {{"beta_schedule", "squaredcos_cap_v2"}, {"lambda_min_clipped", -5.1}},
                  10);
  EXPECT_EQ(dpm->timesteps(), (Steps{995, 896, 796, 696, 597, 498, 398, 298, 199, 100}));
}

TEST(Sigmas, KarrasAndExponentialSpacing) {
  auto karras =
      make("EulerDiscreteScheduler", {{"use_karras_sigmas", true}, {"sigma_min", 0.1}, {"sigma_max", 10.0}}, 6);
  const auto& ks = dynamic_cast<sched::EulerDiscreteScheduler&>(*karras).sigmas();
  ASSERT_EQ(ks.size(), 7u);
  EXPECT_FLOAT_EQ(ks.front(), 10.0f);
  EXPECT_FLOAT_EQ(ks[5], 0.1f);
  EXPECT_EQ(ks.back(), 0.0f);
  // sigma^(1/7) is evenly spaced.
  auto root = [&](int i) { return std::pow(ks[i], 1 / 7.0); };
  for (int i = 1; i < 5; ++i) EXPECT_NEAR(root(i - 1) - root(i), root(i) - root(i + 1), 1e-6);

  auto exponential = make("DPMSolverMultistepScheduler", {{"use_exponential_sigmas", true}}, 6);
  const auto& es = dynamic_cast<sched::DpmSolverMultistepScheduler&>(*exponential).sigmas();
  for (int i = 1; i < 5; ++i) EXPECT_NEAR(es[i - 1] / es[i], es[i] / es[i + 1], 1e-5);
  // Exponential timesteps keep diffusers' int64 truncation; they still run from noisy to clean.
  for (size_t i = 1; i < exponential->timesteps().size(); ++i)
    EXPECT_LT(exponential->timesteps()[i], exponential->timesteps()[i - 1]);
}

TEST(Sigmas, FinalSigmaMinIsTheSmallestTrainingSigma) {
  auto euler = make("EulerDiscreteScheduler", {{"final_sigmas_type", "sigma_min"}}, 5);
  auto dpm = make("DPMSolverMultistepScheduler", {{"final_sigmas_type", "sigma_min"}}, 5);
  // sqrt(beta_0 / (1 - beta_0)) with beta_0 = 0.00085.
  const float sigma_min = std::sqrt(0.00085f / (1 - 0.00085f));
  EXPECT_NEAR(dynamic_cast<sched::EulerDiscreteScheduler&>(*euler).sigmas().back(), sigma_min, 1e-6);
  EXPECT_NEAR(dynamic_cast<sched::DpmSolverMultistepScheduler&>(*dpm).sigmas().back(), sigma_min, 1e-6);
}

// Zero terminal SNR puts sigma_max at sqrt((1 - 2^-24) / 2^-24) = 4096 for sigma-based schedulers.
TEST(Sigmas, ZeroTerminalSnr) {
  auto euler = make("EulerDiscreteScheduler", {{"rescale_betas_zero_snr", true}, {"timestep_spacing", "trailing"}}, 4);
  EXPECT_NEAR(dynamic_cast<sched::EulerDiscreteScheduler&>(*euler).sigmas().front(), 4096.0f, 1e-3);
  EXPECT_NEAR(euler->init_noise_sigma(), 4096.0, 1e-3);  // trailing: sigma_max itself
  // DDPM-style: alpha_cumprod of the last timestep is exactly 0, so add_noise gives pure noise.
  auto ddim = make("DDIMScheduler", {{"rescale_betas_zero_snr", true}, {"timestep_spacing", "trailing"}}, 4);
  HostTensor x({2}, {3.0f, -2.0f}), n({2}, {0.5f, 0.25f});
  EXPECT_EQ(ddim->add_noise(x, n, 0).data, n.data);
}

TEST(Timesteps, ContinuousEulerTimestepsAreQuarterLogSigma) {
  auto euler =
      make("EulerDiscreteScheduler", {{"timestep_type", "continuous"}, {"prediction_type", "v_prediction"}}, 5);
  const auto& sigmas = dynamic_cast<sched::EulerDiscreteScheduler&>(*euler).sigmas();
  for (size_t i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(euler->timesteps()[i], 0.25f * std::log(sigmas[i]));
  // Without v-prediction diffusers keeps discrete timesteps.
  EXPECT_EQ(make("EulerDiscreteScheduler", {{"timestep_type", "continuous"}}, 4)->timesteps(),
            (Steps{999, 666, 333, 0}));
}

TEST(TrainSchedule, TrainedBetasReplaceTheFormula) {
  nlohmann::json betas = nlohmann::json::array();
  for (int i = 0; i < 1000; ++i) betas.push_back(0.0001 + (0.02 - 0.0001) * i / 999.0);
  HostTensor x({1}, {1.0f}), n({1}, {0.0f});
  auto trained = make("DDIMScheduler", {{"trained_betas", betas}, {"beta_schedule", "no such schedule"}}, 10);
  auto linear = make("DDIMScheduler", {{"beta_schedule", "linear"}, {"beta_start", 0.0001}, {"beta_end", 0.02}}, 10);
  for (size_t i = 0; i < 10; ++i)
    EXPECT_NEAR(trained->add_noise(x, n, i).data[0], linear->add_noise(x, n, i).data[0], 1e-6);
}

// Glide's cosine schedule: alphas_cumprod(t) = f(t + 1) / f(0), f(t) = cos((t / 1000 + 0.008) / 1.008 * pi / 2)^2.
TEST(TrainSchedule, CosineSchedule) {
  auto ddim = make("DDIMScheduler", {{"beta_schedule", "squaredcos_cap_v2"}}, 10);
  auto f = [](double t) { return std::pow(std::cos((t / 1000 + 0.008) / 1.008 * M_PI / 2), 2); };
  HostTensor x({1}, {1.0f}), n({1}, {0.0f});
  for (size_t i = 0; i < 10; ++i) {
    double t = ddim->timesteps()[i];
    EXPECT_NEAR(ddim->add_noise(x, n, i).data[0], std::sqrt(f(t + 1) / f(0)), 2e-5) << "timestep " << t;
  }
}

TEST(ScaleModelInput, OnlyEulerScales) {
  HostTensor sample({3}, {1.0f, -2.0f, 0.5f});
  for (const char* name : {"PNDMScheduler", "DDIMScheduler", "LCMScheduler", "DPMSolverMultistepScheduler"}) {
    auto scheduler = make(name, {}, 4);
    EXPECT_EQ(scheduler->scale_model_input(sample, 0).data, sample.data) << name;
    EXPECT_EQ(scheduler->init_noise_sigma(), 1.0) << name;
  }
  auto euler = make("EulerDiscreteScheduler", {}, 4);
  float sigma = dynamic_cast<sched::EulerDiscreteScheduler&>(*euler).sigmas()[1];
  EXPECT_FLOAT_EQ(euler->scale_model_input(sample, 1).data[1], -2.0f / std::sqrt(sigma * sigma + 1));
}

// With the same noise stream, epsilon, x0 and v outputs describing the same denoised sample give
// the same LCM run.
TEST(Lcm, PredictionTypesAgree) {
  const HostTensor x0({4}, {0.5f, -0.3f, 0.2f, 0.7f});
  const HostTensor eps({4}, {1.0f, -1.0f, 0.5f, 0.3f});
  std::vector<HostTensor> finals;
  for (const char* prediction : {"epsilon", "sample", "v_prediction"}) {
    auto lcm = make("LCMScheduler", {{"prediction_type", prediction}}, 4);
    TorchGenerator generator(11);
    lcm->set_generator(&generator);
    HostTensor sample = lcm->add_noise(x0, eps, 0);
    for (size_t i = 0; i < 4; ++i) {
      HostTensor one({1}, {1.0f}), zero({1}, {0.0f});
      float alpha = lcm->add_noise(one, zero, i).data[0], sigma = lcm->add_noise(zero, one, i).data[0];
      // The noise level of the current sample: eps for it follows from x0.
      HostTensor e = sched::map(sample, x0, [&](float x, float c) { return (x - alpha * c) / sigma; });
      HostTensor output = e;
      if (std::string(prediction) == "sample") output = x0;
      if (std::string(prediction) == "v_prediction")
        output = sched::map(e, x0, [&](float ev, float c) { return alpha * ev - sigma * c; });
      sample = lcm->step(output, i, sample);
    }
    finals.push_back(sample);
  }
  EXPECT_TENSOR_NEAR(finals[1], finals[0], 1e-5);
  EXPECT_TENSOR_NEAR(finals[2], finals[0], 1e-5);
}

// Imagen's dynamic thresholding: s = the ratio-quantile of |x0| per batch item, kept in
// [1, sample_max_value]; x0 is clamped to [-s, s] and divided by s.
TEST(Thresholding, ClampsAndRescalesPerBatchItem) {
  ConfigReader config({{"thresholding", true}, {"dynamic_thresholding_ratio", 0.5}, {"sample_max_value", 3.0}}, "test");
  sched::X0Clipping clipping = sched::X0Clipping::read(config, false, false);
  HostTensor x0({2, 5}, {-4, 1, 2, 3, 0, 0.1f, 0.2f, -0.3f, 0.4f, 0.5f});
  clipping.apply(x0);
  // Item 0: |x| = {0, 1, 2, 3, 4}, median 2. Item 1: median 0.3 -> s = 1, nothing changes.
  std::vector<float> want = {-1, 0.5f, 1, 1, 0, 0.1f, 0.2f, -0.3f, 0.4f, 0.5f};
  EXPECT_EQ(x0.data, want);

  ConfigReader capped({{"thresholding", true}, {"dynamic_thresholding_ratio", 1.0}, {"sample_max_value", 2.0}}, "test");
  HostTensor big({1, 3}, {-8, 1, 4});
  sched::X0Clipping::read(capped, false, false).apply(big);
  EXPECT_EQ(big.data, (std::vector<float>{-1, 0.5f, 1}));

  ConfigReader clip({{"clip_sample_range", 0.5}}, "test");
  HostTensor clipped({3}, {-2, 0.25f, 2});
  sched::X0Clipping::read(clip, true, true).apply(clipped);
  EXPECT_EQ(clipped.data, (std::vector<float>{-0.5f, 0.25f, 0.5f}));
}

}  // namespace
}  // namespace websd
