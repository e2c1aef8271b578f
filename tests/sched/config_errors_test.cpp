// Configs and calls websd cannot honour fail with an error that names the field or the call.
#include <gtest/gtest.h>

#include <fstream>

#include "fixture_cases.h"

namespace websd {
namespace {

nlohmann::json sd_config(const nlohmann::json& options = nlohmann::json::object()) {
  nlohmann::json config = {
      {"num_train_timesteps", 1000}, {"beta_start", 0.00085}, {"beta_end", 0.012}, {"beta_schedule", "scaled_linear"}};
  for (const auto& [key, value] : options.items()) config[key] = value;
  return config;
}

// The error make_scheduler throws, or "" if it builds the scheduler.
std::string config_error(const std::string& class_name, const nlohmann::json& options) {
  ConfigReader config(sd_config(options), "scheduler_config.json");
  try {
    make_scheduler(class_name, config);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_NAMES(message, text) EXPECT_NE(std::string(message).find(text), std::string::npos) << (message)

TEST(ConfigErrors, UnknownClass) {
  std::string message = config_error("KDPM2DiscreteScheduler", {});
  EXPECT_ERROR_NAMES(message, "KDPM2DiscreteScheduler");
  EXPECT_ERROR_NAMES(message, "EulerDiscreteScheduler");  // lists what is supported
}

TEST(ConfigErrors, UnknownField) {
  EXPECT_ERROR_NAMES(config_error("DDIMScheduler", {{"skip_prk_steps", true}, {"karras_rho", 7}}), "'karras_rho'");
}

// Stable Diffusion 2.1's DDIM config carries PNDM's skip_prk_steps; diffusers ignores it.
TEST(ConfigErrors, OtherSchedulersFieldsAreIgnored) {
  EXPECT_EQ(config_error("DDIMScheduler", {{"skip_prk_steps", true}, {"solver_order", 2}}), "");
}

TEST(ConfigErrors, UnsupportedValuesNameTheirField) {
  struct Case {
    const char* class_name;
    nlohmann::json options;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {"DPMSolverMultistepScheduler", {{"algorithm_type", "sde-dpmsolver"}}, "algorithm_type"},
           {"DPMSolverMultistepScheduler", {{"solver_type", "bogus"}}, "solver_type"},
           {"DPMSolverMultistepScheduler", {{"solver_order", 4}}, "solver_order"},
           {"DPMSolverMultistepScheduler", {{"algorithm_type", "dpmsolver"}}, "final_sigmas_type"},
           {"DPMSolverMultistepScheduler", {{"prediction_type", "flow_prediction"}}, "prediction_type"},
           {"DPMSolverMultistepScheduler", {{"variance_type", "learned_range"}}, "variance_type"},
           {"DPMSolverMultistepScheduler", {{"use_flow_sigmas", true}}, "use_flow_sigmas"},
           {"EulerDiscreteScheduler", {{"use_beta_sigmas", true}}, "use_beta_sigmas"},
           {"EulerDiscreteScheduler",
            {{"use_karras_sigmas", true}, {"use_exponential_sigmas", true}},
            "use_exponential_sigmas"},
           {"EulerDiscreteScheduler", {{"interpolation_type", "log_linear"}}, "interpolation_type"},
           {"EulerDiscreteScheduler", {{"timestep_type", "bogus"}}, "timestep_type"},
           {"EulerDiscreteScheduler", {{"final_sigmas_type", "bogus"}}, "final_sigmas_type"},
           {"PNDMScheduler", {{"prediction_type", "sample"}}, "prediction_type"},
           {"PNDMScheduler", {{"timestep_spacing", "bogus"}}, "timestep_spacing"},
           {"DDIMScheduler", {{"beta_schedule", "sigmoid"}}, "beta_schedule"},
           {"DDIMScheduler", {{"trained_betas", {0.1, 0.2}}}, "trained_betas"},
           {"DDIMScheduler", {{"num_train_timesteps", 1}}, "num_train_timesteps"},
           // Found with tests/fuzz/config_fuzzer.cpp: 2·10^9 asked for 8 GB of tables (10^8 took a minute).
           {"DDIMScheduler", {{"num_train_timesteps", 2000000000}}, "num_train_timesteps"},
           {"DDIMScheduler", {{"dynamic_thresholding_ratio", 1.5}}, "dynamic_thresholding_ratio"},
           {"LCMScheduler", {{"original_inference_steps", 0}}, "original_inference_steps"},
       }) {
    std::string message = config_error(c.class_name, c.options);
    EXPECT_ERROR_NAMES(message, c.field);
    EXPECT_ERROR_NAMES(message, "scheduler_config.json");
  }
}

TEST(ConfigErrors, StepCountsOutsideTheSchedule) {
  for (const char* class_name :
       {"PNDMScheduler", "DDIMScheduler", "LCMScheduler", "EulerDiscreteScheduler", "DPMSolverMultistepScheduler"}) {
    ConfigReader config(sd_config(), "scheduler_config.json");
    auto scheduler = make_scheduler(class_name, config);
    for (int steps : {0, -3, 1001}) {
      try {
        scheduler->set_timesteps(steps);
        ADD_FAILURE() << class_name << " accepted " << steps << " steps";
      } catch (const Error& e) {
        EXPECT_ERROR_NAMES(e.what(), "num_inference_steps");
        EXPECT_ERROR_NAMES(e.what(), class_name);
      }
    }
  }
  ConfigReader lcm(sd_config(), "scheduler_config.json");
  EXPECT_THROW(make_scheduler("LCMScheduler", lcm)->set_timesteps(51), Error);  // past original_inference_steps
  ConfigReader prk(sd_config({{"skip_prk_steps", false}}), "scheduler_config.json");
  EXPECT_THROW(make_scheduler("PNDMScheduler", prk)->set_timesteps(1), Error);
  ConfigReader offset(sd_config({{"steps_offset", 5}}), "scheduler_config.json");
  EXPECT_THROW(make_scheduler("DDIMScheduler", offset)->set_timesteps(1000), Error);  // timestep 1004
}

TEST(CallErrors, StepsNeedTimestepsAMatchingShapeAndAGeneratorForNoise) {
  ConfigReader config(sd_config(), "scheduler_config.json");
  auto scheduler = make_scheduler("LCMScheduler", config);
  HostTensor sample({1, 4, 2, 2});
  EXPECT_THROW(scheduler->step(sample, 0, sample), Error);  // before set_timesteps
  scheduler->set_timesteps(4);
  EXPECT_THROW(scheduler->step(sample, 4, sample), Error);  // past the last step
  EXPECT_THROW(scheduler->scale_model_input(sample, 4), Error);
  EXPECT_THROW(scheduler->step(HostTensor({1, 4, 2, 3}), 0, sample), Error);
  EXPECT_THROW(scheduler->add_noise(sample, HostTensor({4}), 0), Error);
  try {
    scheduler->step(sample, 0, sample);
    ADD_FAILURE() << "LCM drew noise without a generator";
  } catch (const Error& e) {
    EXPECT_ERROR_NAMES(e.what(), "set_generator");
  }
  TorchGenerator generator(0);
  scheduler->set_generator(&generator);
  EXPECT_NO_THROW(scheduler->step(sample, 0, sample));
}

TEST(CallErrors, EulerInitNoiseSigmaNeedsTimesteps) {
  ConfigReader config(sd_config(), "scheduler_config.json");
  EXPECT_THROW(make_scheduler("EulerDiscreteScheduler", config)->init_noise_sigma(), Error);
}

TEST(Loading, UnknownPresetListsTheNames) {
  try {
    scheduler_from_preset("k_lms", sd_config());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_ERROR_NAMES(e.what(), "k_lms");
    EXPECT_ERROR_NAMES(e.what(), "dpm++2m-karras");
  }
  EXPECT_THROW(scheduler_from_preset("euler", nlohmann::json::array()), Error);
}

TEST(Loading, MissingFileOrClassName) {
  EXPECT_THROW(load_scheduler(test::fixture("schedulers/no_such_config.json")), Error);
  std::string path = testing::TempDir() + "websd_no_class.json";
  std::ofstream(path) << R"({"beta_start": 0.00085})";
  try {
    load_scheduler(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_ERROR_NAMES(e.what(), "_class_name");
  }
}

}  // namespace
}  // namespace websd
