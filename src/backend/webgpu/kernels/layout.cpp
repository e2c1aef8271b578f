#include "backend/webgpu/kernels/layout.h"

#include "core/error.h"

namespace websd::wgsl {
namespace {

std::string u32(uint32_t v) { return std::to_string(v) + "u"; }

const char* name(LayoutOp op) {
  switch (op) {
    case LayoutOp::Nchw2Nlc: return "nchw_to_nlc";
    case LayoutOp::Nlc2Nchw: return "nlc_to_nchw";
    case LayoutOp::Upsample: return "upsample_nearest";
    case LayoutOp::Concat: return "concat_channels";
    case LayoutOp::Embedding: return "embedding";
  }
  return "?";
}

// torch's 'nearest': floor(dst · in/out) with the ratio in f32, clamped to the input (as the CPU
// backend does). f32 multiplication is exact-rounded in WGSL, so the indices agree.
constexpr const char* kNearest = R"(
fn nearest(dst: u32, in_size: u32, out_size: u32) -> u32 {
  let ratio = f32(in_size) / f32(out_size);
  return min(u32(floor(f32(dst) * ratio)), in_size - 1u);
}
)";

}  // namespace

std::string layout_key(const LayoutSpec& s) {
  std::string k = std::string("layout:") + name(s.op);
  for (uint32_t v : {s.count, s.a, s.b, s.c, s.d, s.e, s.groups_x}) {
    k += ':';
    k += std::to_string(v);
  }
  for (const TensorView* v : {&s.in0, &s.in1, &s.y}) k += ":" + view_key(*v);
  return k;
}

std::string layout_source(const LayoutSpec& s) {
  std::string src;
  std::string body;
  uint32_t next = 0;
  switch (s.op) {
    case LayoutOp::Nchw2Nlc:
    case LayoutOp::Nlc2Nchw:
      if (uint64_t{s.a} * s.b * s.c != s.count) throw Error(std::string("webgpu backend: ") + name(s.op) + ": sizes do not match");
      src += bind_tensor("x", s.in0, false, next);
      src += "const C: u32 = " + u32(s.b) + ";\nconst S: u32 = " + u32(s.c) + ";\n";
      if (s.op == LayoutOp::Nchw2Nlc)
        body = "  let n = i / (S * C);\n  let r = i % (S * C);\n  store_y(i, load_x(n * C * S + (r % C) * S + r / C));\n";
      else
        body = "  let n = i / (C * S);\n  let r = i % (C * S);\n  store_y(i, load_x(n * S * C + (r % S) * C + r / S));\n";
      break;
    case LayoutOp::Upsample:
      if (uint64_t{s.a} * s.d * s.e != s.count || s.b == 0 || s.c == 0 || s.d == 0 || s.e == 0)
        throw Error("webgpu backend: upsample_nearest: sizes do not match");
      src += bind_tensor("x", s.in0, false, next);
      src += "const IN_H: u32 = " + u32(s.b) + ";\nconst IN_W: u32 = " + u32(s.c) + ";\n";
      src += "const OUT_H: u32 = " + u32(s.d) + ";\nconst OUT_W: u32 = " + u32(s.e) + ";\n";
      src += kNearest;
      body =
          "  let p = i / (OUT_H * OUT_W);\n  let r = i % (OUT_H * OUT_W);\n"
          "  store_y(i, load_x((p * IN_H + nearest(r / OUT_W, IN_H, OUT_H)) * IN_W + nearest(r % OUT_W, IN_W, OUT_W)));\n";
      break;
    case LayoutOp::Concat:
      if (uint64_t{s.a} * (uint64_t{s.b} + s.c) * s.d != s.count) throw Error("webgpu backend: concat_channels: sizes do not match");
      src += bind_tensor("a", s.in0, false, next);
      src += bind_tensor("b", s.in1, false, next);
      src += "const CA: u32 = " + u32(s.b) + ";\nconst CB: u32 = " + u32(s.c) + ";\nconst S: u32 = " + u32(s.d) + ";\n";
      body =
          "  let n = i / ((CA + CB) * S);\n  let r = i % ((CA + CB) * S);\n"
          "  if (r < CA * S) { store_y(i, load_a(n * CA * S + r)); } else { store_y(i, load_b(n * CB * S + r - CA * S)); }\n";
      break;
    case LayoutOp::Embedding:
      if (uint64_t{s.a} * s.b != s.count) throw Error("webgpu backend: embedding: sizes do not match");
      src += bind_tensor("table", s.in0, false, next);
      src += bind_tensor("ids", s.in1, false, next);
      src += "const C: u32 = " + u32(s.b) + ";\n";
      body = "  store_y(i, load_table(bitcast<u32>(load_ids(i / C)) * C + i % C));\n";
      break;
  }
  src += bind_tensor("y", s.y, true, next);
  src += "const COUNT: u32 = " + u32(s.count) + ";\n";
  src += "const ROW: u32 = " + u32(s.groups_x * kLayoutWorkgroup) + ";\n";
  src += "@compute @workgroup_size(" + std::to_string(kLayoutWorkgroup) + ")\n";
  src += "fn main(@builtin(global_invocation_id) gid: vec3<u32>) {\n";
  src += "  let i = gid.x + gid.y * ROW;\n";
  src += "  if (i >= COUNT) { return; }\n";
  src += body;
  src += "}\n";
  return src;
}

}  // namespace websd::wgsl
