#include "backend/webgpu/kernels/elementwise.h"

#include "core/error.h"

namespace websd::wgsl {
namespace {

// WGSL has no erf. Small |v|: its Maclaurin series (the rational fit below loses relative accuracy
// near 0); elsewhere Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7), which keeps the exact
// GELU within ~1e-6 of std::erf's for the activations Stable Diffusion sees.
constexpr const char* kErf = R"(
fn erf_f32(v: f32) -> f32 {
  let z = abs(v);
  if (z < 0.5) {
    let z2 = v * v;
    return v * 1.1283791671 * (1.0 + z2 * (-0.3333333333 + z2 * (0.1 + z2 * (-0.0238095238 +
           z2 * (0.0046296296 + z2 * (-0.0007575758 + z2 * 0.0001068376))))));
  }
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - p * exp(-z * z));
}
)";

}  // namespace

std::string gelu_source() {
  return std::string(kErf) + "fn gelu_f32(v: f32) -> f32 { return 0.5 * v * (1.0 + erf_f32(v * 0.70710678118654752)); }\n";
}

namespace {

const char* name(ElementwiseOp op) {
  switch (op) {
    case ElementwiseOp::Add: return "add";
    case ElementwiseOp::Scale: return "scale";
    case ElementwiseOp::SiLU: return "silu";
    case ElementwiseOp::GELU: return "gelu";
    case ElementwiseOp::QuickGELU: return "quick_gelu";
    case ElementwiseOp::AddChannel: return "add_channel";
    case ElementwiseOp::GEGLU: return "geglu";
  }
  return "?";
}

std::string expression(ElementwiseOp op) {
  switch (op) {
    case ElementwiseOp::Add: return "v + load_b(i % d.B_COUNT)";
    case ElementwiseOp::Scale: return "v * bitcast<f32>(d.S)";
    case ElementwiseOp::SiLU: return "v / (1.0 + exp(-v))";
    case ElementwiseOp::GELU: return "gelu_f32(v)";
    case ElementwiseOp::QuickGELU: return "v / (1.0 + exp(-1.702 * v))";
    case ElementwiseOp::AddChannel: return "v + load_b(i / d.INNER)";
    case ElementwiseOp::GEGLU: return "load_x(i / d.INNER * 2u * d.INNER + i % d.INNER) * gelu_f32(load_x(i / d.INNER * 2u * d.INNER + d.INNER + i % d.INNER))";
  }
  return "";
}

}  // namespace

std::string elementwise_key(const ElementwiseSpec& s) {
  return std::string("ew:") + name(s.op) + ":" + view_key(s.x) + ":" + view_key(s.b) + ":" + view_key(s.y);
}

Dims elementwise_dims(const ElementwiseSpec& s, float scale) {
  if (s.op == ElementwiseOp::Add && (s.b_count == 0 || s.count % s.b_count != 0))
    throw Error("webgpu backend: add: " + std::to_string(s.b_count) + " values do not tile " + std::to_string(s.count));
  if (s.op == ElementwiseOp::AddChannel && (s.inner == 0 || uint64_t{s.b_count} * s.inner != s.count))
    throw Error("webgpu backend: add_channel: " + std::to_string(s.b_count) + " x " + std::to_string(s.inner) +
                " values is not " + std::to_string(s.count));
  if (s.op == ElementwiseOp::GEGLU && (s.inner == 0 || s.count % s.inner != 0))
    throw Error("webgpu backend: geglu: rows of " + std::to_string(s.inner) + " do not tile " + std::to_string(s.count));
  // Above 65535 workgroups the grid wraps into y rows of ROW invocations.
  return {{"COUNT", s.count},
          {"ROW", s.groups_x * kElementwiseWorkgroup},
          {"B_COUNT", s.b_count},
          {"INNER", s.inner},
          {"S", f32_bits(scale)}};
}

std::string elementwise_source(const ElementwiseSpec& s) {
  const bool has_b = s.op == ElementwiseOp::Add || s.op == ElementwiseOp::AddChannel;
  std::string src;
  uint32_t next = 0;
  src += bind_tensor("x", s.x, false, next);
  if (has_b) src += bind_tensor("b", s.b, false, next);
  src += bind_tensor("y", s.y, true, next);
  src += elementwise_dims(s, 0.0f).declare(next);
  if (s.op == ElementwiseOp::GELU || s.op == ElementwiseOp::GEGLU) src += gelu_source();
  src += "@compute @workgroup_size(" + std::to_string(kElementwiseWorkgroup) + ")\n";
  src += "fn main(@builtin(global_invocation_id) gid: vec3<u32>) {\n";
  src += "  let i = gid.x + gid.y * d.ROW;\n";
  src += "  if (i >= d.COUNT) { return; }\n";
  if (s.op != ElementwiseOp::GEGLU) src += "  let v = load_x(i);\n";
  src += "  store_y(i, " + expression(s.op) + ");\n";
  src += "}\n";
  return src;
}

}  // namespace websd::wgsl
