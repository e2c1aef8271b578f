#pragma once
#include <vector>

#include "io/config.h"

namespace websd::sched {

// diffusers' timestep_spacing field: how inference steps are placed on the training timesteps
// (Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed").
enum class Spacing { kLinspace, kLeading, kTrailing };
Spacing read_timestep_spacing(ConfigReader& config, const char* default_value);

// The building blocks each class assembles its schedule from, all descending, as diffusers
// computes them with numpy:
// np.linspace(0, last, count)[::-1] (not rounded: Euler keeps the fractions).
std::vector<double> linspace_timesteps(double last, int count);
// (np.arange(count) * (span // count))[::-1] + offset.
std::vector<double> leading_timesteps(int span, int count, int offset);
// np.round(np.arange(start, 0, -step)) - 1.
std::vector<double> trailing_timesteps(double start, double step);
// Rounds each value half-to-even, as .round() on a numpy array does.
std::vector<double> rounded(std::vector<double> values);

}  // namespace websd::sched
