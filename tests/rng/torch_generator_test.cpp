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

// torch fills big tensors block by block from the engine, so a second call picks up exactly where
// the first stopped: 256 values then 16128 more are the 16384 of one call.
TEST(TorchGenerator, SuccessiveCallsContinueTheStream) {
  SafetensorsFile file(test::fixture("randn/randn.safetensors"));
  HostTensor want = file.read("cpu_seed0_1x4x64x64");
  TorchGenerator generator(0);
  HostTensor first = generator.randn({1, 4, 8, 8});
  HostTensor rest = generator.randn({16128});
  std::vector<float> joined = first.data;
  joined.insert(joined.end(), rest.data.begin(), rest.data.end());
  EXPECT_EQ(joined, want.data);
}

// Small tensors draw Box-Muller pairs and keep the unused half in the generator, so two calls of
// three values are the six of one call.
TEST(TorchGenerator, SmallCallsShareTheCachedNormal) {
  SafetensorsFile file(test::fixture("randn/randn.safetensors"));
  TorchGenerator generator(42);
  std::vector<float> joined = generator.randn({3}).data;
  std::vector<float> second = generator.randn({1, 3}).data;
  joined.insert(joined.end(), second.begin(), second.end());
  EXPECT_EQ(joined, file.read("cpu_seed42_2x3").data);
}

// The block path of big tensors neither uses nor clears that cached value.
TEST(TorchGenerator, CachedNormalSurvivesABigDraw) {
  std::vector<float> six = TorchGenerator(7).randn({6}).data;
  TorchGenerator generator(7);
  HostTensor five = generator.randn({5});
  EXPECT_EQ(five.data, std::vector<float>(six.begin(), six.begin() + 5));
  generator.randn({32});
  EXPECT_EQ(generator.randn({1}).data[0], six[5]);
}

TEST(TorchGenerator, ShapesTheOutput) {
  HostTensor out = TorchGenerator(0).randn({2, 3, 4});
  EXPECT_EQ(out.shape, (Shape{2, 3, 4}));
  EXPECT_EQ(out.data.size(), 24u);
  EXPECT_TRUE(TorchGenerator(0).randn({0}).data.empty());
}

}  // namespace
}  // namespace websd
