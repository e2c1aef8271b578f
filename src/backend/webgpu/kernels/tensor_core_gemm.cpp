#include "backend/webgpu/kernels/tensor_core_gemm.h"

#include <algorithm>

#include "backend/webgpu/kernels/f16_pack.h"
#include "backend/webgpu/kernels/unroll.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

std::string u32(uint64_t v) { return std::to_string(v) + "u"; }

// Four, two or one tiles of 16, whichever divides `tiles16` (a count of 16s).
uint32_t widest_dividing(uint32_t tiles16) { return tiles16 % 4 == 0 ? 4 : tiles16 % 2 == 0 ? 2 : 1; }

bool is_conv(const TensorCoreGemmSpec& s) { return s.kind == GemmKind::Conv; }

uint64_t pack_words(const TensorCoreGemmSpec& s) { return uint64_t{s.pack_rows} * s.k / 2; }

// C's shape for one range: [Cout, pixels] for conv2d, [rows, N] for linear.
uint32_t c_rows(const TensorCoreGemmSpec& s) { return is_conv(s) ? s.out_channels : s.pack_rows; }
uint32_t c_cols(const TensorCoreGemmSpec& s) { return is_conv(s) ? s.pack_rows : s.n; }
uint32_t tile_groups(const TensorCoreGemmSpec& s) {
  return c_rows(s) / (16 * tensor_core_ti(s)) * (c_cols(s) / (16 * tensor_core_tj(s)));
}
// Steps of 16 in each slice of K (the last slice may be shorter).
uint32_t slice_steps(const TensorCoreGemmSpec& s) { return (s.k / 16 + s.splits - 1) / s.splits; }

void validate(const TensorCoreGemmSpec& s) {
  const uint32_t weight_rows = is_conv(s) ? s.out_channels : s.n;
  const bool sizes = s.k && weight_rows && s.subgroup && s.pack_rows && s.pack_rows % kTensorCorePackRows == 0 && s.groups_x &&
                     tensor_core_gemm_fits(s.k, weight_rows) && s.splits && s.splits <= s.k / 16;
  // The packed matrix, the weight and the split scratch are one binding each, indexed in u32.
  const bool fits = uint64_t{s.pack_rows} * s.k <= UINT32_MAX && uint64_t{weight_rows} * s.k <= UINT32_MAX &&
                    uint64_t{s.splits} * s.pack_rows * weight_rows <= UINT32_MAX;
  if (!sizes || !fits)
    throw Error("webgpu backend: tensor-core " + std::string(is_conv(s) ? "conv2d" : "linear") + ": no kernel for K " +
                std::to_string(s.k) + ", " + std::to_string(weight_rows) + " weight rows, " + std::to_string(s.pack_rows) +
                " packed rows, " + std::to_string(s.splits) + " slices of K");
}

// The dims both kernels bake in.
std::string constants(const TensorCoreGemmSpec& s) {
  std::string src = "const K: u32 = " + u32(s.k) + ";\nconst PACK_ROWS: u32 = " + u32(s.pack_rows) + ";\n";
  if (is_conv(s)) {
    src += "const CIN: u32 = " + u32(s.in_channels) + ";\nconst H: u32 = " + u32(s.in_h) + ";\nconst W: u32 = " +
           u32(s.in_w) + ";\nconst COUT: u32 = " + u32(s.out_channels) + ";\nconst KH: u32 = " + u32(s.kernel_h) +
           ";\nconst KW: u32 = " + u32(s.kernel_w) + ";\nconst OH: u32 = " + u32(s.out_h) + ";\nconst OW: u32 = " +
           u32(s.out_w) + ";\nconst STRIDE: u32 = " + u32(s.stride) + ";\nconst PAD_T: i32 = " +
           std::to_string(s.pad_top) + ";\nconst PAD_L: i32 = " + std::to_string(s.pad_left) + ";\nconst P: u32 = " +
           u32(tensor_core_rows(s)) + ";\n";
  } else {
    src += "const M: u32 = " + u32(s.m) + ";\nconst N: u32 = " + u32(s.n) + ";\n";
  }
  return src + "const GROUPS_X: u32 = " + u32(s.groups_x) + ";\n";
}

