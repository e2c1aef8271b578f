#pragma once
#include <string>
#include <vector>

#include "io/config.h"

namespace websd::sched {

// The beta fields' defaults differ between classes (LCM defaults to Stable Diffusion's values).
struct BetaDefaults {
  double beta_start;
  double beta_end;
  const char* beta_schedule;
};

// How a class treats rescale_betas_zero_snr: PNDM has no such field; sigma-based schedulers also
// floor the last alphas_cumprod at 2^-24 so that their largest sigma stays finite.
enum class ZeroSnrField { kAbsent, kRescale, kRescaleWithFloor };

// The training noise schedule that every scheduler derives its timesteps and sigmas from, in
// float32 computed the way torch computes it, so that derived values match diffusers exactly.
struct TrainSchedule {
  int num_train_timesteps = 0;
  std::string beta_schedule;
  std::vector<float> alphas_cumprod;
};

// Reads num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas and (per
// zero_snr) rescale_betas_zero_snr.
TrainSchedule read_train_schedule(ConfigReader& config, const BetaDefaults& defaults, ZeroSnrField zero_snr);

}  // namespace websd::sched
