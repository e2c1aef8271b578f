#pragma once
#include <string>
#include <vector>

#include "sched/scheduler.h"
#include "sched/train_schedule.h"

namespace websd::sched {

// The DDPM-style schedulers (PNDM, DDIM, LCM): they step between integer training timesteps,
// reading alphas_cumprod directly.
class AlphaProductScheduler : public Scheduler {
 public:
  HostTensor add_noise(const HostTensor& original, const HostTensor& noise, size_t step_index) const override;

 protected:
  // set_alpha_to_one: the value "before" timestep 0 (used by the last step) is 1 instead of
  // alphas_cumprod[0].
  AlphaProductScheduler(std::string name, TrainSchedule train, bool set_alpha_to_one);

  // alphas_cumprod at a training timestep, or the final value for the step past timestep 0.
  float alpha_prod(int64_t timestep) const;
  // Installs a schedule after checking that every timestep is a training timestep.
  void set_schedule(std::vector<double> timesteps);
  int64_t timestep_at(size_t step_index) const { return static_cast<int64_t>(timesteps_[step_index]); }

  TrainSchedule train_;
  float final_alpha_cumprod_;
};

}  // namespace websd::sched
