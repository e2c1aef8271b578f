// The CLI's scheduler names on a model's scheduler config, and real model folders' configs.
#include <gtest/gtest.h>

#include "fixture_cases.h"
#include "io/safetensors.h"

namespace websd {
namespace {

struct PresetCase {
  std::string preset;
  std::string family;  // the fixture cases the preset must reproduce
};

class Preset : public ::testing::TestWithParam<PresetCase> {};

// The fixture's PNDM config as diffusers holds it in memory: with _use_default_values.
nlohmann::json pndm_base_config() {
  for (const auto& c : test::scheduler_cases())
    if (c.name == "pndm_1") return c.config;
  throw Error("configs.json has no pndm_1");
}

TEST_P(Preset, ReproducesTheFixtureCases) {
  const PresetCase& p = GetParam();
  for (int steps : {1, 2, 10, 20, 25, 50}) {
    std::string name = p.family + "_" + std::to_string(steps);
    SCOPED_TRACE(name);
    auto scheduler = scheduler_from_preset(p.preset, pndm_base_config());
    scheduler->set_timesteps(steps);
    test::expect_timesteps_match(scheduler->timesteps(), test::trajectories().read_f64(name + "_timesteps"));
    EXPECT_LE(test::relative_error(test::run_trajectory(*scheduler, test::epsilon_runs(), name),
                                   test::trajectories().read(name + "_final")),
              1e-5);
  }
}

std::string preset_name(const ::testing::TestParamInfo<PresetCase>& info) { return info.param.family; }

INSTANTIATE_TEST_SUITE_P(AllPresets, Preset,
                         ::testing::Values(PresetCase{"pndm", "pndm"}, PresetCase{"dpm++2m", "dpmpp_2m"},
                                           PresetCase{"dpm++2m-karras", "dpmpp_2m_karras"},
                                           PresetCase{"euler", "euler"}, PresetCase{"euler-karras", "euler_karras"},
                                           PresetCase{"ddim", "ddim"}, PresetCase{"lcm", "lcm"}),
                         preset_name);

TEST(Presets, ListsTheCliNames) {
  EXPECT_EQ(scheduler_presets(),
            (std::vector<std::string>{"pndm", "dpm++2m", "dpm++2m-karras", "euler", "euler-karras", "ddim", "lcm"}));
}

// A config file states timestep_spacing outright, so from_config carries it into DPM-Solver
// (whose own default is linspace): 8 steps on the leading grid of 1000 // 9.
TEST(Presets, ExplicitFieldsOfTheModelConfigCarryOver) {
  nlohmann::json disk = read_json_file(test::fixture("tiny-sd15/model/scheduler/scheduler_config.json"));
  auto scheduler = scheduler_from_preset("dpm++2m", disk);
  scheduler->set_timesteps(8);
  EXPECT_EQ(scheduler->timesteps(), (std::vector<double>{889, 778, 667, 556, 445, 334, 223, 112}));
  // The same config in memory, where timestep_spacing was only PNDM's default, gives linspace.
  disk["_use_default_values"] = {"timestep_spacing"};
  scheduler = scheduler_from_preset("dpm++2m", disk);
  scheduler->set_timesteps(8);
  EXPECT_EQ(scheduler->timesteps(), (std::vector<double>{999, 874, 749, 624, 500, 375, 250, 125}));
}

TEST(ModelFolders, LoadsTheTinySd15Scheduler) {
  auto scheduler = load_scheduler(test::fixture("tiny-sd15/model/scheduler/scheduler_config.json"));
  scheduler->set_timesteps(10);
  SafetensorsFile golden(test::fixture("tiny-sd15/golden/pndm_10.safetensors"));
  EXPECT_EQ(scheduler->timesteps(), golden.read_f64("timesteps"));
}

// The golden run's config carries lambda_min_clipped = -Infinity, as Python's json writes it.
TEST(ModelFolders, BuildsTheGoldenDpmSolverConfig) {
  nlohmann::json run = read_json_file(test::fixture("tiny-sd15/golden/dpmpp2m_8_neg.json"));
  ConfigReader config(run.at("scheduler_config"), "dpmpp2m_8_neg.json");
  auto scheduler = make_scheduler(run.at("scheduler").get<std::string>(), config);
  scheduler->set_timesteps(run.at("steps").get<int>());
  SafetensorsFile golden(test::fixture("tiny-sd15/golden/dpmpp2m_8_neg.safetensors"));
  EXPECT_EQ(scheduler->timesteps(), golden.read_f64("timesteps"));
}

}  // namespace
}  // namespace websd
