#include "sched/timestep_spacing.h"

#include <algorithm>

#include "sched/numpy_compat.h"

namespace websd::sched {

Spacing read_timestep_spacing(ConfigReader& config, const char* default_value) {
  std::string spacing = config.get_string("timestep_spacing", default_value);
  if (spacing == "linspace") return Spacing::kLinspace;
  if (spacing == "leading") return Spacing::kLeading;
  if (spacing != "trailing") config.fail("timestep_spacing", "supported: \"linspace\", \"leading\", \"trailing\"");
  return Spacing::kTrailing;
}

std::vector<double> linspace_timesteps(double last, int count) {
  std::vector<double> out = np::linspace(0.0, last, count);
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<double> leading_timesteps(int span, int count, int offset) {
  int ratio = span / count;
  std::vector<double> out(count);
  for (int i = 0; i < count; ++i) out[i] = static_cast<double>((count - 1 - i) * ratio + offset);
  return out;
}

std::vector<double> trailing_timesteps(double start, double step) {
  std::vector<double> out = np::arange(start, 0.0, -step);
  for (double& t : out) t = np::round(t) - 1;
  return out;
}

std::vector<double> rounded(std::vector<double> values) {
  for (double& v : values) v = np::round(v);
  return values;
}

}  // namespace websd::sched
