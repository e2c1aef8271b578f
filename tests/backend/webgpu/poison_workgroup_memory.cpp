#include "backend/webgpu/poison_workgroup_memory.h"

#include <regex>

#include "core/error.h"

namespace websd::device_test {
namespace {

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// The poison as a value of `type`, from the function-scope `poison_bits` (a runtime value: a NaN
// constant would be a shader-creation error).
std::string poison_of(const std::string& type) {
  if (type == "f32") return "bitcast<f32>(poison_bits)";
  if (type == "f16") return "f16(bitcast<f32>(poison_bits))";
  if (type == "u32") return "poison_bits";
  if (type == "i32") return "bitcast<i32>(poison_bits)";
  throw Error("poison_workgroup_memory: workgroup arrays of " + type + " are not handled");
}

}  // namespace

std::string poison_workgroup_memory(const std::string& wgsl) {
  static const std::regex array_decl(R"(var<workgroup>\s+(\w+)\s*:\s*array<\s*(\w+)\s*,([^;]+)>\s*;)");
  static const std::regex entry(R"(@compute\s+@workgroup_size\(([^)]*)\)\s*fn\s+main\s*\(([\s\S]*?)\)\s*\{)");
  static const std::regex lane_param(R"(@builtin\(local_invocation_index\)\s+(\w+)\s*:\s*u32)");

  const size_t declared = count(wgsl, "var<workgroup>");
  if (declared == 0) return wgsl;
  std::smatch m;
  if (!std::regex_search(wgsl, m, entry) || count(wgsl, "@compute") != 1) {
    throw Error("poison_workgroup_memory: no single '@compute @workgroup_size(...) fn main(...) {' entry point");
  }
  const std::string size = m[1].str(), params = m[2].str();
  if (size.find(',') != std::string::npos) {
    throw Error("poison_workgroup_memory: workgroup_size(" + size + ") is not one-dimensional");
  }
  std::string lane = "poison_lane", new_params = params;
  std::smatch p;
  if (std::regex_search(params, p, lane_param)) {
    lane = p[1].str();
  } else {
    new_params += (params.find_first_not_of(" \t\n") == std::string::npos ? "" : ", ") +
                  std::string("@builtin(local_invocation_index) poison_lane: u32");
  }
  std::string fill;
  size_t arrays = 0;
  for (std::sregex_iterator it(wgsl.begin(), wgsl.end(), array_decl), end; it != end; ++it, ++arrays) {
    const std::smatch& a = *it;
    fill += "  for (var poison_i = " + lane + "; poison_i < (" + a[3].str() + "); poison_i += (" + size + ")) { " +
            a[1].str() + "[poison_i] = " + poison_of(a[2].str()) + "; }\n";
  }
  if (arrays != declared) {
    throw Error("poison_workgroup_memory: " + std::to_string(declared - arrays) +
                " workgroup variable(s) are not arrays of scalars; the rewrite would leave them zeroed");
  }
  const std::string head = "@compute @workgroup_size(" + size + ")\nfn main(" + new_params + ") {\n" +
                           "  var poison_bits = 0x7fc00000u;\n" + fill + "  workgroupBarrier();";
  return m.prefix().str() + head + m.suffix().str();
}

}  // namespace websd::device_test
