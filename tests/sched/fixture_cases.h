#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "rng/torch_generator.h"
#include "sched/scheduler.h"
#include "support/fixtures.h"

namespace websd::test {

// A folder of diffusers scheduler runs in tests/fixtures: configs.json and trajectories.safetensors.
struct TrajectorySet {
  std::string dir;           // "schedulers" (prediction_type epsilon), "schedulers-v" (v_prediction)
  std::string model_output;  // key suffix of the stacked fake model outputs, one per step
  std::vector<int> steps;    // the step counts of every scheduler family
  uint64_t seed;             // of the torch.manual_seed stream its inputs were drawn from
  SafetensorsFile& file() const {
    static std::map<std::string, SafetensorsFile> open;  // each file opened once
    return open.try_emplace(dir, fixture(dir + "/trajectories.safetensors")).first->second;
  }
};

inline const TrajectorySet& epsilon_runs() {
  static const TrajectorySet set{"schedulers", "eps", {1, 2, 10, 20, 25, 50}, 0};
  return set;
}
inline const TrajectorySet& v_prediction_runs() {
  static const TrajectorySet set{"schedulers-v", "model_output", {1, 2, 10, 20, 25}, 20};
  return set;
}

// The epsilon runs' file, which most tests read.
inline SafetensorsFile& trajectories() { return epsilon_runs().file(); }

// One case of a TrajectorySet: a diffusers scheduler config and its recorded run.
struct SchedulerCase {
  std::string name;        // e.g. "euler_karras_10"
  std::string class_name;  // diffusers class
  nlohmann::json config;
  int steps;
  const TrajectorySet* set;
};
inline void PrintTo(const SchedulerCase& c, std::ostream* os) { *os << c.set->dir << "/" << c.name; }

// Every case of the set's configs.json; a case's step count is its name's numeric suffix.
inline std::vector<SchedulerCase> scheduler_cases(const TrajectorySet& set = epsilon_runs()) {
  nlohmann::json all = read_json_file(fixture(set.dir + "/configs.json"));
  std::vector<SchedulerCase> out;
  for (const auto& [name, entry] : all.items()) {
    int steps = std::stoi(name.substr(name.rfind('_') + 1));
    out.push_back({name, entry.at("class").get<std::string>(), entry.at("config"), steps, &set});
  }
  return out;
}

// max |got - want| / max |want|: the fixtures' "relative error". A NaN or infinity in either
// (abs_error) makes it infinite.
inline double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;
  double scale = 0, err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, abs_error(got[i], want[i]));
  }
  if (std::isinf(err)) return INFINITY;
  return scale > 0 ? err / scale : err;
}

inline double relative_error(const HostTensor& got, const HostTensor& want) {
  if (got.shape != want.shape) return INFINITY;
  return relative_error(std::vector<double>(got.data.begin(), got.data.end()),
                        std::vector<double>(want.data.begin(), want.data.end()));
}

// Integer timesteps must match exactly. Karras-spaced Euler timesteps are fractions interpolated
// between training sigmas, which torch takes from MKL's float sqrt; it rounds a few of them (2 of
// 1000 here) the other way from a correctly rounded sqrt, which moves a neighbouring timestep by
// up to 2 float ulps.
inline void expect_timesteps_match(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == std::round(want[i]))
      EXPECT_EQ(got[i], want[i]) << "step " << i;
    else
      EXPECT_NEAR(got[i], want[i], 4 * std::ldexp(std::fabs(want[i]), -23)) << "step " << i;
  }
}

// Slice i of a stacked tensor (the per-step model outputs).
inline HostTensor slice(const HostTensor& stacked, int64_t i) {
  Shape shape(stacked.shape.begin() + 1, stacked.shape.end());
  size_t size = static_cast<size_t>(numel(shape));
  auto begin = stacked.data.begin() + static_cast<std::ptrdiff_t>(size * static_cast<size_t>(i));
  return HostTensor(shape, std::vector<float>(begin, begin + static_cast<std::ptrdiff_t>(size)));
}

// Each set drew every start sample, stack of model outputs and LCM step noise, case after case
// in configs.json's order (family by family, step counts ascending), from one torch.manual_seed
// stream (seed 0 for schedulers/, 20 for schedulers-v/).
inline std::vector<std::string> stream_order(const TrajectorySet& set) {
  std::vector<std::string> out;
  for (const char* family : {"pndm", "dpmpp_2m", "dpmpp_2m_karras", "euler", "euler_karras", "ddim", "lcm"})
    for (int steps : set.steps) out.push_back(std::string(family) + "_" + std::to_string(steps));
  return out;
}

// The stream where case_name's start sample and model outputs are drawn from.
inline TorchGenerator stream_before(const TrajectorySet& set, const std::string& case_name) {
  TorchGenerator stream(set.seed);
  for (const std::string& name : stream_order(set)) {
    if (name == case_name) return stream;
    const Shape& x0 = set.file().info(name + "_x0").shape;
    stream.randn(x0);
    stream.randn(set.file().info(name + "_" + set.model_output).shape);
    if (name.rfind("lcm_", 0) == 0)
      for (int i = std::stoi(name.substr(4)); i > 1; --i) stream.randn(x0);
  }
  throw Error("no fixture case " + case_name + " in " + set.dir);
}

// Runs the scheduler over the recorded start sample and model outputs, as the fixture was made:
// scale_model_input then step at every timestep, step noise from the fixture's stream. Returns
// the final sample.
inline HostTensor run_trajectory(Scheduler& scheduler, const TrajectorySet& set, const std::string& case_name,
                                 HostTensor* scaled_input0 = nullptr) {
  const std::string outputs_key = case_name + "_" + set.model_output;
  TorchGenerator stream = stream_before(set, case_name);
  stream.randn(set.file().info(case_name + "_x0").shape);
  stream.randn(set.file().info(outputs_key).shape);
  scheduler.set_generator(&stream);
  HostTensor sample = set.file().read(case_name + "_x0");
  HostTensor outputs = set.file().read(outputs_key);
  for (size_t i = 0; i < scheduler.timesteps().size(); ++i) {
    HostTensor scaled = scheduler.scale_model_input(sample, i);
    if (i == 0 && scaled_input0) *scaled_input0 = scaled;
    sample = scheduler.step(slice(outputs, static_cast<int64_t>(i)), i, sample);
  }
  scheduler.set_generator(nullptr);
  return sample;
}

}  // namespace websd::test