// The first row of x (linear) or pixel (conv) of the range packed, a uniform after the tensors.
std::string uniform_p0(uint32_t binding) {
  return "struct Range { p0: u32 }\n@group(0) @binding(" + std::to_string(binding) + ") var<uniform> range: Range;\n";
}

// C [i, j] out: y's row-major [M, N] for linear; for conv, channel i of pixel p0 + j in NCHW.
std::string write_c(const TensorCoreGemmSpec& s) {
  const std::string bias = s.bias ? (is_conv(s) ? " + load_b(i)" : " + load_b(j)") : "";
  if (is_conv(s))
    return "fn write_c(i: u32, j: u32, v: f32) {\n  let p = range.p0 + j;\n  if (p >= P) { return; }\n"
           "  store_y((p / (OH * OW) * COUT + i) * OH * OW + p % (OH * OW), v" + bias + ");\n}\n";
  return "fn write_c(i: u32, j: u32, v: f32) {\n  let row = range.p0 + i;\n  if (row >= M) { return; }\n"
         "  store_y(row * N + j, v" + bias + ");\n}\n";
}

std::string dims_key(const TensorCoreGemmSpec& s) {
  std::string k = is_conv(s) ? "conv" : "linear";
  for (uint32_t v : {s.m, s.n, s.k, s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels, s.kernel_h, s.kernel_w,
                     s.out_h, s.out_w, s.stride, s.pad_top, s.pad_left, s.pack_rows, s.splits, s.groups_x, s.subgroup}) {
    k += ':';
    k += std::to_string(v);
  }
  return k;
}

}  // namespace

TensorCoreGemmSpec tensor_core_spec(const MatmulSpec& l) {
  TensorCoreGemmSpec s;
  s.kind = GemmKind::Linear;
  s.m = l.m;
  s.n = l.n;
  s.k = l.k;
  s.bias = l.bias;
  return s;
}

TensorCoreGemmSpec tensor_core_spec(const Conv2dSpec& c) {
  TensorCoreGemmSpec s;
  s.kind = GemmKind::Conv;
  s.k = c.in_channels * c.kernel_h * c.kernel_w;
  s.batch = c.batch;
  s.in_channels = c.in_channels;
  s.in_h = c.in_h;
  s.in_w = c.in_w;
  s.out_channels = c.out_channels;
  s.kernel_h = c.kernel_h;
  s.kernel_w = c.kernel_w;
  s.out_h = c.out_h;
  s.out_w = c.out_w;
  s.stride = c.stride;
  s.pad_top = c.pad_top;
  s.pad_left = c.pad_left;
  s.bias = c.bias;
  return s;
}

bool tensor_core_gemm_fits(uint32_t k, uint32_t weight_rows) {
  return k > 0 && k % 16 == 0 && weight_rows > 0 && weight_rows % 16 == 0;
}

uint32_t tensor_core_ti(const TensorCoreGemmSpec& s) { return is_conv(s) ? widest_dividing(s.out_channels / 16) : 4; }
uint32_t tensor_core_tj(const TensorCoreGemmSpec& s) { return is_conv(s) ? 4 : widest_dividing(s.n / 16); }
uint32_t tensor_core_rows(const TensorCoreGemmSpec& s) { return is_conv(s) ? s.batch * s.out_h * s.out_w : s.m; }

uint32_t tensor_core_pack_groups(const TensorCoreGemmSpec& s) {
  validate(s);
  return f16_pack_groups(pack_words(s));
}

uint32_t tensor_core_splits(const TensorCoreGemmSpec& s, uint64_t scratch_limit) {
  const uint32_t tiles = tile_groups(s), steps = s.k / 16;
  if (tiles >= kTensorCoreTargetGroups) return 1;
  uint64_t want = (kTensorCoreTargetGroups + tiles - 1) / tiles;
  want = std::min<uint64_t>(want, std::max(1u, steps / kTensorCoreMinSplitSteps));
  want = std::min<uint64_t>(want, std::max<uint64_t>(1, scratch_limit / (uint64_t{c_rows(s)} * c_cols(s) * 4)));
  const uint64_t per = (steps + want - 1) / want;
  return static_cast<uint32_t>((steps + per - 1) / per);  // no empty slice
}

