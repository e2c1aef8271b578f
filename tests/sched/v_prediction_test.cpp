// prediction_type "v_prediction" (SD 2.x 768 models) in every scheduler, on synthetic data:
// v = alpha_t * eps - sigma_t * x0 for the variance-preserving sample x = alpha_t * x0 + sigma_t * eps.
#include <gtest/gtest.h>

#include <cmath>

#include "fixture_cases.h"
#include "sched/euler_discrete_scheduler.h"
#include "sched/sample_ops.h"

namespace websd {
namespace {

std::unique_ptr<Scheduler> make(const std::string& class_name, const std::string& prediction, int steps) {
  nlohmann::json config = {{"beta_start", 0.00085},   {"beta_end", 0.012}, {"beta_schedule", "scaled_linear"},
                           {"prediction_type", prediction}, {"steps_offset", 1}, {"timestep_spacing", "leading"},
                           {"skip_prk_steps", true}};
  ConfigReader reader(config, "test config");
  auto scheduler = make_scheduler(class_name, reader);
  scheduler->set_timesteps(steps);
  return scheduler;
}

HostTensor pattern(float scale, float phase) {
  HostTensor t({1, 4, 3, 3});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = scale * std::sin(phase + 0.7f * static_cast<float>(i));
  return t;
}

// (sqrt(alpha_prod), sqrt(1 - alpha_prod)) at a step, and the factor that takes the scheduler's
// sample to the variance-preserving one (Euler's samples are x0 + sigma * eps).
struct Level {
  float alpha, sigma, to_vp;
};
Level level(const Scheduler& s, size_t step) {
  HostTensor one({1}, {1.0f}), zero({1}, {0.0f});
  const float a = s.add_noise(one, zero, step).data[0], b = s.add_noise(zero, one, step).data[0];
  const float norm = std::sqrt(a * a + b * b);
  return {a / norm, b / norm, 1.0f / norm};
}

// The epsilon a v output stands for, as diffusers converts it: eps = alpha * v + sigma * x.
HostTensor eps_from_v(const HostTensor& v, const HostTensor& sample, const Level& l) {
  return sched::map(v, sample, [&](float vv, float x) { return l.alpha * vv + l.sigma * x * l.to_vp; });
}

// One step from the same sample: a v-prediction scheduler given v lands where the epsilon one
// given the equivalent epsilon does, for every scheduler class.
class VPredictionStep : public ::testing::TestWithParam<std::string> {};

TEST_P(VPredictionStep, EqualsTheEquivalentEpsilonStep) {
  for (size_t step : {0u, 3u}) {
    SCOPED_TRACE("step " + std::to_string(step));
    auto v_sched = make(GetParam(), "v_prediction", 10), eps_sched = make(GetParam(), "epsilon", 10);
    TorchGenerator g1(4), g2(4);
    v_sched->set_generator(&g1);
    eps_sched->set_generator(&g2);
    const HostTensor sample = v_sched->add_noise(pattern(0.8f, 0.3f), pattern(1.1f, 1.9f), step);
    const HostTensor v = pattern(0.9f, 2.5f);
    // Stateful schedulers (PNDM, DPM-Solver) take their first step here, whatever the index.
    const HostTensor got = v_sched->step(v, step, sample);
    const HostTensor want = eps_sched->step(eps_from_v(v, sample, level(*v_sched, step)), step, sample);
    EXPECT_LE(test::relative_error(got, want), 2e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(AllSchedulers, VPredictionStep,
                         ::testing::Values("PNDMScheduler", "DDIMScheduler", "EulerDiscreteScheduler",
                                           "DPMSolverMultistepScheduler", "LCMScheduler"));

// diffusers' DDIMScheduler.step (eta 0) for v_prediction, written out:
//   x0 = sqrt(a_t) x - sqrt(1 - a_t) v,  eps = sqrt(a_t) v + sqrt(1 - a_t) x,
//   x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps.
TEST(VPrediction, DdimMatchesDiffusersFormula) {
  auto ddim = make("DDIMScheduler", "v_prediction", 10);
  const HostTensor x = pattern(1.2f, 0.1f), v = pattern(0.7f, 1.3f);
  const Level now = level(*ddim, 2), prev = level(*ddim, 3);
  HostTensor want(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const float x0 = now.alpha * x.data[i] - now.sigma * v.data[i];
    const float eps = now.alpha * v.data[i] + now.sigma * x.data[i];
    want.data[i] = prev.alpha * x0 + prev.sigma * eps;
  }
  EXPECT_LE(test::relative_error(ddim->step(v, 2, x), want), 1e-6);
}

// diffusers' PNDMScheduler (PLMS) converts the combined model output with the sample and timestep
// it is applied at (_get_prev_sample): the second call averages the two v outputs and goes back to
// the first sample, so it is not the epsilon run of the converted outputs.
TEST(VPrediction, PndmConvertsTheCombinedOutput) {
  auto pndm = make("PNDMScheduler", "v_prediction", 10);
  ASSERT_EQ(pndm->timesteps()[1], pndm->timesteps()[2]);  // PLMS evaluates t1 twice
  const Level l0 = level(*pndm, 0), l1 = level(*pndm, 1);
  const float a0 = l0.alpha * l0.alpha, a1 = l1.alpha * l1.alpha;
  // x_prev = sqrt(a_prev / a_t) x - (a_prev - a_t) eps / (a_t sqrt(1 - a_prev) + sqrt(a_t (1 - a_t) a_prev))
  const auto prev_sample = [&](const HostTensor& x, const HostTensor& v) {
    HostTensor out(x.shape);
    const float denom = a0 * std::sqrt(1 - a1) + std::sqrt(a0 * (1 - a0) * a1);
    for (size_t i = 0; i < x.data.size(); ++i) {
      const float eps = std::sqrt(a0) * v.data[i] + std::sqrt(1 - a0) * x.data[i];
      out.data[i] = std::sqrt(a1 / a0) * x.data[i] - (a1 - a0) * eps / denom;
    }
    return out;
  };
  const HostTensor x0 = pattern(1.0f, 0.2f), v0 = pattern(0.6f, 0.9f), v1 = pattern(0.5f, 2.2f);
  const HostTensor x1 = pndm->step(v0, 0, x0);
  EXPECT_LE(test::relative_error(x1, prev_sample(x0, v0)), 1e-5);
  const HostTensor mean = sched::map(v0, v1, [](float a, float b) { return (b + a) / 2; });
  EXPECT_LE(test::relative_error(pndm->step(v1, 1, x1), prev_sample(x0, mean)), 1e-5);
}

// diffusers' EulerDiscreteScheduler for v_prediction: x0 = v * (-sigma / sqrt(sigma^2 + 1)) +
// x / (sigma^2 + 1), then the Euler step x + (x - x0) / sigma * (sigma_next - sigma).
TEST(VPrediction, EulerMatchesDiffusersFormula) {
  auto euler = make("EulerDiscreteScheduler", "v_prediction", 10);
  const auto& sigmas = dynamic_cast<const sched::EulerDiscreteScheduler&>(*euler).sigmas();
  const float s = sigmas[4], next = sigmas[5];
  const HostTensor x = pattern(3.0f, 0.4f), v = pattern(0.8f, 1.7f);
  HostTensor want(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const float x0 = v.data[i] * (-s / std::sqrt(s * s + 1)) + x.data[i] / (s * s + 1);
    want.data[i] = x.data[i] + (x.data[i] - x0) / s * (next - s);
  }
  EXPECT_LE(test::relative_error(euler->step(v, 4, x), want), 1e-6);
}

}  // namespace
}  // namespace websd
