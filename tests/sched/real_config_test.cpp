#include <gtest/gtest.h>

#include "sched/scheduler.h"
#include "support/fixtures.h"

namespace websd {
namespace {

// The released PNDM config also carries DDIM's clip_sample, which diffusers ignores.
TEST(RealConfig, Sd15SchedulerGivesDiffusersTimesteps) {
  auto s = load_scheduler(test::asset("configs/sd15/scheduler/scheduler_config.json"));
  s->set_timesteps(5);
  EXPECT_EQ(s->timesteps(), (std::vector<double>{801, 601, 601, 401, 201, 1}));
}

}  // namespace
}  // namespace websd
