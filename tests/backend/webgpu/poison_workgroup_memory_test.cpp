// The workgroup-memory poisoning of the device tests (poison_workgroup_memory.h): where the fill goes,
// which lane index it uses, and the shaders it refuses. Whether the poisoned kernels still match the
// CPU backend is the device tests' business (wasm_selftest.cpp).
#include "backend/webgpu/poison_workgroup_memory.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace websd::device_test {
namespace {

TEST(PoisonWorkgroupMemory, FillsEveryArrayWithTheKernelsOwnLaneIndexBeforeItsBody) {
  const std::string src = "enable f16;\nconst WG: u32 = 64u;\nvar<workgroup> a: array<f32, WG * 2u>;\n"
                          "var<workgroup> b : array< f16, 32u >;\n@compute @workgroup_size(WG)\n"
                          "fn main(@builtin(workgroup_id) wg: vec3<u32>,\n        @builtin(local_invocation_index) t: u32) {\n"
                          "  a[t] = 1.0;\n}\n";
  const std::string got = poison_workgroup_memory(src);
  const std::string head = "@compute @workgroup_size(WG)\n"
                           "fn main(@builtin(workgroup_id) wg: vec3<u32>,\n        @builtin(local_invocation_index) t: u32) {\n"
                           "  var poison_bits = 0x7fc00000u;\n"
                           "  for (var poison_i = t; poison_i < ( WG * 2u); poison_i += (WG)) { a[poison_i] = bitcast<f32>(poison_bits); }\n"
                           "  for (var poison_i = t; poison_i < ( 32u ); poison_i += (WG)) { b[poison_i] = f16(bitcast<f32>(poison_bits)); }\n"
                           "  workgroupBarrier();\n  a[t] = 1.0;\n}\n";
  EXPECT_EQ(got, src.substr(0, src.find("@compute")) + head);
}

TEST(PoisonWorkgroupMemory, AddsALaneIndexWhereTheEntryPointHasNone) {
  const std::string with_params = poison_workgroup_memory(
      "var<workgroup> part: array<u32, 256>;\n@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wg: vec3<u32>) {\n}\n");
  EXPECT_NE(with_params.find("fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) poison_lane: u32) {"),
            std::string::npos)
      << with_params;
  EXPECT_NE(with_params.find("part[poison_i] = poison_bits;"), std::string::npos) << with_params;
  const std::string without = poison_workgroup_memory("var<workgroup> n: array<i32, 4>;\n@compute @workgroup_size(4) fn main() {\n}\n");
  EXPECT_NE(without.find("fn main(@builtin(local_invocation_index) poison_lane: u32) {"), std::string::npos) << without;
  EXPECT_NE(without.find("n[poison_i] = bitcast<i32>(poison_bits);"), std::string::npos) << without;
}

TEST(PoisonWorkgroupMemory, LeavesAShaderWithoutWorkgroupMemoryAlone) {
  const std::string src = "@compute @workgroup_size(256) fn main() {\n}\n";
  EXPECT_EQ(poison_workgroup_memory(src), src);
}

TEST(PoisonWorkgroupMemory, RefusesWhatItCannotCover) {
  const auto message = [](const std::string& src) {
    try {
      poison_workgroup_memory(src);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("var<workgroup> s: f32;\n@compute @workgroup_size(8) fn main() {\n}\n").find("not arrays of scalars"),
            std::string::npos);
  EXPECT_NE(message("var<workgroup> s: array<vec4<f32>, 8>;\n@compute @workgroup_size(8) fn main() {\n}\n")
                .find("not arrays of scalars"),
            std::string::npos);
  EXPECT_NE(message("var<workgroup> s: array<f32, 8>;\n@compute @workgroup_size(8, 8) fn main() {\n}\n").find("not one-dimensional"),
            std::string::npos);
  EXPECT_NE(message("var<workgroup> s: array<f32, 8>;\n@compute @workgroup_size(8) fn other() {\n}\n").find("entry point"),
            std::string::npos);
  EXPECT_NE(message("var<workgroup> s: array<bool, 8>;\n@compute @workgroup_size(8) fn main() {\n}\n").find("bool"),
            std::string::npos);
}

}  // namespace
}  // namespace websd::device_test
