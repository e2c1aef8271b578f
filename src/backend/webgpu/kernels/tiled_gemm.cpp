#include "backend/webgpu/kernels/tiled_gemm.h"

#include "backend/webgpu/kernels/unroll.h"

namespace websd::wgsl {
namespace {

constexpr uint32_t kInvocations = 256, kTileOutputs = 4096;

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

// Reduction depth per step: as deep as two tiles fit in 16 KiB of workgroup memory.
uint32_t tile_k(uint32_t tm, uint32_t tn) { return (tm + tn) * 16 * 4 <= 16384 ? 16 : 8; }

// One operand's TK × rows slice into `tile` ([k][row]), a row at a time along K: neighbouring
// invocations read neighbouring words of a row.
std::string stage_rows(const std::string& tile, const std::string& load, const std::string& rows, const std::string& first,
                       const std::string& limit) {
  return "    for (var e = t; e < TK * " + rows + "; e += WG) {\n      let r = " + first + " + e / TK;\n      let k = k0 + e % TK;\n"
         "      var v = 0.0;\n      if (r < " + limit + " && k < d.K) { v = " + load + "(r, k); }\n      " + tile + "[e % TK * " +
         rows + " + e / TK] = v;\n    }\n";
}

}  // namespace

uint32_t tiled_gemm_tile_rows(const TiledGemmSpec& s) {
  if (s.m <= 16) return 16;
  return s.m <= 32 ? 32 : 64;
}

uint32_t tiled_gemm_tiles(const TiledGemmSpec& s) {
  const uint64_t tm = tiled_gemm_tile_rows(s), tn = kTileOutputs / tm;
  return static_cast<uint32_t>((s.m + tm - 1) / tm * ((s.n + tn - 1) / tn));
}

void add_tiled_gemm_dims(const TiledGemmSpec& s, Dims& dims) {
  const uint32_t tm = tiled_gemm_tile_rows(s);
  dims.add("M", s.m).add("N", s.n).add("K", s.k).add("M_TILES", (s.m + tm - 1) / tm).add("TILES", tiled_gemm_tiles(s));
  dims.add("GROUPS_X", s.groups_x);
}

std::string tiled_gemm_main(const TiledGemmSpec& s) {
  const uint32_t tm = tiled_gemm_tile_rows(s), tn = kTileOutputs / tm;
  std::string src = "const TM: u32 = " + u32(tm) + ";\nconst TN: u32 = " + u32(tn) + ";\nconst TK: u32 = " +
                    u32(tile_k(tm, tn)) + ";\nconst WG: u32 = " + u32(kInvocations) + ";\n";
  // Invocation (tx, ty) owns outputs acc<i>_<j> at (ty + i·TM/4, tx + j·TN/4): strided, so that
  // neighbours read neighbouring words of the tiles, which are stored [k][m] and [k][n] for the
  // inner product to read a row of each. Unrolled (unroll.h) to keep the outputs in registers.
  const std::string declare_acc = each2(4, 4, [](auto i, auto j) { return "  var acc" + i + "_" + j + " = 0.0;\n"; });
  const std::string read_l = each(4, [](auto i) { return "      let a" + i + " = ls[kk * TM + ty + " + i + "u * (TM / 4u)];\n"; });
  const std::string read_r = each(4, [](auto j) { return "      let b" + j + " = rs[kk * TN + tx + " + j + "u * (TN / 4u)];\n"; });
  const std::string dot = each2(4, 4, [](auto i, auto j) { return "      acc" + i + "_" + j + " += a" + i + " * b" + j + ";\n"; });
  const std::string store = each2(4, 4, [](auto i, auto j) {
    return "  write_tile(m0 + ty + " + i + "u * (TM / 4u), n0 + tx + " + j + "u * (TN / 4u), acc" + i + "_" + j + ");\n";
  });
  // The im2col gather: TN divides WG, so each invocation gathers one fixed pixel (column of R) and
  // walks K; padding and pixels past the last load zero.
  const bool im2col = s.right == Right::Im2col;
  const std::string setup = im2col ? R"(  let gather_n = t % TN;
  let gather_p = n0 + gather_n;
  let pix = gather_p % (d.OH * d.OW);
  let x_base = gather_p / (d.OH * d.OW) * d.CIN * d.H * d.W;
  let ih0 = i32(pix / d.OW * d.STRIDE) - i32(d.PAD_T);
  let iw0 = i32(pix % d.OW * d.STRIDE) - i32(d.PAD_L);
)"
                                   : "";
  const std::string stage_right = im2col ? R"(    for (var e = t; e < TK * TN; e += WG) {
      let kk = e / TN;
      let k = k0 + kk;
      var v = 0.0;
      if (gather_p < d.N && k < d.K) {
        let tap = k % (KH * KW);
        let ih = ih0 + i32(tap / KW);
        let iw = iw0 + i32(tap % KW);
        if (ih >= 0 && ih < i32(d.H) && iw >= 0 && iw < i32(d.W)) {
          v = load_x(x_base + (k / (KH * KW) * d.H + u32(ih)) * d.W + u32(iw));
        }
      }
      rs[kk * TN + gather_n] = v;
    }
)"
                                         : stage_rows("rs", "load_right", "TN", "n0", "d.N");
  src += R"(var<workgroup> ls: array<f32, TK * TM>;
var<workgroup> rs: array<f32, TK * TN>;
fn write_tile(m: u32, n: u32, v: f32) {
  if (m < d.M && n < d.N) { write_y(m, n, v); }
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tile = wg.x + wg.y * d.GROUPS_X;
  if (tile >= d.TILES) { return; }
  let m0 = tile % d.M_TILES * TM;
  let n0 = tile / d.M_TILES * TN;
  let tx = t % (TN / 4u);
  let ty = t / (TN / 4u);
)" + setup + declare_acc + "  for (var k0 = 0u; k0 < d.K; k0 += TK) {\n" +
         stage_rows("ls", "load_left", "TM", "m0", "d.M") + stage_right + R"(    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
)" + read_l + read_r + dot + R"(    }
    workgroupBarrier();
  }
)" + store + "}\n";
  return src;
}

}  // namespace websd::wgsl
