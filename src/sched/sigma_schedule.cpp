#include "sched/sigma_schedule.h"

#include <algorithm>
#include <cmath>

#include "sched/numpy_compat.h"

namespace websd::sched {

std::vector<float> training_sigmas(const std::vector<float>& alphas_cumprod) {
  std::vector<float> out(alphas_cumprod.size());
  for (size_t i = 0; i < out.size(); ++i) {
    float a = alphas_cumprod[i];
    out[i] = std::sqrt((1.0f - a) / a);
  }
  return out;
}

std::vector<float> log_f32(const std::vector<float>& values) {
  std::vector<float> out(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = np::log_f32(values[i]);
  return out;
}

std::vector<double> interpolate_sigmas(const std::vector<double>& timesteps, const std::vector<float>& sigmas) {
  std::vector<double> out(timesteps.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = np::interp(timesteps[i], sigmas);
  return out;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int steps) {
  const double rho = 7.0;
  std::vector<double> ramp = np::linspace(0.0, 1.0, steps);
  double min_inv_rho = std::pow(sigma_min, 1 / rho);
  double max_inv_rho = std::pow(sigma_max, 1 / rho);
  std::vector<double> out(ramp.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::pow(max_inv_rho + ramp[i] * (min_inv_rho - max_inv_rho), rho);
  return out;
}

std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, int steps) {
  std::vector<double> out = np::linspace(std::log(sigma_max), std::log(sigma_min), steps);
  for (double& v : out) v = std::exp(v);
  return out;
}

double sigma_to_timestep(double sigma, const std::vector<float>& log_sigmas) {
  double log_sigma = std::log(std::max(sigma, 1e-10));
  // The last training timestep whose log sigma is at most log_sigma (the first one if none is),
  // kept below the end so that it has an upper neighbour.
  size_t n = log_sigmas.size();
  size_t low = 0;
  for (size_t i = 0; i < n; ++i)
    if (log_sigma - log_sigmas[i] >= 0) low = i;
  low = std::min(low, n - 2);
  double lo = log_sigmas[low];
  double hi = log_sigmas[low + 1];
  double w = std::clamp((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

SigmaSpacing read_sigma_spacing(ConfigReader& config) {
  bool karras = config.get_bool("use_karras_sigmas", false);
  bool exponential = config.get_bool("use_exponential_sigmas", false);
  config.expect("use_beta_sigmas", {false});
  if (karras && exponential)
    config.fail("use_exponential_sigmas", "only one of use_karras_sigmas and use_exponential_sigmas may be set");
  if (karras) return SigmaSpacing::kKarras;
  if (exponential) return SigmaSpacing::kExponential;
  return SigmaSpacing::kTimesteps;
}

float read_final_sigma(ConfigReader& config, const std::vector<float>& training_sigmas) {
  std::string type = config.get_string("final_sigmas_type", "zero");
  if (type == "zero") return 0.0f;
  if (type != "sigma_min") config.fail("final_sigmas_type", "supported: \"zero\", \"sigma_min\"");
  return training_sigmas.front();
}

AlphaSigma alpha_sigma_from_sigma(float sigma) {
  float alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  return {alpha, sigma * alpha};
}

}  // namespace websd::sched
