#include "backend/op_cases.h"

#include <cmath>
#include <random>
#include <utility>

#include "core/half.h"

namespace websd::op_cases {
namespace {

using Inputs = std::span<const Tensor>;

uint32_t seed_of(const std::string& name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  return h;
}

double numel(const Shape& s) { return static_cast<double>(websd::numel(s)); }

// A product of depth k with activations up to |x| and weights (float16-exact) up to |w| on the
// tensor cores: each activation is rounded to float16 (relative error ≤ 2^-11, spread evenly), so
// each sum drifts by a random walk of standard deviation ≈ 0.2·2^-11·√k·|x|·|w|; allow ten of them.
double f16_product_tol(int64_t k, double x_max, double w_max) {
  return std::ldexp(1.0, -10) * std::sqrt(static_cast<double>(k)) * x_max * w_max;
}

OpCase linear(Shape x, int64_t n, bool bias, std::string note = "") {
  const int64_t k = x.back();
  const double flops = 2 * numel(x) * static_cast<double>(n);
  std::string name = "linear " + shape_str(x) + " x [" + std::to_string(n) + "," + std::to_string(k) + "]" +
                     (bias ? " + bias" : "") + note;
  std::vector<Input> in{{x}, {{n, k}, -1, 1, true}};
  if (bias) in.push_back({{n}, -1, 1, true});
  OpCase c{"linear", std::move(name), std::move(in),
           [bias](Backend& b, Inputs t) { return b.linear(t[0], t[1], bias ? &t[2] : nullptr); }, 1e-5, true, flops};
  c.f16_tol = f16_product_tol(k, 1, 1);
  return c;
}

OpCase conv(Shape x, int64_t cout, int64_t k, bool bias, Conv2dParams p, std::string note = "") {
  const int64_t oh = (x[2] + p.pad_top + p.pad_bottom - k) / p.stride + 1;
  const int64_t ow = (x[3] + p.pad_left + p.pad_right - k) / p.stride + 1;
  const double flops = 2.0 * static_cast<double>(x[0] * cout * oh * ow * x[1] * k * k);
  std::string name = "conv2d " + std::to_string(k) + "x" + std::to_string(k) + " stride " + std::to_string(p.stride) +
                     " pad (" + std::to_string(p.pad_top) + "," + std::to_string(p.pad_bottom) + "," +
                     std::to_string(p.pad_left) + "," + std::to_string(p.pad_right) + ") " + shape_str(x) + " -> " +
                     std::to_string(cout) + (bias ? " + bias" : "") + note;
  std::vector<Input> in{{x, -2, 2}, {{cout, x[1], k, k}, -0.5, 0.5, true}};
  if (bias) in.push_back({{cout}, -1, 1, true});
  OpCase c{"conv2d", std::move(name), std::move(in),
           [bias, p](Backend& b, Inputs t) { return b.conv2d(t[0], t[1], bias ? &t[2] : nullptr, p); }, 1e-5, true, flops};
  c.f16_tol = f16_product_tol(x[1] * k * k, 2, 0.5);
  return c;
}

// A linear layer with its epilogue: the tokens [N, h·w, n] written as the image [N, n, h, w] when h
// is set, a residual of the output's shape added when asked.
OpCase linear_epilogue(Shape x, int64_t n, int64_t h, int64_t w, bool residual) {
  OpCase c = linear(x, n, true);
  Shape out = x;
  out.back() = n;
  if (h) out = {x[0], n, h, w};
  c.name += (h ? " as a " + std::to_string(h) + "x" + std::to_string(w) + " image" : "") + (residual ? " + residual" : "");
  if (residual) c.inputs.push_back({out, -4, 4});
  c.run = [h, w, residual](Backend& b, Inputs t) { return b.linear(t[0], t[1], &t[2], {h, w, residual ? &t[3] : nullptr}); };
  return c;
}

// A linear layer reading geglu(x): x [..., 2k].
OpCase linear_geglu(Shape x, int64_t n, const std::string& note = "") {
  const int64_t k = x.back() / 2;
  Shape product = x;
  product.back() = k;
  OpCase c = linear(product, n, true, " reading geglu of " + shape_str(x) + note);
  c.inputs[0] = {x, -3, 3};
  c.run = [](Backend& b, Inputs t) { return b.linear(t[0], t[1], &t[2], {.geglu = true}); };
  c.f16_tol = f16_product_tol(k, 9, 1);  // |a · gelu(g)| ≤ 9
  return c;
}

// A conv2d with a residual, or a per-channel add (the time embedding) as well.
OpCase conv_fused(Shape x, int64_t cout, bool channel_add) {
  OpCase c = conv(x, cout, 3, true, Conv2dParams::same(1), channel_add ? " + per-channel add + residual" : " + residual");
  c.inputs.push_back({{x[0], cout, x[2], x[3]}, -4, 4});
  if (channel_add) c.inputs.push_back({{x[0], cout}, -2, 2});
  c.run = [channel_add](Backend& b, Inputs t) {
    return b.conv2d(t[0], t[1], &t[2], Conv2dParams::same(1), {.residual = &t[3], .channel_add = channel_add ? &t[4] : nullptr});
  };
  return c;
}

OpCase attention(Shape q, Shape kv, int heads, bool causal, std::string note = "", int64_t v_channels = 0) {
  Shape v = kv;
  if (v_channels) v.back() = v_channels;
  const double flops = 2 * numel(q) * static_cast<double>(kv[1]) + 2 * numel(q) / static_cast<double>(q.back()) *
                                                                         static_cast<double>(kv[1] * v.back());
  std::string name = "attention " + shape_str(q) + " x " + shape_str(kv) + (v_channels ? ", values " + shape_str(v) : "") +
                     ", " + std::to_string(heads) + " heads" + (causal ? ", causal" : "") + note;
  OpCase c{"attention", std::move(name), {{q, -3, 3}, {kv, -1, 1}, {v, -2, 2}},
           [heads, causal](Backend& b, Inputs t) { return b.attention(t[0], t[1], t[2], heads, causal); }, 1e-5, true,
           flops};
  // On the tensor cores q, k, v and the probabilities are float16: a score is off by about
  // 2^-10·|q|·|k| (scaled by 1/√D, its √D terms' drift cancels), its probability by that relative,
  // the output by that times |v|, plus |v|'s own rounding.
  c.f16_tol = std::ldexp(1.0, -9) * (3 * 1 + 1) * 2;
  return c;
}

OpCase group_norm(Shape x, int groups, bool silu, float lo = -3, float hi = 3, bool weights = true,
                  std::string note = "") {
  const int64_t c = x[1];
  std::string name = "group_norm " + shape_str(x) + " " + std::to_string(groups) + " groups" + (silu ? " + silu" : "") + note;
  return {"group_norm", std::move(name), {{x, lo, hi}, {{c}, 0.5, 1.5, weights}, {{c}, -1, 1, weights}},
          [groups, silu](Backend& b, Inputs t) { return b.group_norm(t[0], t[1], t[2], groups, 1e-5f, silu); }};
}

OpCase layer_norm(Shape x, bool weights) {
  const int64_t c = x.back();
  return {"layer_norm", "layer_norm " + shape_str(x) + (weights ? ", f16 weights" : ""),
          {{x, -3, 3}, {{c}, 0.5, 1.5, weights}, {{c}, -1, 1, weights}},
          [](Backend& b, Inputs t) { return b.layer_norm(t[0], t[1], t[2], 1e-5f); }};
}

OpCase unary(UnaryOp op, const char* op_name, Shape x, double tol, bool relative) {
  return {"unary", std::string("unary ") + op_name + " " + shape_str(x), {{x, -8, 8}},
          [op](Backend& b, Inputs t) { return b.unary(t[0], op); }, tol, relative};
}

OpCase add(Shape a, Shape b) {
  return {"add", "add " + shape_str(a) + " + " + shape_str(b), {{a, -4, 4}, {b, -4, 4}},
          [](Backend& be, Inputs t) { return be.add(t[0], t[1]); }};
}

OpCase upsample(Shape x, int64_t h, int64_t w) {
  return {"upsample_nearest", "upsample_nearest " + shape_str(x) + " -> " + std::to_string(h) + "x" + std::to_string(w),
          {{x, -3, 3}}, [h, w](Backend& b, Inputs t) { return b.upsample_nearest(t[0], h, w); }, 0, false};
}

std::vector<OpCase> make_cases() {
  std::vector<OpCase> c;
  // Elementwise over a million values: grids of thousands of workgroups.
  c.push_back(unary(UnaryOp::SiLU, "silu", {1000003}, 1e-5, true));
  c.push_back(unary(UnaryOp::GELU, "gelu(erf)", {1000003}, 1e-6, false));
  c.push_back(unary(UnaryOp::QuickGELU, "quick_gelu", {1000003}, 1e-5, true));
  c.push_back({"scale", "scale [1000003]", {{{1000003}, -8, 8}}, [](Backend& b, Inputs t) { return b.scale(t[0], -0.37f); }});
  c.push_back(add({1000003}, {1000003}));
  c.push_back(add({5, 3, 17}, {3, 17}));
  c.push_back({"add_channel", "add_channel [2,64,17,13] + [2,64]", {{{2, 64, 17, 13}, -3, 3}, {{2, 64}, -2, 2}},
               [](Backend& b, Inputs t) { return b.add_channel(t[0], t[1]); }});
  c.push_back({"geglu", "geglu [3,7,90]", {{{3, 7, 90}, -5, 5}}, [](Backend& b, Inputs t) { return b.geglu(t[0]); }});

  c.push_back(linear({3, 37, 53}, 29, true));
  c.push_back(linear({3, 37, 53}, 29, false));
  c.push_back(linear({300, 129}, 65, false));
  c.push_back(linear({1, 9, 53}, 300, true, " (thin tiles: 16 rows x 256 outputs)"));
  c.push_back(linear({20, 37}, 130, false, " (tiles of 32 rows x 128 outputs)"));
  // Shapes the tensor-core kernels take (K and N whole 16s): ragged rows, column tiles of 4, 2, 1.
  c.push_back(linear({3, 97, 64}, 96, true));
  c.push_back(linear({2, 177, 48}, 48, false));
  c.push_back(linear({1, 300, 320}, 320, true));
  c.push_back(linear({2, 128, 32}, 80, true, " (four subgroups along the rows)"));
  c.push_back(linear_epilogue({2, 221, 33}, 29, 0, 0, true));
  c.push_back(linear_epilogue({2, 221, 48}, 32, 17, 13, true));
  c.push_back(linear_epilogue({1, 300, 64}, 48, 20, 15, false));
  c.push_back(linear_geglu({2, 37, 106}, 29));
  c.push_back(linear_geglu({2, 77, 128}, 48));

  c.push_back({"nchw_to_nlc", "nchw_to_nlc [2,64,17,13]", {{{2, 64, 17, 13}, -3, 3}},
               [](Backend& b, Inputs t) { return b.nchw_to_nlc(t[0]); }, 0, false});
  c.push_back({"nlc_to_nchw", "nlc_to_nchw [2,221,33] -> 17x13", {{{2, 17 * 13, 33}, -3, 3}},
               [](Backend& b, Inputs t) { return b.nlc_to_nchw(t[0], 17, 13); }, 0, false});
  c.push_back(upsample({2, 5, 17, 13}, 34, 26));
  c.push_back(upsample({2, 5, 17, 13}, 23, 40));
  c.push_back(upsample({2, 5, 17, 13}, 7, 5));
  c.push_back({"concat_channels", "concat_channels [2,64,17,13] + [2,5,17,13]", {{{2, 64, 17, 13}, -3, 3}, {{2, 5, 17, 13}, -3, 3}},
               [](Backend& b, Inputs t) { return b.concat_channels(t[0], t[1]); }, 0, false});
  c.push_back({"embedding", "embedding [1100,33] x 8 ids", {{{1100, 33}, -3, 3, true}},
               [](Backend& b, Inputs t) {
                 static const std::vector<int> ids{0, 1099, 7, 7, 13, 1, 30, 993};
                 return b.embedding(t[0], ids);
               }, 0, false});

  c.push_back(group_norm({2, 64, 17, 13}, 32, false));
  c.push_back(group_norm({2, 64, 17, 13}, 32, true));
  c.push_back(group_norm({40, 64, 5}, 32, true, -2, 2, false));
  // A large mean against a small spread (the VAE's activations). Both backends round the mean to
  // float32 once; where the exact mean is within a rounding error of a tie the two may round to
  // neighbours, one ulp of 40 (2^-18) apart, which y carries times γ/σ (≤ 1.5 / 0.29); half as much
  // again for the other roundings.
  const double mean40_tol = std::ldexp(1.0, -18) * 1.5 / 0.288 * 1.5;
  OpCase mean40 = group_norm({1, 8, 33, 29}, 4, false, 39.5, 40.5, false, ", mean 40");
  mean40.tol = mean40_tol;
  c.push_back(mean40);
  // Rows long enough to split into chunks (kernels/norm.h): a chunk's channels and weights, and the
  // merge of the chunks' statistics against a large mean as above.
  c.push_back(group_norm({1, 64, 47, 45}, 32, true, -3, 3, true, ", in chunks"));
  OpCase mean40_chunks = group_norm({1, 64, 47, 45}, 32, true, 39.5, 40.5, false, ", mean 40, in chunks");
  mean40_chunks.tol = mean40_tol;
  c.push_back(mean40_chunks);
  // In place (x handed over as its only reference), whole rows and in chunks: a copy of x (times
  // 1, exact) is the op's to overwrite.
  for (Shape x : {Shape{2, 64, 17, 13}, Shape{1, 64, 47, 45}}) {
    OpCase in_place = group_norm(x, 32, true, -3, 3, true, ", in place");
    in_place.run = [](Backend& b, Inputs t) { return b.group_norm(b.scale(t[0], 1.0f), t[1], t[2], 32, 1e-5f, true); };
    c.push_back(in_place);
  }
  c.push_back(layer_norm({3, 77, 33}, false));
  c.push_back(layer_norm({5, 1031}, true));

  c.push_back(conv({2, 13, 17, 23}, 29, 3, true, Conv2dParams::same(1)));
  c.push_back(conv({2, 13, 17, 23}, 29, 3, false, Conv2dParams::same(1)));
  c.push_back(conv({2, 13, 17, 23}, 29, 1, true, {}));
  c.push_back(conv({2, 13, 17, 23}, 70, 3, true, {2, 0, 1, 0, 1}));
  c.push_back(conv({2, 13, 17, 23}, 29, 3, false, Conv2dParams::same(1, 2)));
  c.push_back(conv({2, 4, 32, 32}, 320, 3, true, Conv2dParams::same(1), " (conv_in)"));
  c.push_back(conv({1, 32, 19, 21}, 3, 3, true, Conv2dParams::same(1), " (conv_out)"));
  c.push_back(conv({1, 64, 9, 11}, 40, 3, true, Conv2dParams::same(1)));
  // Shapes the tensor-core kernels take (Cin·kh·kw and Cout whole 16s): row tiles of 1, 4 and 2.
  c.push_back(conv({2, 16, 17, 13}, 48, 3, true, Conv2dParams::same(1)));
  c.push_back(conv({2, 32, 17, 23}, 64, 3, false, Conv2dParams::same(1, 2)));
  c.push_back(conv({1, 32, 9, 11}, 32, 1, true, {}));
  c.push_back(conv({2, 16, 17, 23}, 32, 3, true, {2, 0, 1, 0, 1}));
  c.push_back(conv({1, 16, 16, 16}, 80, 3, true, Conv2dParams::same(1), " (four subgroups along the pixels)"));
  c.push_back(conv_fused({2, 13, 17, 23}, 29, false));
  c.push_back(conv_fused({2, 16, 17, 13}, 48, false));
  c.push_back(conv_fused({2, 13, 17, 23}, 29, true));
  c.push_back(conv_fused({2, 16, 17, 13}, 48, true));

  c.push_back(attention({1, 37, 40}, {1, 37, 40}, 1, false, " (self)"));
  c.push_back(attention({2, 333, 160}, {2, 77, 160}, 2, false));
  c.push_back(attention({2, 257, 320}, {2, 77, 320}, 8, false));
  c.push_back(attention({1, 37, 1280}, {1, 77, 1280}, 8, false));
  c.push_back(attention({1, 257, 512}, {1, 257, 512}, 1, false, " (VAE)"));
  c.push_back(attention({2, 77, 768}, {2, 77, 768}, 12, true, " (CLIP)"));
  c.push_back(attention({2, 1, 128}, {2, 77, 128}, 2, false));
  c.push_back(attention({1, 37, 80}, {1, 77, 80}, 2, false, "", 160));
  c.push_back(attention({1, 300, 40}, {1, 300, 40}, 1, false));
  OpCase latents = attention({1, 4096, 40}, {1, 4096, 40}, 1, false, " (64x64 latents)");
  latents.wrap = latents.split = false;  // the same paths as the smaller cases, at a size SwiftShader runs slowly
  c.push_back(std::move(latents));
  return c;
}

std::vector<OpCase> make_perf_cases() {
  std::vector<OpCase> c;
  const auto same = Conv2dParams::same(1);
  // SD 1.5, 64×64 latents, batch 2.
  c.push_back(linear({2, 4096, 320}, 320, true, " (SD 1.5 attention projection)"));
  c.push_back(linear({2, 4096, 320}, 2560, true, " (SD 1.5 GEGLU)"));
  c.push_back(linear_geglu({2, 4096, 2560}, 320, " (SD 1.5 feed-forward out)"));
  c.push_back(linear({2, 77, 768}, 320, false, " (SD 1.5 cross-attention keys)"));
  c.push_back(conv({2, 320, 64, 64}, 320, 3, true, same, " (SD 1.5 UNet level 1)"));
  c.push_back(conv({2, 640, 32, 32}, 640, 3, true, same, " (SD 1.5 UNet level 2)"));
  c.push_back(conv({2, 1280, 16, 16}, 1280, 3, true, same, " (SD 1.5 UNet level 3)"));
  c.push_back(conv({2, 1280, 8, 8}, 1280, 3, true, same, " (SD 1.5 UNet level 4)"));
  c.push_back(attention({2, 4096, 320}, {2, 4096, 320}, 8, false, " (SD 1.5 self)"));
  c.push_back(attention({2, 4096, 320}, {2, 77, 320}, 8, false, " (SD 1.5 cross)"));
  c.push_back(group_norm({2, 320, 64, 64}, 32, true));
  c.push_back(layer_norm({2, 4096, 320}, true));
  c.push_back({"geglu", "geglu [2,4096,2560]", {{{2, 4096, 2560}, -5, 5}}, [](Backend& b, Inputs t) { return b.geglu(t[0]); }});
  c.push_back(add({2, 320, 64, 64}, {2, 320, 64, 64}));
  // The VAE decoder at 512×512.
  c.push_back(conv({1, 512, 64, 64}, 512, 3, true, same, " (VAE 64x64)"));
  c.push_back(conv({1, 256, 256, 256}, 256, 3, true, same, " (VAE 256x256)"));
  c.push_back(conv({1, 128, 512, 512}, 128, 3, true, same, " (VAE 512x512)"));
  c.push_back(attention({1, 4096, 512}, {1, 4096, 512}, 1, false, " (VAE mid-block)"));
  c.push_back(group_norm({1, 128, 512, 512}, 32, true));
  // The same decoder at 1024×1024 (SDXL): its last two levels.
  c.push_back(conv({1, 256, 512, 512}, 256, 3, true, same, " (VAE 512x512, SDXL)"));
  c.push_back(conv({1, 128, 1024, 1024}, 128, 3, true, same, " (VAE 1024x1024, SDXL)"));
  c.push_back(attention({1, 16384, 512}, {1, 16384, 512}, 1, false, " (VAE mid-block, SDXL)"));
  // SDXL, 128×128 latents, batch 2: transformers at 64×64 and 32×32, heads of 64.
  c.push_back(linear({2, 4096, 640}, 640, true, " (SDXL attention projection)"));
  c.push_back(linear({2, 1024, 1280}, 10240, true, " (SDXL GEGLU)"));
  c.push_back(linear_geglu({2, 1024, 10240}, 1280, " (SDXL feed-forward out)"));
  c.push_back(conv({2, 640, 64, 64}, 640, 3, true, same, " (SDXL UNet level 2)"));
  c.push_back(conv({2, 1280, 32, 32}, 1280, 3, true, same, " (SDXL UNet level 3)"));
  c.push_back(attention({2, 4096, 640}, {2, 4096, 640}, 10, false, " (SDXL self)"));
  c.push_back(attention({2, 1024, 1280}, {2, 1024, 1280}, 20, false, " (SDXL self)"));
  c.push_back(attention({2, 4096, 640}, {2, 77, 640}, 10, false, " (SDXL cross)"));
  return c;
}

}  // namespace

const std::vector<OpCase>& cases() {
  static const std::vector<OpCase> all = make_cases();
  return all;
}

const std::vector<OpCase>& perf_cases() {
  static const std::vector<OpCase> all = make_perf_cases();
  return all;
}

std::vector<HostTensor> make_inputs(const OpCase& c) {
  std::mt19937 gen(seed_of(c.name));
  std::vector<HostTensor> out;
  for (const Input& in : c.inputs) {
    std::uniform_real_distribution<float> d(in.lo, in.hi);
    HostTensor t(in.shape);
    for (float& v : t.data) v = in.weight ? f16_to_f32(f32_to_f16(d(gen))) : d(gen);
    out.push_back(std::move(t));
  }
  return out;
}

Tensor run(Backend& backend, const OpCase& c, const std::vector<HostTensor>& inputs) {
  std::vector<Tensor> t;
  for (size_t i = 0; i < inputs.size(); ++i) {
    t.push_back(c.inputs[i].weight ? backend.upload_weight(inputs[i].shape, inputs[i].data) : backend.upload(inputs[i]));
  }
  return c.run(backend, t);
}

}  // namespace websd::op_cases
