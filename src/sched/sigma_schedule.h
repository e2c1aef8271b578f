#pragma once
#include <vector>

#include "io/config.h"

namespace websd::sched {

// The k-diffusion view of a schedule: sigma = sqrt((1 - alphas_cumprod) / alphas_cumprod), indexed
// by training timestep (ascending), in float32 like torch.
std::vector<float> training_sigmas(const std::vector<float>& alphas_cumprod);

// np.log of a float32 array (float32 results, as numpy keeps the dtype): the log sigmas that
// fractional timesteps are interpolated in.
std::vector<float> log_f32(const std::vector<float>& values);

// The training sigma at each (possibly fractional) timestep, linearly interpolated (np.interp).
std::vector<double> interpolate_sigmas(const std::vector<double>& timesteps, const std::vector<float>& sigmas);

// Karras et al. (2022) rho = 7 spacing from sigma_max down to sigma_min.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int steps);
// Geometric spacing from sigma_max down to sigma_min (k-diffusion's get_sigmas_exponential).
std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, int steps);

// The fractional training timestep whose sigma is `sigma`, interpolating linearly in log sigma
// between neighbouring training timesteps (diffusers' _sigma_to_t).
double sigma_to_timestep(double sigma, const std::vector<float>& log_sigmas);

// How a sigma-based scheduler re-spaces its sigmas (use_karras_sigmas, use_exponential_sigmas;
// use_beta_sigmas needs scipy's beta quantiles and is rejected). At most one may be set.
enum class SigmaSpacing { kTimesteps, kKarras, kExponential };
SigmaSpacing read_sigma_spacing(ConfigReader& config);

// final_sigmas_type: the sigma after the last step, 0 (a fully denoised result) or the smallest
// training sigma.
float read_final_sigma(ConfigReader& config, const std::vector<float>& training_sigmas);

// DPM-Solver's (alpha_t, sigma_t) of a variance-preserving sample at noise level sigma.
struct AlphaSigma {
  float alpha;
  float sigma;
};
AlphaSigma alpha_sigma_from_sigma(float sigma);

}  // namespace websd::sched