uint64_t tensor_core_partial_values(const TensorCoreGemmSpec& s) { return uint64_t{s.splits} * c_rows(s) * c_cols(s); }

uint32_t tensor_core_gemm_groups(const TensorCoreGemmSpec& s) {
  validate(s);
  return tile_groups(s) * s.splits;
}

uint32_t tensor_core_reduce_groups(const TensorCoreGemmSpec& s) {
  validate(s);
  return static_cast<uint32_t>((uint64_t{c_rows(s)} * c_cols(s) + 255) / 256);
}

std::string tensor_core_pack_key(const TensorCoreGemmSpec& s) { return "tc-pack:" + dims_key(s) + ":" + view_key(s.x); }

std::string tensor_core_gemm_key(const TensorCoreGemmSpec& s) {
  if (s.splits > 1) return "tc-gemm:" + dims_key(s);  // partial sums out: no bias, no y
  return "tc-gemm:" + dims_key(s) + (s.bias ? ":b" + view_key(s.b) : "") + ":" + view_key(s.y);
}

std::string tensor_core_reduce_key(const TensorCoreGemmSpec& s) {
  return "tc-reduce:" + dims_key(s) + (s.bias ? ":b" + view_key(s.b) : "") + ":" + view_key(s.y);
}

std::string tensor_core_pack_source(const TensorCoreGemmSpec& s) {
  validate(s);
  uint32_t binding = 0;
  std::string src = bind_tensor("x", s.x, false, binding);
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read_write> packed: array<u32>;\n";
  src += uniform_p0(binding);
  src += constants(s);
  // Element (r, k) of the packed matrix: a row of x, or the im2col row of pixel p0 + r (zero in the
  // padding and past the last pixel).
  if (is_conv(s)) {
    src += R"(fn gather(r: u32, k: u32) -> f32 {
  let p = range.p0 + r;
  if (p >= P) { return 0.0; }
  let pix = p % (OH * OW);
  let tap = k % (KH * KW);
  let ih = i32(pix / OW * STRIDE) - PAD_T + i32(tap / KW);
  let iw = i32(pix % OW * STRIDE) - PAD_L + i32(tap % KW);
  if (ih < 0 || ih >= i32(H) || iw < 0 || iw >= i32(W)) { return 0.0; }
  return load_x(((p / (OH * OW) * CIN + k / (KH * KW)) * H + u32(ih)) * W + u32(iw));
}
)";
  } else {
    src += R"(fn gather(r: u32, k: u32) -> f32 {
  let row = range.p0 + r;
  if (row >= M) { return 0.0; }
  return load_x(row * K + k);
}
)";
  }
  return src + f16_pack_main(pack_words(s), s.k, s.groups_x);
}

