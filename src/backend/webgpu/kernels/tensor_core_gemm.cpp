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
// Tiles of 16·TI rows (16·TJ columns) of C along its rows (columns).
uint32_t i_tiles(const TensorCoreGemmSpec& s) { return c_rows(s) / (16 * tensor_core_ti(s)); }
uint32_t j_tiles(const TensorCoreGemmSpec& s) { return c_cols(s) / (16 * tensor_core_tj(s)); }
uint32_t tile_groups(const TensorCoreGemmSpec& s) { return i_tiles(s) / s.wi * (j_tiles(s) / s.wj); }
// Steps of 16 a staged workgroup copies at a time (1 without staging): slices of K are whole chunks.
uint32_t chunk_steps(const TensorCoreGemmSpec& s) { return std::max(s.chunk, 1u); }
uint32_t round_up(uint32_t v, uint32_t unit) { return (v + unit - 1) / unit * unit; }
// Steps of 16 in each slice of K (the last slice may be shorter).
uint32_t slice_steps(const TensorCoreGemmSpec& s) { return round_up((s.k / 16 + s.splits - 1) / s.splits, chunk_steps(s)); }
// Staged operands in workgroup memory: rows of a chunk of K, padded by 8 values (16 bytes) so the
// rows start in different banks.
uint32_t staged_stride(const TensorCoreGemmSpec& s) { return 16 * s.chunk + 8; }

void validate(const TensorCoreGemmSpec& s) {
  const uint32_t weight_rows = is_conv(s) ? s.out_channels : s.n;
  const bool sizes = s.k && weight_rows && s.subgroup && s.pack_rows && s.pack_rows % kTensorCorePackRows == 0 && s.groups_x &&
                     tensor_core_gemm_fits(s.k, weight_rows) && s.splits && s.splits <= s.k / 16;
  const bool layout = s.wi && s.wj && (s.chunk ? s.k / 16 % s.chunk == 0 && i_tiles(s) % s.wi == 0 && j_tiles(s) % s.wj == 0 &&
                                                     s.wi * s.wj * s.subgroup <= kTensorCoreMaxInvocations
                                               : s.wi == 1 && s.wj == 1);
  // The packed matrix, the weight and the split scratch are one binding each, indexed in u32.
  const bool fits = uint64_t{s.pack_rows} * s.k <= UINT32_MAX && uint64_t{weight_rows} * s.k <= UINT32_MAX &&
                    uint64_t{s.splits} * s.pack_rows * weight_rows <= UINT32_MAX;
  if (!sizes || !fits || !layout)
    throw Error("webgpu backend: tensor-core " + std::string(is_conv(s) ? "conv2d" : "linear") + ": no kernel for K " +
                std::to_string(s.k) + ", " + std::to_string(weight_rows) + " weight rows, " + std::to_string(s.pack_rows) +
                " packed rows, " + std::to_string(s.splits) + " slices of K, " + std::to_string(s.wi) + "×" +
                std::to_string(s.wj) + " subgroups staging " + std::to_string(s.chunk) + " steps");
}

// What a kernel bakes in beyond the layout: a conv's taps, over which the gather unrolls.
std::string taps(const TensorCoreGemmSpec& s) {
  if (!is_conv(s)) return "";
  return "const KH: u32 = " + u32(s.kernel_h) + ";\nconst KW: u32 = " + u32(s.kernel_w) + ";\n";
}

// C [i, j] of the range out: for linear row p0 + i, column j; for conv channel i of pixel p0 + j.
std::string write_c(const TensorCoreGemmSpec& s) {
  if (is_conv(s))
    return conv2d_write_y(s.out) +
           "fn write_c(i: u32, j: u32, v: f32) {\n  let p = d.P0 + j;\n  if (p < d.P) { write_y(i, p, v); }\n}\n";
  return linear_write_y(s.out) +
         "fn write_c(i: u32, j: u32, v: f32) {\n  let row = d.P0 + i;\n  if (row < d.M) { write_y(row, j, v); }\n}\n";
}

