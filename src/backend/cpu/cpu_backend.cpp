// Shape checks (op_shapes.h) and allocation; the arithmetic lives in the kernels (kernels.h, sgemm.h).
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "backend/cpu/kernels.h"
#include "backend/cpu/sgemm.h"
#include "backend/op_shapes.h"
#include "core/error.h"

namespace websd {
namespace {

struct CpuBuffer : DeviceBuffer {
  // Left uninitialised: every kernel writes all of its output, so zero-filling would be a wasted pass.
  // (new float[n] rather than make_unique_for_overwrite, which Emscripten 3.1.6's libc++ lacks.)
  CpuBuffer(int64_t n, std::shared_ptr<CpuBackend::Accounting> acc)
      : data(new float[static_cast<size_t>(n)]), size(n), accounting(std::move(acc)) {
    accounting->allocated += bytes();
    const int64_t live = accounting->live += bytes();
    int64_t peak = accounting->peak;
    while (live > peak && !accounting->peak.compare_exchange_weak(peak, live)) {
    }
  }
  ~CpuBuffer() override { accounting->live -= bytes(); }
  CpuBuffer(const CpuBuffer&) = delete;
  CpuBuffer& operator=(const CpuBuffer&) = delete;
  int64_t bytes() const { return size * static_cast<int64_t>(sizeof(float)); }

  std::unique_ptr<float[]> data;
  int64_t size;
  std::shared_ptr<CpuBackend::Accounting> accounting;
};

const float* in(const Tensor& t) {
  auto* b = dynamic_cast<CpuBuffer*>(t.buffer.get());
  if (!b) throw Error("cpu backend: tensor " + shape_str(t.shape) + " does not live on the cpu backend");
  if (b->size != t.numel())
    throw Error("cpu backend: tensor " + shape_str(t.shape) + " has " + std::to_string(b->size) + " values");
  return b->data.get();
}

float* out(Tensor& t) { return static_cast<CpuBuffer*>(t.buffer.get())->data.get(); }

// The per-channel add, then the residual, added into the product's own output (no second tensor).
void add_fused(Tensor& y, const Fusion& e) {
  float* p = out(y);
  if (e.channel_add) {
    const float* v = in(*e.channel_add);
    const int64_t planes = y.dim(0) * y.dim(1), pixels = y.numel() / std::max<int64_t>(planes, 1);
    for (int64_t plane = 0; plane < planes; ++plane)
      for (int64_t i = 0; i < pixels; ++i) p[plane * pixels + i] += v[plane];
  }
  if (e.residual) {
    const float* r = in(*e.residual);
    for (int64_t i = 0; i < y.numel(); ++i) p[i] += r[i];
  }
}

}  // namespace

CpuBackend::CpuBackend() : accounting_(std::make_shared<Accounting>()) {}

// Every op makes exactly one output, so counting outputs counts kernels.
Tensor CpuBackend::make(const Shape& shape) {
  ++accounting_->ops;
  return Tensor{shape, std::make_shared<CpuBuffer>(numel(shape), accounting_)};
}

BackendStats CpuBackend::stats() const {
  return {accounting_->ops.load(), accounting_->live.load(), accounting_->peak.load()};
}

Tensor CpuBackend::upload(const Shape& shape, std::span<const float> data) {
  check_upload(name(), shape, data.size());
  Tensor t{shape, std::make_shared<CpuBuffer>(numel(shape), accounting_)};
  std::copy(data.begin(), data.end(), out(t));
  return t;
}

std::vector<float> CpuBackend::download(const Tensor& t) {
  const float* p = in(t);
  return std::vector<float>(p, p + t.numel());
}

// A geglu input is made first (the product's reads are blocked and repeated: computing gelu in them
// would repeat it); the residual and the image layout are done in the product's own output.
Tensor CpuBackend::linear(const Tensor& x_in, const Tensor& w, const Tensor* b, const Fusion& e) {
  const Shape os = linear_shape(name(), x_in, w, b, e);
  const Tensor x = e.geglu ? geglu(x_in) : x_in;
  Tensor y = make(os);
  const int64_t K = x.shape.back(), N = w.dim(0), M = numel(Shape(x.shape.begin(), x.shape.end() - 1));
  const float* bias = b ? in(*b) : nullptr;
  if (e.image()) {
    // Each image's Y [N, h·w] = W · Xᵀ: B(k, token) = X[token, k], a transposed view of its tokens.
    const int64_t tokens = e.image_h * e.image_w;
    for (int64_t image = 0; image < x.dim(0); ++image)
      cpu::sgemm(N, tokens, K, in(w), K, cpu::StridedB(in(x) + image * tokens * K, 1, K),
                 cpu::GemmOut{out(y) + image * N * tokens, tokens, false, bias, nullptr});
  } else {
    // Y = X · Wᵀ: B(k, n) = W[n, k], a transposed view of the weight.
    cpu::sgemm(M, N, K, in(x), K, cpu::StridedB(in(w), 1, K), cpu::GemmOut{out(y), N, false, nullptr, bias});
  }
  add_fused(y, e);
  return y;
}

Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, const Fusion& e) {
  const ConvGeometry g = conv2d_geometry(name(), x, w, b, p, e);
  Tensor y = make(g.output_shape());
  cpu::conv2d(g, in(x), in(w), b ? in(*b) : nullptr, out(y));
  add_fused(y, e);
  return y;
}

