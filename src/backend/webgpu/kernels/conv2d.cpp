#include "backend/webgpu/kernels/conv2d.h"

#include "backend/webgpu/kernels/unroll.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

constexpr uint32_t kInvocations = 256, kTileOutputs = 4096;

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

uint64_t pixels(const Conv2dSpec& s) { return uint64_t{s.batch} * s.out_h * s.out_w; }

// Reduction depth per step: as deep as two tiles fit in 16 KiB of workgroup memory.
uint32_t tile_k(uint32_t tm, uint32_t tn) { return (tm + tn) * 16 * 4 <= 16384 ? 16 : 8; }

void validate(const Conv2dSpec& s) {
  const bool sizes = s.batch && s.in_channels && s.in_h && s.in_w && s.out_channels && s.kernel_h && s.kernel_w &&
                     s.out_h && s.out_w && s.stride;
  // Indices are u32: every tensor (and the weight matrix) must have fewer than 2^32 values.
  const uint64_t k = uint64_t{s.in_channels} * s.kernel_h * s.kernel_w;
  const bool fits = uint64_t{s.batch} * s.in_channels * s.in_h * s.in_w <= UINT32_MAX &&
                    k * s.out_channels <= UINT32_MAX && pixels(s) * s.out_channels <= UINT32_MAX;
  if (!sizes || !fits || s.groups_x == 0)
    throw Error("webgpu backend: conv2d: no kernel for " + std::to_string(s.batch) + "x" + std::to_string(s.in_channels) +
                "x" + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " images, " +
                std::to_string(s.out_channels) + " " + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) +
                " filters, stride " + std::to_string(s.stride) + " (empty, or past 32-bit indices)");
}

}  // namespace

uint32_t conv2d_tile_channels(const Conv2dSpec& s) {
  if (s.out_channels <= 16) return 16;
  return s.out_channels <= 32 ? 32 : 64;
}

uint32_t conv2d_tiles(const Conv2dSpec& s) {
  validate(s);
  const uint32_t tm = conv2d_tile_channels(s), tn = kTileOutputs / tm;
  // At most one per output value, which validate() keeps within u32.
  return static_cast<uint32_t>((s.out_channels + tm - 1) / tm * ((pixels(s) + tn - 1) / tn));
}

std::string conv2d_key(const Conv2dSpec& s) {
  std::string k = "conv";
  for (uint32_t v : {s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels, s.kernel_h, s.kernel_w, s.out_h, s.out_w,
                     s.stride, s.pad_top, s.pad_left, s.groups_x}) {
    k += ':';
    k += std::to_string(v);
  }
  k += s.bias ? ":b:" + view_key(s.b) : "";
  return k + ":" + view_key(s.x) + ":" + view_key(s.w) + ":" + view_key(s.y);
}