// Element (r, k) of the activation operand (the packed matrix): a row of x, or the im2col row of
// pixel p0 + r (zero in the padding and past the last pixel).
std::string gather_source(const TensorCoreGemmSpec& s) {
  if (is_conv(s)) {
    return R"(fn gather(r: u32, k: u32) -> f32 {
  let p = d.P0 + r;
  if (p >= d.P) { return 0.0; }
  let pix = p % (d.OH * d.OW);
  let tap = k % (KH * KW);
  let ih = i32(pix / d.OW * d.STRIDE) - i32(d.PAD_T) + i32(tap / KW);
  let iw = i32(pix % d.OW * d.STRIDE) - i32(d.PAD_L) + i32(tap % KW);
  if (ih < 0 || ih >= i32(d.H) || iw < 0 || iw >= i32(d.W)) { return 0.0; }
  return load_x(((p / (d.OH * d.OW) * d.CIN + k / (KH * KW)) * d.H + u32(ih)) * d.W + u32(iw));
}
)";
  }
  return linear_load_input(s.geglu) + R"(fn gather(r: u32, k: u32) -> f32 {
  let row = d.P0 + r;
  if (row >= d.M) { return 0.0; }
  return load_input(row, k);
}
)";
}

// The staged conv kernel's copy of the im2col operand: each invocation copies the same pixels in
// every chunk, so where its window lies is worked out once (pixel_of, before the loop over K) and a
// copy of eight values (gather8) walks channel and tap from the first value's instead of
// dividing for each one. A pixel past the last has its window far outside x: every value is zero.
std::string conv_window_source() {
  std::string src = R"(struct Window { at: u32, ih: i32, iw: i32 }
fn pixel_of(r: u32) -> Window {
  let p = d.P0 + r;
  if (p >= d.P) { return Window(0u, -i32(KH) - 1, 0); }
  let pix = p % (d.OH * d.OW);
  return Window(p / (d.OH * d.OW) * d.CIN * d.H * d.W, i32(pix / d.OW * d.STRIDE) - i32(d.PAD_T), i32(pix % d.OW * d.STRIDE) - i32(d.PAD_L));
}
fn window_value(w: Window, ci: u32, dy: u32, dx: u32) -> f32 {
  let ih = w.ih + i32(dy);
  let iw = w.iw + i32(dx);
  if (ih < 0 || ih >= i32(d.H) || iw < 0 || iw >= i32(d.W)) { return 0.0; }
  return load_x(w.at + (ci * d.H + u32(ih)) * d.W + u32(iw));
}
fn gather8(w: Window, c: u32) -> vec4<u32> {
  var ci = c / (KH * KW);
  var dy = (c % (KH * KW)) / KW;
  var dx = c % KW;
)";
  const std::string next = "  dx += 1u;\n  if (dx == KW) { dx = 0u; dy += 1u; }\n  if (dy == KH) { dy = 0u; ci += 1u; }\n";
  src += each(8, [&](const std::string& i) {
    return "  let v" + i + " = window_value(w, ci, dy, dx);\n" + (i == "7" ? std::string() : next);
  });
  return src + "  return vec4<u32>(f16_pair(v0, v1), f16_pair(v2, v3), f16_pair(v4, v5), f16_pair(v6, v7));\n}\n";
}

// What every source bakes in: the kind and a conv's taps; every size is a field of the uniform.
std::string kind_key(const TensorCoreGemmSpec& s) {
  return is_conv(s) ? "conv:" + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) : "linear";
}

