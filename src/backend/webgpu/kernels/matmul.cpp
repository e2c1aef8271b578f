#include "backend/webgpu/kernels/matmul.h"

namespace websd::wgsl {
namespace {
std::string u32(uint32_t v) { return std::to_string(v) + "u"; }
}  // namespace

std::string matmul_key(const MatmulSpec& s) {
  return "mm:" + std::to_string(s.m) + ":" + std::to_string(s.n) + ":" + std::to_string(s.k) + (s.bias ? ":b" + view_key(s.b) : "") + ":" +
         view_key(s.x) + ":" + view_key(s.w) + ":" + view_key(s.y);
}

std::string matmul_source(const MatmulSpec& s) {
  std::string src;
  uint32_t next = 0;
  src += bind_tensor("x", s.x, false, next);
  src += bind_tensor("w", s.w, false, next);
  if (s.bias) src += bind_tensor("bias", s.b, false, next);
  src += bind_tensor("y", s.y, true, next);
  src += "const M: u32 = " + u32(s.m) + ";\nconst N: u32 = " + u32(s.n) + ";\nconst K: u32 = " + u32(s.k) + ";\n";
  src += "const T: u32 = " + u32(kMatmulTile) + ";\n";
  // Both tiles are stored [row][k] so the inner loop walks k in each; out-of-range elements are
  // zero, which lets the loop run whole tiles past the edges of odd sizes.
  src += R"(var<workgroup> xs: array<array<f32, T>, T>;
var<workgroup> ws: array<array<f32, T>, T>;
@compute @workgroup_size(T, T)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let row = wg.y * T + l.y;
  let col = wg.x * T + l.x;
  let wrow = wg.x * T + l.y;
  var acc = 0.0;
  for (var k0 = 0u; k0 < K; k0 += T) {
    let kk = k0 + l.x;
    var xv = 0.0;
    if (row < M && kk < K) { xv = load_x(row * K + kk); }
    xs[l.y][l.x] = xv;
    var wv = 0.0;
    if (wrow < N && kk < K) { wv = load_w(wrow * K + kk); }
    ws[l.y][l.x] = wv;
    workgroupBarrier();
    for (var j = 0u; j < T; j++) { acc += xs[l.y][j] * ws[l.x][j]; }
    workgroupBarrier();
  }
  if (row < M && col < N) {
)";
  src += s.bias ? "    store_y(row * N + col, acc + load_bias(col));\n" : "    store_y(row * N + col, acc);\n";
  src += "  }\n}\n";
  return src;
}

}  // namespace websd::wgsl
