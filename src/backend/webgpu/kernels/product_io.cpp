#include "backend/webgpu/kernels/product_io.h"

#include "backend/webgpu/kernels/elementwise.h"

namespace websd::wgsl {
namespace {

// v with the bias of `index` added, conv2d's per-channel add, and the residual at y's `at`.
std::string stored(const ProductOutput& o, const std::string& index) {
  std::string v = "v";
  if (o.bias) v += " + load_b(" + index + ")";
  if (o.channel_add) v += " + load_cb(pixel / (d.OH * d.OW) * d.COUT + channel)";
  if (o.residual) v += " + load_r(at)";
  return v;
}

}  // namespace

void add_product_dims(const ProductOutput& o, Dims& dims) {
  if (o.image_pixels) dims.add("IMG", o.image_pixels);
}

std::string bind_product_output(const ProductOutput& o, uint32_t& next_binding) {
  std::string src;
  if (o.bias) src += bind_tensor("b", o.b, false, next_binding);
  if (o.channel_add) src += bind_tensor("cb", o.cb, false, next_binding);
  if (o.residual) src += bind_tensor("r", o.r, false, next_binding);
  return src + bind_tensor("y", o.y, true, next_binding);
}

std::string linear_write_y(const ProductOutput& o) {
  const std::string at = o.image_pixels ? "(row / d.IMG * d.N + col) * d.IMG + row % d.IMG" : "row * d.N + col";
  std::string src = "fn write_y(row: u32, col: u32, v: f32) {\n  let at = ";
  src += at;
  src += ";\n  store_y(at, ";
  src += stored(o, "col");
  return src + ");\n}\n";
}

std::string conv2d_write_y(const ProductOutput& o) {
  return "fn write_y(channel: u32, pixel: u32, v: f32) {\n"
         "  let at = (pixel / (d.OH * d.OW) * d.COUT + channel) * d.OH * d.OW + pixel % (d.OH * d.OW);\n  store_y(at, " +
         stored(o, "channel") + ");\n}\n";
}

std::string product_output_key(const ProductOutput& o) {
  // append, not "literal" + std::string: GCC 12 warns (-Wrestrict, wrongly) on the latter here.
  std::string k;
  if (o.bias) k.append("b").append(view_key(o.b));
  if (o.channel_add) k.append(":cb").append(view_key(o.cb));
  if (o.residual) k.append(":r").append(view_key(o.r));
  if (o.image_pixels) k.append(":img");
  return k.append(":y").append(view_key(o.y));
}

std::string linear_load_input(bool geglu) {
  if (!geglu) return "fn load_input(row: u32, k: u32) -> f32 { return load_x(row * d.K + k); }\n";
  return gelu_source() +
         "fn load_input(row: u32, k: u32) -> f32 {\n  let at = row * 2u * d.K + k;\n  return load_x(at) * gelu_f32(load_x(at + d.K));\n}\n";
}

}  // namespace websd::wgsl
