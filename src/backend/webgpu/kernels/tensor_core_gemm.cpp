#include "backend/webgpu/kernels/tensor_core_gemm.h"

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

void validate(const TensorCoreGemmSpec& s) {
  const uint32_t weight_rows = is_conv(s) ? s.out_channels : s.n;
  const bool sizes = s.k && weight_rows && s.subgroup && s.pack_rows && s.pack_rows % kTensorCorePackRows == 0 && s.groups_x &&
                     tensor_core_gemm_fits(s.kind, s.k, weight_rows);
  // The packed matrix and the weight are one binding each, indexed in u32.
  const bool fits = uint64_t{s.pack_rows} * s.k <= UINT32_MAX && uint64_t{weight_rows} * s.k <= UINT32_MAX;
  if (!sizes || !fits)
    throw Error("webgpu backend: tensor-core " + std::string(is_conv(s) ? "conv2d" : "linear") + ": no kernel for K " +
                std::to_string(s.k) + ", " + std::to_string(weight_rows) + " weight rows, " + std::to_string(s.pack_rows) +
                " packed rows");
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

std::string dims_key(const TensorCoreGemmSpec& s) {
  std::string k = is_conv(s) ? "conv" : "linear";
  for (uint32_t v : {s.m, s.n, s.k, s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels, s.kernel_h, s.kernel_w,
                     s.out_h, s.out_w, s.stride, s.pad_top, s.pad_left, s.pack_rows, s.groups_x, s.subgroup}) {
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

bool tensor_core_gemm_fits(GemmKind, uint32_t k, uint32_t weight_rows) {
  return k > 0 && k % 16 == 0 && weight_rows > 0 && weight_rows % 16 == 0;
}

uint32_t tensor_core_ti(const TensorCoreGemmSpec& s) { return is_conv(s) ? widest_dividing(s.out_channels / 16) : 4; }
uint32_t tensor_core_tj(const TensorCoreGemmSpec& s) { return is_conv(s) ? 4 : widest_dividing(s.n / 16); }
uint32_t tensor_core_rows(const TensorCoreGemmSpec& s) { return is_conv(s) ? s.batch * s.out_h * s.out_w : s.m; }

uint32_t tensor_core_pack_groups(const TensorCoreGemmSpec& s) {
  validate(s);
  return f16_pack_groups(pack_words(s));
}

uint32_t tensor_core_gemm_groups(const TensorCoreGemmSpec& s) {
  validate(s);
  const uint32_t rows = is_conv(s) ? s.out_channels : s.pack_rows, cols = is_conv(s) ? s.pack_rows : s.n;
  return rows / (16 * tensor_core_ti(s)) * (cols / (16 * tensor_core_tj(s)));
}

std::string tensor_core_pack_key(const TensorCoreGemmSpec& s) { return "tc-pack:" + dims_key(s) + ":" + view_key(s.x); }

std::string tensor_core_gemm_key(const TensorCoreGemmSpec& s) {
  return "tc-gemm:" + dims_key(s) + (s.bias ? ":b" + view_key(s.b) : "") + ":" + view_key(s.y);
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
  const std::string left = is_conv(s) ? "weight" : "packed", right = is_conv(s) ? "packed" : "weight";
  std::string src = "enable f16;\nenable chromium_experimental_subgroup_matrix;\n";
  uint32_t binding = 0;
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read> packed: array<f16>;\n";
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read> weight: array<f16>;\n";
  if (s.bias) src += bind_tensor("b", s.b, false, binding);
  src += bind_tensor("y", s.y, true, binding);
  src += uniform_p0(binding);
  src += constants(s);
  const uint32_t rows = is_conv(s) ? s.out_channels : s.pack_rows;
  src += "const TI: u32 = " + u32(ti) + ";\nconst TJ: u32 = " + u32(tj) + ";\nconst I_TILES: u32 = " +
         u32(rows / (16 * ti)) + ";\nconst GROUPS: u32 = " + u32(tensor_core_gemm_groups(s)) + ";\n";
  // C [i, j] out: y's row-major [M, N] for linear; for conv, channel i of pixel p0 + j in NCHW.
  if (is_conv(s)) {
    src += "fn write_c(i: u32, j: u32, v: f32) {\n  let p = range.p0 + j;\n  if (p >= P) { return; }\n";
    src += std::string("  store_y((p / (OH * OW) * COUT + i) * OH * OW + p % (OH * OW), v") + (s.bias ? " + load_b(i)" : "") +
           ");\n}\n";
  } else {
    src += "fn write_c(i: u32, j: u32, v: f32) {\n  let row = range.p0 + i;\n  if (row >= M) { return; }\n";
    src += std::string("  store_y(row * N + j, v") + (s.bias ? " + load_b(j)" : "") + ");\n}\n";
  }
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
  const std::string store = each2(ti, tj, [](auto a, auto b) {
    return "  subgroupMatrixStore<row_major>(&tile, " + a + "u * 16u * TJ * 16u + " + b + "u * 16u, acc" + a + "_" + b +
           ", TJ * 16u);\n";
  });
  src += R"(var<workgroup> tile: array<f32, TI * TJ * 256u>;
@compute @workgroup_size()" + std::to_string(s.subgroup) + R"()
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let index = wg.x + wg.y * GROUPS_X;
  if (index >= GROUPS) { return; }
  let i0 = index % I_TILES * TI * 16u;
  let j0 = index / I_TILES * TJ * 16u;
)" + declare + R"(  for (var k = 0u; k < K; k += 16u) {
)" + load_left + load_right + multiply + R"(  }
)" + store + R"(  workgroupBarrier();
  for (var e = t; e < TI * TJ * 256u; e += )" + u32(s.subgroup) + R"() {
    write_c(i0 + e / (TJ * 16u), j0 + e % (TJ * 16u), tile[e]);
  }
}
)";
  return src;
}

}  // namespace websd::wgsl