std::string conv2d_source(const Conv2dSpec& s) {
  validate(s);
  const uint32_t tm = conv2d_tile_channels(s), tn = kTileOutputs / tm;
  uint32_t binding = 0;
  std::string src = bind_tensor("x", s.x, false, binding);
  src += bind_tensor("w", s.w, false, binding);
  if (s.bias) src += bind_tensor("b", s.b, false, binding);
  src += bind_tensor("y", s.y, true, binding);
  src += "const CIN: u32 = " + u32(s.in_channels) + ";\nconst H: u32 = " + u32(s.in_h) + ";\nconst W: u32 = " +
         u32(s.in_w) + ";\n";
  src += "const COUT: u32 = " + u32(s.out_channels) + ";\nconst KH: u32 = " + u32(s.kernel_h) + ";\nconst KW: u32 = " +
         u32(s.kernel_w) + ";\n";
  src += "const OH: u32 = " + u32(s.out_h) + ";\nconst OW: u32 = " + u32(s.out_w) + ";\nconst STRIDE: u32 = " +
         u32(s.stride) + ";\n";
  src += "const PAD_T: i32 = " + std::to_string(s.pad_top) + ";\nconst PAD_L: i32 = " + std::to_string(s.pad_left) + ";\n";
  src += "const K: u32 = " + u32(uint64_t{s.in_channels} * s.kernel_h * s.kernel_w) + ";\nconst P: u32 = " +
         u32(pixels(s)) + ";\n";
  src += "const TM: u32 = " + u32(tm) + ";\nconst TN: u32 = " + u32(tn) + ";\nconst TK: u32 = " + u32(tile_k(tm, tn)) +
         ";\n";
  src += "const M_TILES: u32 = " + u32((s.out_channels + tm - 1) / tm) + ";\nconst TILES: u32 = " + u32(conv2d_tiles(s)) +
         ";\nconst GROUPS_X: u32 = " + u32(s.groups_x) + ";\nconst WG: u32 = " + u32(kInvocations) + ";\n";
  // Invocation (tx, ty) owns outputs acc<i>_<j> at (ty + i·TM/4, tx + j·TN/4): strided, so that
  // neighbours read neighbouring words of the tiles, which are stored [k][m] and [k][n] for the
  // inner product to read a row of each. Unrolled (unroll.h) to keep the outputs in registers.
  const std::string declare_acc = each2(4, 4, [](auto i, auto j) { return "  var acc" + i + "_" + j + " = 0.0;\n"; });
  const std::string read_w = each(4, [](auto i) { return "      let a" + i + " = ws[kk * TM + ty + " + i + "u * (TM / 4u)];\n"; });
  const std::string read_x = each(4, [](auto j) { return "      let b" + j + " = xs[kk * TN + tx + " + j + "u * (TN / 4u)];\n"; });
  const std::string dot = each2(4, 4, [](auto i, auto j) { return "      acc" + i + "_" + j + " += a" + i + " * b" + j + ";\n"; });
  const std::string store = each2(4, 4, [](auto i, auto j) {
    return "  write_y(m0 + ty + " + i + "u * (TM / 4u), n0 + tx + " + j + "u * (TN / 4u), acc" + i + "_" + j + ");\n";
  });
  // Gathers past the edges (of the image: padding; of the matrices: partial tiles) load zero. TN
  // and TK divide WG, so each invocation gathers one fixed pixel column and one fixed k column.
  src += R"(var<workgroup> ws: array<f32, TK * TM>;
var<workgroup> xs: array<f32, TK * TN>;
fn write_y(co: u32, p: u32, v: f32) {
  if (co >= COUT || p >= P) { return; }
)";
  src += s.bias ? "  let shift = load_b(co);\n" : "  let shift = 0.0;\n";
  src += R"(  store_y((p / (OH * OW) * COUT + co) * OH * OW + p % (OH * OW), v + shift);
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tile = wg.x + wg.y * GROUPS_X;
  if (tile >= TILES) { return; }
  let m0 = tile % M_TILES * TM;
  let n0 = tile / M_TILES * TN;
  let gather_n = t % TN;
  let gather_p = n0 + gather_n;
  let pix = gather_p % (OH * OW);
  let x_base = gather_p / (OH * OW) * CIN * H * W;
  let ih0 = i32(pix / OW * STRIDE) - PAD_T;
  let iw0 = i32(pix % OW * STRIDE) - PAD_L;
  let gather_k = t % TK;
  let tx = t % (TN / 4u);
  let ty = t / (TN / 4u);
)" + declare_acc + R"(  for (var k0 = 0u; k0 < K; k0 += TK) {
    let wk = k0 + gather_k;
    for (var e = t; e < TK * TM; e += WG) {
      let m = m0 + e / TK;
      var v = 0.0;
      if (m < COUT && wk < K) { v = load_w(m * K + wk); }
      ws[gather_k * TM + e / TK] = v;
    }
    for (var e = t; e < TK * TN; e += WG) {
      let kk = e / TN;
      let k = k0 + kk;
      var v = 0.0;
      if (gather_p < P && k < K) {
        let tap = k % (KH * KW);
        let ih = ih0 + i32(tap / KW);
        let iw = iw0 + i32(tap % KW);
        if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) {
          v = load_x(x_base + (k / (KH * KW) * H + u32(ih)) * W + u32(iw));
        }
      }
      xs[kk * TN + gather_n] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
)" + read_w + read_x + dot + R"(    }
    workgroupBarrier();
  }
)" + store + "}\n";
  return src;
}

}  // namespace websd::wgsl