std::string tensor_core_gemm_source(const TensorCoreGemmSpec& s) {
  validate(s);
  const uint32_t ti = tensor_core_ti(s), tj = tensor_core_tj(s);
  const bool split = s.splits > 1;
  const std::string left = is_conv(s) ? "weight" : "packed", right = is_conv(s) ? "packed" : "weight";
  std::string src = "enable f16;\nenable chromium_experimental_subgroup_matrix;\n";
  uint32_t binding = 0;
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read> packed: array<f16>;\n";
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read> weight: array<f16>;\n";
  if (split) {
    // Partial sums in the range's own coordinates: no p0.
    src += "@group(0) @binding(" + std::to_string(binding) + ") var<storage, read_write> partial: array<f32>;\n";
  } else {
    if (s.bias) src += bind_tensor("b", s.b, false, binding);
    src += bind_tensor("y", s.y, true, binding);
    src += uniform_p0(binding);
  }
  src += constants(s);
  src += "const TI: u32 = " + u32(ti) + ";\nconst TJ: u32 = " + u32(tj) + ";\nconst I_TILES: u32 = " +
         u32(c_rows(s) / (16 * ti)) + ";\nconst TILES: u32 = " + u32(tile_groups(s)) + ";\nconst GROUPS: u32 = " +
         u32(tensor_core_gemm_groups(s)) + ";\nconst KS: u32 = " + u32(slice_steps(s) * 16) + ";\nconst C_ROWS: u32 = " +
         u32(c_rows(s)) + ";\nconst C_COLS: u32 = " + u32(c_cols(s)) + ";\nconst SG: u32 = " + u32(s.subgroup) + ";\n";
  if (!split) src += write_c(s);
  // Every offset derives from workgroup_id: subgroup matrix loads need subgroup-uniform arguments.
  const std::string declare = each2(ti, tj, [](auto a, auto b) {
    return "  var acc" + a + "_" + b + ": subgroup_matrix_result<f32, 16, 16>;\n";
  });
  const std::string load_left = each(ti, [&](auto a) {
    return "    let a" + a + " = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&" + left + ", (i0 + " + a +
           "u * 16u) * K + k, K);\n";
  });
  const std::string load_right = each(tj, [&](auto b) {
    return "    let b" + b + " = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&" + right + ", (j0 + " + b +
           "u * 16u) * K + k, K);\n";
  });
  const std::string multiply = each2(ti, tj, [](auto a, auto b) {
    return "    acc" + a + "_" + b + " = subgroupMatrixMultiplyAccumulate(a" + a + ", b" + b + ", acc" + a + "_" + b + ");\n";
  });
  // Split: the partial sums straight to the scratch. Whole: a tile at a time through workgroup memory.
  const std::string store = each2(ti, tj, [&](auto a, auto b) {
    const std::string acc = "acc" + a + "_" + b, i = "i0 + " + a + "u * 16u", j = "j0 + " + b + "u * 16u";
    if (split)
      return "  subgroupMatrixStore<row_major>(&partial, split * C_ROWS * C_COLS + (" + i + ") * C_COLS + " + j + ", " + acc +
             ", C_COLS);\n";
    return "  subgroupMatrixStore<row_major>(&staged, 0u, " + acc + ", 16u);\n  workgroupBarrier();\n"
           "  for (var e = t; e < 256u; e += SG) { write_c(" + i + " + e / 16u, " + j + " + e % 16u, staged[e]); }\n"
           "  workgroupBarrier();\n";
  });
  if (!split) src += "var<workgroup> staged: array<f32, 256>;\n";
  src += R"(@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let index = wg.x + wg.y * GROUPS_X;
  if (index >= GROUPS) { return; }
  let tile = index % TILES;
  let split = index / TILES;
  let i0 = tile % I_TILES * TI * 16u;
  let j0 = tile / I_TILES * TJ * 16u;
  let k_end = min(K, split * KS + KS);
)" + declare + R"(  for (var k = split * KS; k < k_end; k += 16u) {
)" + load_left + load_right + multiply + R"(  }
)" + store + "}\n";
  return src;
}

std::string tensor_core_reduce_source(const TensorCoreGemmSpec& s) {
  validate(s);
  std::string src = "@group(0) @binding(0) var<storage, read> partial: array<f32>;\n";
  uint32_t binding = 1;
  if (s.bias) src += bind_tensor("b", s.b, false, binding);
  src += bind_tensor("y", s.y, true, binding);
  src += uniform_p0(binding);
  src += constants(s);
  src += "const C_ROWS: u32 = " + u32(c_rows(s)) + ";\nconst C_COLS: u32 = " + u32(c_cols(s)) + ";\nconst SPLITS: u32 = " +
         u32(s.splits) + ";\n";
  src += write_c(s);
  src += R"(@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = (wg.x + wg.y * GROUPS_X) * 256u + t;
  if (e >= C_ROWS * C_COLS) { return; }
  var v = 0.0;
  for (var s = 0u; s < SPLITS; s++) { v += partial[s * C_ROWS * C_COLS + e]; }
  write_c(e / C_COLS, e % C_COLS, v);
}
)";
  return src;
}

}  // namespace websd::wgsl
