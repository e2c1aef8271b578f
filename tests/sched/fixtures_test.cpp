// Every scheduler case of tests/fixtures/schedulers (prediction_type epsilon) and
// tests/fixtures/schedulers-v (v_prediction, SD 2.x) against diffusers' recorded run.
#include <gtest/gtest.h>

#include "fixture_cases.h"
#include "sched/dpm_solver_multistep_scheduler.h"
#include "sched/euler_discrete_scheduler.h"

namespace websd {
namespace {

using test::SchedulerCase;

class SchedulerFixture : public ::testing::TestWithParam<SchedulerCase> {
 protected:
  std::unique_ptr<Scheduler> make() const {
    const SchedulerCase& c = GetParam();
    ConfigReader config(c.config, "configs.json: " + c.name);
    auto scheduler = make_scheduler(c.class_name, config);
    scheduler->set_timesteps(c.steps);
    return scheduler;
  }
};

TEST_P(SchedulerFixture, TimestepsMatch) {
  const SchedulerCase& c = GetParam();
  test::expect_timesteps_match(make()->timesteps(), c.set->file().read_f64(c.name + "_timesteps"));
}

// Only the sigma-based schedulers (Euler, DPM-Solver) have recorded sigmas.
class SchedulerSigmas : public SchedulerFixture {};

std::vector<SchedulerCase> cases_with_sigmas(const test::TrajectorySet& set) {
  std::vector<SchedulerCase> out;
  for (const SchedulerCase& c : test::scheduler_cases(set))
    if (set.file().contains(c.name + "_sigmas")) out.push_back(c);
  return out;
}

TEST_P(SchedulerSigmas, SigmasMatch) {
  const SchedulerCase& c = GetParam();
  auto scheduler = make();
  const std::vector<float>* sigmas = nullptr;
  if (auto* euler = dynamic_cast<sched::EulerDiscreteScheduler*>(scheduler.get())) sigmas = &euler->sigmas();
  if (auto* dpm = dynamic_cast<sched::DpmSolverMultistepScheduler*>(scheduler.get())) sigmas = &dpm->sigmas();
  ASSERT_NE(sigmas, nullptr);
  std::vector<double> got(sigmas->begin(), sigmas->end());
  EXPECT_LE(test::relative_error(got, c.set->file().read_f64(c.name + "_sigmas")), 1e-5);
}

TEST_P(SchedulerFixture, TrajectoryMatches) {
  const SchedulerCase& c = GetParam();
  auto scheduler = make();
  HostTensor scaled0;
  HostTensor final_sample = test::run_trajectory(*scheduler, *c.set, c.name, &scaled0);
  EXPECT_LE(test::relative_error(scaled0, c.set->file().read(c.name + "_scaled_input0")), 1e-5);
  EXPECT_LE(test::relative_error(final_sample, c.set->file().read(c.name + "_final")), 1e-5);
}

// The fixture's inputs are torch.randn draws from one seeded stream, the start sample scaled by
// init_noise_sigma: replaying the stream checks successive randn calls and init_noise_sigma.
TEST_P(SchedulerFixture, InputsAreTheSeededStreamScaledByInitNoiseSigma) {
  const SchedulerCase& c = GetParam();
  auto scheduler = make();
  SafetensorsFile& file = c.set->file();
  const std::string outputs_key = c.name + "_" + c.set->model_output;
  TorchGenerator stream = test::stream_before(*c.set, c.name);
  HostTensor x0 = stream.randn(file.info(c.name + "_x0").shape);
  HostTensor outputs = stream.randn(file.info(outputs_key).shape);
  const double sigma = scheduler->init_noise_sigma();
  for (float& v : x0.data) v = static_cast<float>(v * sigma);
  EXPECT_LE(test::relative_error(x0, file.read(c.name + "_x0")), 1e-6);
  EXPECT_EQ(outputs.data, file.read(outputs_key).data);
}

std::string case_name(const ::testing::TestParamInfo<SchedulerCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllCases, SchedulerFixture, ::testing::ValuesIn(test::scheduler_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(SigmaCases, SchedulerSigmas, ::testing::ValuesIn(cases_with_sigmas(test::epsilon_runs())),
                         case_name);
INSTANTIATE_TEST_SUITE_P(VPrediction, SchedulerFixture,
                         ::testing::ValuesIn(test::scheduler_cases(test::v_prediction_runs())), case_name);
INSTANTIATE_TEST_SUITE_P(VPredictionSigmas, SchedulerSigmas,
                         ::testing::ValuesIn(cases_with_sigmas(test::v_prediction_runs())), case_name);

}  // namespace
}  // namespace websd