// And the gemm's: the tiles and their layout, whether K is split (partial sums out).
std::string layout_key(const TensorCoreGemmSpec& s) {
  std::string k = kind_key(s);
  for (uint32_t v : {tensor_core_ti(s), tensor_core_tj(s), s.wi, s.wj, s.chunk, s.subgroup, s.splits > 1 ? 1u : 0u}) {
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
  s.geglu = l.geglu;
  s.out = l.out;
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
  s.out = c.out;
  return s;
}

bool tensor_core_gemm_fits(uint32_t k, uint32_t weight_rows) {
  return k > 0 && k % 16 == 0 && weight_rows > 0 && weight_rows % 16 == 0;
}

uint32_t tensor_core_ti(const TensorCoreGemmSpec& s) { return is_conv(s) ? widest_dividing(s.out_channels / 16) : 4; }
uint32_t tensor_core_tj(const TensorCoreGemmSpec& s) { return is_conv(s) ? 4 : widest_dividing(s.n / 16); }
uint32_t tensor_core_rows(const TensorCoreGemmSpec& s) { return is_conv(s) ? s.batch * s.out_h * s.out_w : s.m; }

bool tensor_core_packs(const TensorCoreGemmSpec& s) { return s.chunk == 0 || s.geglu; }

uint32_t tensor_core_pack_groups(const TensorCoreGemmSpec& s) {
  validate(s);
  return f16_pack_groups(pack_words(s));
}

uint32_t tensor_core_splits(const TensorCoreGemmSpec& s, uint64_t scratch_limit) {
  const uint32_t subgroups = tile_groups(s) * s.wi * s.wj, steps = s.k / 16;
  if (subgroups >= kTensorCoreTargetGroups) return 1;
  uint64_t want = (kTensorCoreTargetGroups + subgroups - 1) / subgroups;
  want = std::min<uint64_t>(want, std::max(1u, steps / kTensorCoreMinSplitSteps));
  want = std::min<uint64_t>(want, std::max<uint64_t>(1, scratch_limit / (uint64_t{c_rows(s)} * c_cols(s) * 4)));
  const uint64_t per = round_up(static_cast<uint32_t>((steps + want - 1) / want), chunk_steps(s));
  return static_cast<uint32_t>((steps + per - 1) / per);  // no empty slice
}

void tensor_core_stage(TensorCoreGemmSpec& s, uint32_t workgroup_bytes) {
  const uint32_t steps = s.k / 16;
  for (const auto& [wi, wj] : {std::pair{2u, 2u}, {1u, 4u}, {4u, 1u}, {2u, 1u}, {1u, 2u}}) {
    for (const uint32_t chunk : {2u, 1u}) {
      TensorCoreGemmSpec t = s;
      t.wi = wi;
      t.wj = wj;
      t.chunk = chunk;
      if (steps % chunk || i_tiles(s) % wi || j_tiles(s) % wj || wi * wj * s.subgroup > kTensorCoreMaxInvocations) continue;
      if (tensor_core_gemm_workgroup_bytes(t) > workgroup_bytes) continue;
      s = t;
      return;
    }
  }
  s.wi = s.wj = 1;
  s.chunk = 0;
}

uint32_t tensor_core_gemm_workgroup_bytes(const TensorCoreGemmSpec& s) {
  const uint32_t epilogue = s.splits > 1 ? 0 : s.wi * s.wj * 256 * 4;  // a tile of float32 per subgroup
  if (!s.chunk) return epilogue;
  return (s.wi * tensor_core_ti(s) + s.wj * tensor_core_tj(s)) * 16 * staged_stride(s) * 2 + epilogue;
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

std::string tensor_core_pack_key(const TensorCoreGemmSpec& s) {
  return "tc-pack:" + kind_key(s) + (s.geglu ? ":geglu:" : ":") + view_key(s.x);
}

std::string tensor_core_gemm_key(const TensorCoreGemmSpec& s) {
  std::string k = "tc-gemm:" + layout_key(s);
  if (!tensor_core_packs(s)) k.append(":").append(view_key(s.x));  // the kernel reads x itself
  if (s.splits > 1) return k;  // partial sums out: no bias, no y
  return k + ":" + product_output_key(s.out);
}

std::string tensor_core_reduce_key(const TensorCoreGemmSpec& s) {
  return "tc-reduce:" + kind_key(s) + ":" + product_output_key(s.out);
}

Dims tensor_core_dims(const TensorCoreGemmSpec& s) {
  Dims dims{{"P0", 0}, {"K", s.k}, {"GROUPS_X", s.groups_x}};
  if (is_conv(s)) {
    dims.add("CIN", s.in_channels).add("H", s.in_h).add("W", s.in_w).add("COUT", s.out_channels).add("OH", s.out_h);
    dims.add("OW", s.out_w).add("STRIDE", s.stride).add("PAD_T", s.pad_top).add("PAD_L", s.pad_left);
    dims.add("P", tensor_core_rows(s));
  } else {
    dims.add("M", s.m).add("N", s.n);
  }
  add_product_dims(s.out, dims);
  dims.add("PACK_WORDS", static_cast<uint32_t>(pack_words(s)));
  dims.add("I_TILES", i_tiles(s) / s.wi).add("TILES", tile_groups(s)).add("GROUPS", tile_groups(s) * s.splits);
  dims.add("KS", slice_steps(s) * 16).add("C_ROWS", c_rows(s)).add("C_COLS", c_cols(s)).add("SPLITS", s.splits);
  return dims;
}

std::string tensor_core_pack_source(const TensorCoreGemmSpec& s) {
  validate(s);
  uint32_t binding = 0;
  std::string src = bind_tensor("x", s.x, false, binding);
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read_write> packed: array<u32>;\n";
  src += tensor_core_dims(s).declare(binding) + taps(s);
  return src + gather_source(s) + f16_pack_main("d.PACK_WORDS", "d.K / 2u", "d.GROUPS_X");
}

std::string tensor_core_gemm_source(const TensorCoreGemmSpec& s) {
  validate(s);
  const uint32_t ti = tensor_core_ti(s), tj = tensor_core_tj(s);
  const bool split = s.splits > 1, staged = s.chunk > 0, reads_x = !tensor_core_packs(s);
  const std::string left = is_conv(s) ? "weight" : "packed", right = is_conv(s) ? "packed" : "weight";
  std::string src = std::string("enable f16;\n") + (staged ? "enable subgroups;\n" : "") +
                    "enable chromium_experimental_subgroup_matrix;\n";
  // Staged, the operands are copied eight float16 values (a vec4<u32>) at a time; otherwise they
  // are loaded as subgroup matrices straight from storage.
  const std::string operand = staged ? "vec4<u32>" : "f16";
  uint32_t binding = 0;
  if (reads_x) {
    src += bind_tensor("x", s.x, false, binding);
  } else {
    src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read> packed: array<" + operand + ">;\n";
  }
  src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read> weight: array<" + operand + ">;\n";
  if (split) {
    // Partial sums in the range's own coordinates: p0 only where x is read here.
    src += "@group(0) @binding(" + std::to_string(binding++) + ") var<storage, read_write> partial: array<f32>;\n";
  } else {
    src += bind_product_output(s.out, binding);
  }
  src += tensor_core_dims(s).declare(binding) + taps(s);
  // A conv's gathered copies take their pixel's window (conv_window_source) in place of a row.
  const bool windows = reads_x && is_conv(s);
  if (reads_x) src += (windows ? conv_window_source() : gather_source(s)) + f16_pair_source();
  src += "const TI: u32 = " + u32(ti) + ";\nconst TJ: u32 = " + u32(tj) + ";\nconst WI: u32 = " + u32(s.wi) +
         ";\nconst WJ: u32 = " + u32(s.wj) + ";\nconst SG: u32 = " + u32(s.subgroup) + ";\n";
  if (!split) src += write_c(s) + "var<workgroup> staged: array<f32, " + u32(256 * s.wi * s.wj) + ">;\n";
  const std::string declare = each2(ti, tj, [](auto a, auto b) {
    return "  var acc" + a + "_" + b + ": subgroup_matrix_result<f32, 16, 16>;\n";
  });
  // One step of 16 along K: TI tiles of L and TJ of R from `from_left`/`from_right` (pointer, offset
  // of tile 0 and stride), then every product.
  const auto step = [&](const std::string& l_at, const std::string& r_at, const std::string& stride) {
    return each(ti, [&](auto a) {
             return "    let a" + a + " = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(" + l_at + " + " + a +
                    "u * 16u * " + stride + ", " + stride + ");\n";
           }) +
           each(tj, [&](auto b) {
             return "    let b" + b + " = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(" + r_at + " + " +
                    b + "u * 16u * " + stride + ", " + stride + ");\n";
           }) +
           each2(ti, tj, [](auto a, auto b) {
             return "    acc" + a + "_" + b + " = subgroupMatrixMultiplyAccumulate(a" + a + ", b" + b + ", acc" + a + "_" + b +
                    ");\n";
           });
  };
  // This subgroup's C tiles start at row ci, column cj. Split: the partial sums straight to the
  // scratch. Whole: a tile at a time through the subgroup's 1 KiB of workgroup memory.
  const std::string store = each2(ti, tj, [&](auto a, auto b) {
    const std::string acc = "acc" + a + "_" + b, i = "ci + " + a + "u * 16u", j = "cj + " + b + "u * 16u";
    if (split)
      return "  subgroupMatrixStore<row_major>(&partial, split * d.C_ROWS * d.C_COLS + (" + i + ") * d.C_COLS + " + j + ", " + acc +
             ", d.C_COLS);\n";
    return "  subgroupMatrixStore<row_major>(&staged, own, " + acc + ", 16u);\n  workgroupBarrier();\n"
           "  for (var e = lane; e < 256u; e += SG) { write_c(" + i + " + e / 16u, " + j + " + e % 16u, staged[own + e]); }\n"
           "  workgroupBarrier();\n";
  });
  // Every subgroup-matrix offset derives from workgroup_id and subgroup_id: they must be
  // subgroup-uniform.
  const std::string prologue = R"(  let index = wg.x + wg.y * d.GROUPS_X;
  if (index >= d.GROUPS) { return; }
  let tile = index % d.TILES;
  let split = index / d.TILES;
  let k_begin = split * d.KS;
  let k_end = min(d.K, k_begin + d.KS);
)";
  if (!staged) {
    return src + R"(@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
)" + prologue + R"(  let ci = tile % d.I_TILES * TI * 16u;
  let cj = tile / d.I_TILES * TJ * 16u;
  let own = 0u;
)" + declare + R"(  for (var k = k_begin; k < k_end; k += 16u) {
)" + step("&" + left + ", ci * d.K + k", "&" + right + ", cj * d.K + k", "d.K") + "  }\n" + store + "}\n";
  }
  const uint32_t threads = s.wi * s.wj * s.subgroup, row_vecs = 2 * s.chunk;  // vec4<u32>s in a row of a chunk
  const uint32_t l_vecs = s.wi * ti * 16 * row_vecs, r_vecs = s.wj * tj * 16 * row_vecs;
  src += "const KC: u32 = " + u32(16 * s.chunk) + ";\nconst LDS: u32 = " + u32(staged_stride(s)) + ";\nconst ROW_VECS: u32 = " +
         u32(row_vecs) + ";\nconst THREADS: u32 = " + u32(threads) + ";\n";
  src += "var<workgroup> sl: array<f16, " + u32(s.wi * ti * 16 * staged_stride(s)) + ">;\n";
  src += "var<workgroup> sr: array<f16, " + u32(s.wj * tj * 16 * staged_stride(s)) + ">;\n";
  // Copy e of a chunk: row e / ROW_VECS of the workgroup's rows, eight values at (e % ROW_VECS) · 8.
  // The activation operand is gathered from x and rounded as the pack kernel would, or read from
  // the packed matrix.
  for (const auto& [side, rows0] : {std::pair<std::string, std::string>{"l", left}, {"r", right}}) {
    const bool gathers = rows0 == "packed" && reads_x;
    src += "fn get_" + side + (gathers && windows ? "(w: Window" : "(row0: u32") + ", e: u32, k: u32) -> vec4<u32> {\n";
    if (!gathers) {
      src += "  return " + rows0 + "[((row0 + e / ROW_VECS) * d.K + k) / 8u + e % ROW_VECS];\n}\n";
    } else if (windows) {
      src += "  return gather8(w, k + e % ROW_VECS * 8u);\n}\n";
    } else {
      std::string words;
      for (int w = 0; w < 4; ++w) {
        const std::string at = "c + " + std::to_string(2 * w) + "u";
        words += std::string(w ? ", " : "") + "f16_pair(gather(r, " + at + "), gather(r, " + at + " + 1u))";
      }
      src += "  let r = row0 + e / ROW_VECS;\n  let c = k + e % ROW_VECS * 8u;\n  return vec4<u32>(" + words + ");\n}\n";
    }
    src += "fn put_" + side + "(e: u32, v: vec4<u32>) {\n  let o = e / ROW_VECS * LDS + e % ROW_VECS * 8u;\n";
    for (int c = 0; c < 4; ++c) {
      const std::string h = "bitcast<vec2<f16>>(v[" + std::to_string(c) + "])";
      src += "  s" + side + "[o + " + u32(2 * c) + "] = " + h + ".x;\n  s" + side + "[o + " + u32(2 * c + 1) + "] = " + h + ".y;\n";
    }
    src += "}\n";
  }
  // Each invocation's share of a chunk's copies, in registers.
  const auto slots = [&](const std::string& side, uint32_t vecs, const std::string& row0, bool window) {
    struct Slots { std::string declare, fetch, put; } out;
    for (uint32_t n = 0; n * threads < vecs; ++n) {
      const std::string reg = side + "_" + std::to_string(n), e = "t + " + u32(n * threads);
      const std::string guard = (n + 1) * threads > vecs ? "if (" + e + " < " + u32(vecs) + ") " : "";
      out.declare += "  var " + reg + " = vec4<u32>();\n";
      std::string first = row0;
      if (window) {
        first = "w_" + std::to_string(n);
        out.declare += "  let " + first + " = pixel_of(" + row0 + " + (" + e + ") / ROW_VECS);\n";
      }
      out.fetch += "    " + guard + "{ " + reg + " = get_" + side + "(" + first + ", " + e + ", kf); }\n";
      out.put += "    " + guard + "{ put_" + side + "(" + e + ", " + reg + "); }\n";
    }
    return out;
  };
  const auto l = slots("l", l_vecs, "i0", false), r = slots("r", r_vecs, "j0", windows);
  const std::string fetch = l.fetch + r.fetch;
  std::string steps;
  for (uint32_t kk = 0; kk < s.chunk; ++kk) {
    steps += "    {\n" + step("&sl, si * LDS + " + u32(16 * kk), "&sr, sj * LDS + " + u32(16 * kk), "LDS") + "    }\n";
  }
  return src + R"(@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(subgroup_id) sub: u32, @builtin(subgroup_invocation_id) lane: u32) {
)" + prologue + R"(  let i0 = tile % d.I_TILES * WI * TI * 16u;
  let j0 = tile / d.I_TILES * WJ * TJ * 16u;
  let si = sub % WI * TI * 16u;
  let sj = sub / WI * TJ * 16u;
  let ci = i0 + si;
  let cj = j0 + sj;
  let own = sub * 256u;
)" + declare + l.declare + r.declare + "  var kf = k_begin;\n  {\n" + fetch + R"(  }
  for (var k = k_begin; k < k_end; k += KC) {
    workgroupBarrier();
)" + l.put + r.put + R"(    workgroupBarrier();
    kf = k + KC;
    if (kf < k_end) {
)" + fetch + "    }\n" + steps + "  }\n" + store + "}\n";
}

std::string tensor_core_reduce_source(const TensorCoreGemmSpec& s) {
  validate(s);
  std::string src = "@group(0) @binding(0) var<storage, read> partial: array<f32>;\n";
  uint32_t binding = 1;
  src += bind_product_output(s.out, binding);
  src += tensor_core_dims(s).declare(binding) + taps(s);
  src += write_c(s);
  src += R"(@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = (wg.x + wg.y * d.GROUPS_X) * 256u + t;
  if (e >= d.C_ROWS * d.C_COLS) { return; }
  var v = 0.0;
  for (var s = 0u; s < d.SPLITS; s++) { v += partial[s * d.C_ROWS * d.C_COLS + e]; }
  write_c(e / d.C_COLS, e % d.C_COLS, v);
}
)";
  return src;
}

}  // namespace websd::wgsl