Tensor CpuBackend::group_norm(Tensor x, const Tensor& gamma, const Tensor& beta, int groups, float eps, bool silu) {
  const Shape shape = group_norm_shape(name(), x, gamma, beta, groups);
  // Each group's moments are taken before any of its values is written: in place is the same.
  Tensor y = x.sole_owner() ? x : make(shape);
  const int64_t N = x.dim(0), C = x.dim(1);
  if (x.numel() > 0) cpu::group_norm(in(x), in(gamma), in(beta), out(y), N, C, x.numel() / (N * C), groups, eps, silu);
  return y;
}

Tensor CpuBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  Tensor y = make(layer_norm_shape(name(), x, gamma, beta));
  const int64_t D = x.shape.back();
  if (x.numel() > 0) cpu::layer_norm(in(x), in(gamma), in(beta), out(y), x.numel() / D, D, eps);
  return y;
}

Tensor CpuBackend::unary(const Tensor& x, UnaryOp op) {
  Tensor y = make(x.shape);
  cpu::unary(op, in(x), out(y), x.numel());
  return y;
}

Tensor CpuBackend::add(const Tensor& a, const Tensor& b) {
  Tensor y = make(add_shape(name(), a, b));
  cpu::add_rows(in(a), in(b), out(y), a.numel() / b.numel(), b.numel());
  return y;
}

Tensor CpuBackend::add_channel(const Tensor& x, const Tensor& v) {
  Tensor y = make(add_channel_shape(name(), x, v));
  if (x.numel() > 0) cpu::add_per_row(in(x), in(v), out(y), v.numel(), x.numel() / v.numel());
  return y;
}

Tensor CpuBackend::scale(const Tensor& x, float factor) {
  Tensor y = make(x.shape);
  cpu::scale(in(x), factor, out(y), x.numel());
  return y;
}

Tensor CpuBackend::geglu(const Tensor& x) {
  Tensor y = make(geglu_shape(name(), x));
  if (y.numel() > 0) cpu::geglu(in(x), out(y), y.numel() / y.shape.back(), y.shape.back());
  return y;
}

Tensor CpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  const AttentionGeometry g = attention_geometry(name(), q, k, v, heads, causal);
  Tensor y = make(g.output_shape());
  if (y.numel() == 0) return y;
  cpu::attention(g, in(q), in(k), in(v), out(y));
  return y;
}

Tensor CpuBackend::nchw_to_nlc(const Tensor& x) {
  Tensor y = make(nchw_to_nlc_shape(name(), x));
  cpu::transpose(in(x), out(y), y.dim(0), y.dim(2), y.dim(1));
  return y;
}

Tensor CpuBackend::nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  Tensor y = make(nlc_to_nchw_shape(name(), x, h, w));
  cpu::transpose(in(x), out(y), x.dim(0), h * w, x.dim(2));
  return y;
}

Tensor CpuBackend::upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  Tensor y = make(upsample_nearest_shape(name(), x, out_h, out_w));
  if (y.numel() > 0) cpu::upsample_nearest(in(x), out(y), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), out_h, out_w);
  return y;
}

Tensor CpuBackend::concat_channels(const Tensor& a, const Tensor& b) {
  Tensor y = make(concat_channels_shape(name(), a, b));
  const int64_t N = a.dim(0), sa = N ? a.numel() / N : 0, sb = N ? b.numel() / N : 0;
  const float *A = in(a), *B = in(b);
  float* Y = out(y);
  for (int64_t n = 0; n < N; ++n) {
    std::memcpy(Y + n * (sa + sb), A + n * sa, static_cast<size_t>(sa) * sizeof(float));
    std::memcpy(Y + n * (sa + sb) + sa, B + n * sb, static_cast<size_t>(sb) * sizeof(float));
  }
  return y;
}

Tensor CpuBackend::embedding(const Tensor& table, std::span<const int> ids) {
  Tensor y = make(embedding_shape(name(), table, ids));
  const int64_t C = table.dim(1);
  const float* T = in(table);
  float* Y = out(y);
  for (size_t i = 0; i < ids.size(); ++i)
    std::memcpy(Y + static_cast<int64_t>(i) * C, T + ids[i] * C, static_cast<size_t>(C) * sizeof(float));
  return y;
}

}  // namespace websd
