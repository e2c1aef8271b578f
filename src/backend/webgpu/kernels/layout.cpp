#include "backend/webgpu/kernels/layout.h"

#include "core/error.h"

namespace websd::wgsl {
namespace {

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

Dims layout_dims(const LayoutSpec& s) {
  const auto check = [&](bool ok) {
    if (!ok) throw Error(std::string("webgpu backend: ") + name(s.op) + ": sizes do not match");
  };
  Dims dims{{"COUNT", s.count}, {"ROW", s.groups_x * kLayoutWorkgroup}};
  switch (s.op) {
    case LayoutOp::Nchw2Nlc:
    case LayoutOp::Nlc2Nchw:
      check(uint64_t{s.a} * s.b * s.c == s.count);
      return dims.add("C", s.b).add("S", s.c);
    case LayoutOp::Upsample:
      check(uint64_t{s.a} * s.d * s.e == s.count && s.b && s.c && s.d && s.e);
      return dims.add("IN_H", s.b).add("IN_W", s.c).add("OUT_H", s.d).add("OUT_W", s.e);
    case LayoutOp::Concat:
      check(uint64_t{s.a} * (uint64_t{s.b} + s.c) * s.d == s.count);
      return dims.add("CA", s.b).add("CB", s.c).add("S", s.d);
    case LayoutOp::Embedding:
      check(uint64_t{s.a} * s.b == s.count);
      return dims.add("C", s.b);
  }
  return dims;
}

std::string layout_key(const LayoutSpec& s) {
  std::string k = std::string("layout:") + name(s.op);
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
      src += bind_tensor("x", s.in0, false, next);
      if (s.op == LayoutOp::Nchw2Nlc)
        body = "  let n = i / (d.S * d.C);\n  let r = i % (d.S * d.C);\n  store_y(i, load_x(n * d.C * d.S + (r % d.C) * d.S + r / d.C));\n";
      else
        body = "  let n = i / (d.C * d.S);\n  let r = i % (d.C * d.S);\n  store_y(i, load_x(n * d.S * d.C + (r % d.S) * d.C + r / d.S));\n";
      break;
    case LayoutOp::Upsample:
      src += bind_tensor("x", s.in0, false, next);
      src += kNearest;
      body =
          "  let p = i / (d.OUT_H * d.OUT_W);\n  let r = i % (d.OUT_H * d.OUT_W);\n"
          "  store_y(i, load_x((p * d.IN_H + nearest(r / d.OUT_W, d.IN_H, d.OUT_H)) * d.IN_W + nearest(r % d.OUT_W, d.IN_W, d.OUT_W)));\n";
      break;
    case LayoutOp::Concat:
      src += bind_tensor("a", s.in0, false, next);
      src += bind_tensor("b", s.in1, false, next);
      body =
          "  let n = i / ((d.CA + d.CB) * d.S);\n  let r = i % ((d.CA + d.CB) * d.S);\n"
          "  if (r < d.CA * d.S) { store_y(i, load_a(n * d.CA * d.S + r)); } else { store_y(i, load_b(n * d.CB * d.S + r - d.CA * d.S)); }\n";
      break;
    case LayoutOp::Embedding:
      src += bind_tensor("table", s.in0, false, next);
      src += bind_tensor("ids", s.in1, false, next);
      body = "  store_y(i, load_table(bitcast<u32>(load_ids(i / d.C)) * d.C + i % d.C));\n";
      break;
  }
  src += bind_tensor("y", s.y, true, next);
  src += layout_dims(s).declare(next);
  src += "@compute @workgroup_size(" + std::to_string(kLayoutWorkgroup) + ")\n";
  src += "fn main(@builtin(global_invocation_id) gid: vec3<u32>) {\n";
  src += "  let i = gid.x + gid.y * d.ROW;\n";
  src += "  if (i >= d.COUNT) { return; }\n";
  src += body;
  src += "}\n";
  return src;
}

}  // namespace websd::wgsl
