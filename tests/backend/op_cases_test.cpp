// The op-case table (op_cases.h) that the WebGPU device tests play against the CPU backend: every
// op that src/backend/backend.h declares has cases, for correctness and for timing; names are
// unique (they seed the inputs); and each case runs on the CPU backend to finite values of the
// shape the op's rules give, so a broken case fails here rather than on a device.
#include "backend/op_cases.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "backend/cpu/cpu_backend.h"
#include "backend/op_shapes.h"
#include "core/half.h"

namespace websd {
namespace {

// The ops: Backend's methods that return a Tensor, less the uploads (they make inputs).
std::set<std::string> declared_ops() {
  std::ifstream in(std::string(WEBSD_SOURCE_DIR) + "/backend/backend.h");
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  std::set<std::string> ops;
  const std::regex method(R"(virtual Tensor (\w+)\()");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), method); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    if (name.rfind("upload", 0) != 0) ops.insert(name);
  }
  return ops;
}

std::set<std::string> ops_of(const std::vector<op_cases::OpCase>& cases) {
  std::set<std::string> ops;
  for (const auto& c : cases) ops.insert(c.op);
  return ops;
}

TEST(OpCases, EveryDeclaredOpHasCorrectnessAndTimingCases) {
  const std::set<std::string> declared = declared_ops();
  ASSERT_GE(declared.size(), 15u) << "backend.h's ops were not found";
  EXPECT_EQ(ops_of(op_cases::cases()), declared);
  for (const std::string& op : ops_of(op_cases::perf_cases())) EXPECT_TRUE(declared.count(op)) << op;
  for (const char* heavy : {"linear", "conv2d", "attention"}) {
    EXPECT_TRUE(ops_of(op_cases::perf_cases()).count(heavy)) << heavy << " has no timing case";
  }
}

TEST(OpCases, NamesAreUniqueAndInputsFollowFromThem) {
  std::set<std::string> names;
  for (const auto* table : {&op_cases::cases(), &op_cases::perf_cases()}) {
    for (const auto& c : *table) EXPECT_TRUE(names.insert(c.name).second) << "twice: " << c.name;
  }
  const op_cases::OpCase& c = op_cases::cases().front();
  EXPECT_EQ(op_cases::make_inputs(c)[0].data, op_cases::make_inputs(c)[0].data);
  EXPECT_NE(op_cases::make_inputs(op_cases::cases()[0])[0].data[0], op_cases::make_inputs(op_cases::cases()[1])[0].data[0]);
}

TEST(OpCases, WeightsAreExactInFloat16) {
  for (const auto& c : op_cases::cases()) {
    const auto inputs = op_cases::make_inputs(c);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!c.inputs[i].weight) continue;
      for (float v : inputs[i].data) ASSERT_EQ(v, f16_to_f32(f32_to_f16(v))) << c.name;
    }
  }
}

TEST(OpCases, EachCaseRunsOnTheCpuBackendToFiniteValues) {
  CpuBackend cpu;
  for (const auto& c : op_cases::cases()) {
    const auto inputs = op_cases::make_inputs(c);
    const HostTensor y = cpu.to_host(op_cases::run(cpu, c, inputs));
    for (float v : y.data) ASSERT_TRUE(std::isfinite(v)) << c.name;
    EXPECT_GT(y.numel(), 0) << c.name;
  }
}

// The heavy ops' arithmetic from their geometry (which also checks the shapes), as the timing
// table's GFLOP/s divide by it.
TEST(OpCases, TimingCasesCountTheirArithmetic) {
  for (const auto& c : op_cases::perf_cases()) {
    std::vector<Tensor> t;
    for (const auto& in : c.inputs) t.push_back(Tensor{in.shape, nullptr});
    const Tensor* bias = t.size() > 2 ? &t[2] : nullptr;
    double want = 0;
    if (c.op == "linear") {
      const Fusion geglu{.geglu = t[0].shape.back() == 2 * t[1].shape[1]};  // the feed-forward out reads geglu
      want = 2.0 * static_cast<double>(numel(linear_shape("test", t[0], t[1], bias, geglu)) * t[1].shape[1]);
    } else if (c.op == "conv2d") {
      const ConvGeometry g = conv2d_geometry("test", t[0], t[1], bias, Conv2dParams::same(1));
      want = 2.0 * static_cast<double>(numel(g.output_shape()) * g.in_channels * g.kernel_h * g.kernel_w);
    } else if (c.op == "attention") {
      const AttentionGeometry g = attention_geometry("test", t[0], t[1], t[2], 1, false);
      want = 2.0 * static_cast<double>(g.batch * g.lq * g.lk * (g.channels + g.value_channels));
    } else {
      continue;
    }
    EXPECT_DOUBLE_EQ(c.flops, want) << c.name;
  }
}

}  // namespace
}  // namespace websd
