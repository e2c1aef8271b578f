#include "rng/torch_generator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/safetensors.h"
#include "support/fixtures.h"

namespace websd {
namespace {

struct CpuKey {
  uint64_t seed;
  Shape shape;
};

// Fixture keys are cpu_seed{S}_{AxBxC}.
CpuKey parse_cpu_key(const std::string& key) {
  size_t seed_at = std::string("cpu_seed").size();
  size_t underscore = key.find('_', seed_at);
  CpuKey out{std::stoull(key.substr(seed_at, underscore - seed_at)), {}};
  std::string dims = key.substr(underscore + 1);
  size_t pos = 0;
  while (pos <= dims.size()) {
    size_t x = dims.find('x', pos);
    if (x == std::string::npos) x = dims.size();
    out.shape.push_back(std::stoll(dims.substr(pos, x - pos)));
    pos = x + 1;
  }
  return out;
}

TEST(TorchGenerator, MatchesEveryCpuFixture) {
  SafetensorsFile file(test::fixture("randn/randn.safetensors"));
  int checked = 0;
  for (const auto& [name, info] : file.tensors()) {
    if (name.rfind("cpu_", 0) != 0) continue;
    CpuKey key = parse_cpu_key(name);
    HostTensor want = file.read(name);
    HostTensor got = TorchGenerator(key.seed).randn(key.shape);
    SCOPED_TRACE(name);
    EXPECT_TENSOR_NEAR(got, want, 1e-6);
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

}  // namespace
}  // namespace websd
