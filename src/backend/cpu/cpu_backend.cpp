// Shape checks and allocation; the arithmetic lives in the kernels (kernels.h, sgemm.h).
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "backend/cpu/kernels.h"
#include "backend/cpu/sgemm.h"
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

void check(bool ok, const char* op, const std::string& what) {
  if (!ok) throw Error(std::string("cpu backend: ") + op + ": " + what);
}

std::string s(const Tensor& t) { return shape_str(t.shape); }

}  // namespace

CpuBackend::CpuBackend() : accounting_(std::make_shared<Accounting>()) {}

Tensor CpuBackend::make(const Shape& shape) {
  return Tensor{shape, std::make_shared<CpuBuffer>(numel(shape), accounting_)};
}

Tensor CpuBackend::upload(const Shape& shape, std::span<const float> data) {
  check(static_cast<int64_t>(data.size()) == numel(shape), "upload",
        std::to_string(data.size()) + " values do not fill " + shape_str(shape));
  Tensor t = make(shape);
  std::copy(data.begin(), data.end(), out(t));
  return t;
}

std::vector<float> CpuBackend::download(const Tensor& t) {
  const float* p = in(t);
  return std::vector<float>(p, p + t.numel());
}

Tensor CpuBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b) {
  check(!x.shape.empty() && w.shape.size() == 2 && w.dim(1) == x.shape.back(), "linear",
        "weight " + s(w) + " does not match input " + s(x));
  const int64_t K = x.shape.back(), N = w.dim(0), M = numel(Shape(x.shape.begin(), x.shape.end() - 1));
  check(!b || b->numel() == N, "linear", "bias " + (b ? s(*b) : "") + " does not match weight " + s(w));
  Shape os = x.shape;
  os.back() = N;
  Tensor y = make(os);
  // Y = X · Wᵀ: B(k, n) = W[n, k], a transposed view of the weight.
  cpu::sgemm(M, N, K, in(x), K, cpu::StridedB(in(w), 1, K), cpu::GemmOut{out(y), N, false, nullptr, b ? in(*b) : nullptr});
  return y;
}

Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
  check(x.shape.size() == 4 && w.shape.size() == 4 && w.dim(1) == x.dim(1), "conv2d",
        "weight " + s(w) + " does not match input " + s(x));
  check(!b || b->numel() == w.dim(0), "conv2d", "bias " + (b ? s(*b) : "") + " does not match weight " + s(w));
  check(p.stride >= 1 && std::min({p.pad_top, p.pad_bottom, p.pad_left, p.pad_right}) >= 0, "conv2d",
        "stride " + std::to_string(p.stride) + " must be positive and padding non-negative");
  const int64_t H = x.dim(2) + p.pad_top + p.pad_bottom, W = x.dim(3) + p.pad_left + p.pad_right;
  check(H >= w.dim(2) && W >= w.dim(3), "conv2d", "weight " + s(w) + " is larger than the padded input " + s(x));
  const cpu::ConvGeometry g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3),
                            (H - w.dim(2)) / p.stride + 1, (W - w.dim(3)) / p.stride + 1, p};
  Tensor y = make({g.batch, g.out_channels, g.out_h, g.out_w});
  cpu::conv2d(g, in(x), in(w), b ? in(*b) : nullptr, out(y));
  return y;
}

Tensor CpuBackend::group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                              bool silu) {
  check(x.shape.size() >= 2, "group_norm", "input " + s(x) + " has no channel dimension");
  const int64_t N = x.dim(0), C = x.dim(1);
  check(groups >= 1 && C % groups == 0, "group_norm",
        "the " + std::to_string(C) + " channels of " + s(x) + " do not split into " + std::to_string(groups) + " groups");
  check(gamma.numel() == C && beta.numel() == C, "group_norm",
        "gamma " + s(gamma) + " and beta " + s(beta) + " do not match the channels of " + s(x));
  Tensor y = make(x.shape);
  if (x.numel() > 0) cpu::group_norm(in(x), in(gamma), in(beta), out(y), N, C, x.numel() / (N * C), groups, eps, silu);
  return y;
}

Tensor CpuBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  check(!x.shape.empty() && gamma.numel() == x.shape.back() && beta.numel() == x.shape.back(), "layer_norm",
        "gamma " + s(gamma) + " and beta " + s(beta) + " do not match the last dimension of " + s(x));
  const int64_t D = x.shape.back();
  Tensor y = make(x.shape);
  if (x.numel() > 0) cpu::layer_norm(in(x), in(gamma), in(beta), out(y), x.numel() / D, D, eps);
  return y;
}

Tensor CpuBackend::unary(const Tensor& x, UnaryOp op) {
  Tensor y = make(x.shape);
  cpu::unary(op, in(x), out(y), x.numel());
  return y;
}

Tensor CpuBackend::add(const Tensor& a, const Tensor& b) {
  const bool suffix = b.shape.size() <= a.shape.size() && std::equal(b.shape.rbegin(), b.shape.rend(), a.shape.rbegin());
  check(suffix && b.numel() > 0, "add", s(b) + " does not broadcast to " + s(a));
  Tensor y = make(a.shape);
  cpu::add_rows(in(a), in(b), out(y), a.numel() / b.numel(), b.numel());
  return y;
}

Tensor CpuBackend::add_channel(const Tensor& x, const Tensor& v) {
  check(x.shape.size() >= 2 && v.numel() == x.dim(0) * x.dim(1), "add_channel",
        s(v) + " does not match the batch and channels of " + s(x));
  Tensor y = make(x.shape);
  if (x.numel() > 0) cpu::add_per_row(in(x), in(v), out(y), v.numel(), x.numel() / v.numel());
  return y;
}

Tensor CpuBackend::scale(const Tensor& x, float factor) {
  Tensor y = make(x.shape);
  cpu::scale(in(x), factor, out(y), x.numel());
  return y;
}

Tensor CpuBackend::geglu(const Tensor& x) {
  check(!x.shape.empty() && x.shape.back() % 2 == 0, "geglu", "the last dimension of " + s(x) + " is odd");
  Shape os = x.shape;
  os.back() /= 2;
  Tensor y = make(os);
  if (y.numel() > 0) cpu::geglu(in(x), out(y), y.numel() / os.back(), os.back());
  return y;
}

Tensor CpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  check(heads >= 1, "attention", std::to_string(heads) + " heads");
  const bool fits = q.shape.size() == 3 && k.shape.size() == 3 && v.shape.size() == 3 && k.dim(0) == q.dim(0) &&
                    v.dim(0) == q.dim(0) && k.dim(2) == q.dim(2) && v.dim(1) == k.dim(1) && q.dim(2) % heads == 0 &&
                    v.dim(2) % heads == 0;
  check(fits, "attention",
        "q " + s(q) + ", k " + s(k) + " and v " + s(v) + " do not fit " + std::to_string(heads) +
            " heads (batches must agree, q and k have one width and k and v one length, widths split into the heads)");
  const cpu::AttentionGeometry g{q.dim(0), q.dim(1), k.dim(1), q.dim(2), v.dim(2), heads, causal};
  Tensor y = make({g.batch, g.lq, g.value_channels});
  if (y.numel() == 0) return y;
  check(g.lk > 0, "attention", "k " + s(k) + " has no keys to attend to");
  cpu::attention(g, in(q), in(k), in(v), out(y));
  return y;
}

Tensor CpuBackend::nchw_to_nlc(const Tensor& x) {
  check(x.shape.size() == 4, "nchw_to_nlc", "expects [N, C, H, W], got " + s(x));
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2) * x.dim(3);
  Tensor y = make({N, S, C});
  cpu::transpose(in(x), out(y), N, C, S);
  return y;
}

Tensor CpuBackend::nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  check(x.shape.size() == 3 && x.dim(1) == h * w, "nlc_to_nchw",
        s(x) + " is not a sequence of " + std::to_string(h) + "x" + std::to_string(w) + " pixels");
  const int64_t N = x.dim(0), C = x.dim(2);
  Tensor y = make({N, C, h, w});
  cpu::transpose(in(x), out(y), N, h * w, C);
  return y;
}

Tensor CpuBackend::upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  check(x.shape.size() == 4 && out_h >= 1 && out_w >= 1, "upsample_nearest",
        "cannot resize " + s(x) + " to " + std::to_string(out_h) + "x" + std::to_string(out_w));
  Tensor y = make({x.dim(0), x.dim(1), out_h, out_w});
  if (y.numel() > 0) cpu::upsample_nearest(in(x), out(y), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), out_h, out_w);
  return y;
}

Tensor CpuBackend::concat_channels(const Tensor& a, const Tensor& b) {
  const bool fits = a.shape.size() >= 2 && a.shape.size() == b.shape.size() && a.dim(0) == b.dim(0) &&
                    std::equal(a.shape.begin() + 2, a.shape.end(), b.shape.begin() + 2);
  check(fits, "concat_channels", s(a) + " and " + s(b) + " differ outside the channel dimension");
  Shape os = a.shape;
  os[1] += b.dim(1);
  Tensor y = make(os);
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
  check(table.shape.size() == 2, "embedding", "table " + s(table) + " is not [vocabulary, channels]");
  const int64_t V = table.dim(0), C = table.dim(1);
  Tensor y = make({static_cast<int64_t>(ids.size()), C});
  const float* T = in(table);
  float* Y = out(y);
  for (size_t i = 0; i < ids.size(); ++i) {
    check(ids[i] >= 0 && ids[i] < V, "embedding",
          "token id " + std::to_string(ids[i]) + " outside the vocabulary of " + std::to_string(V));
    std::memcpy(Y + static_cast<int64_t>(i) * C, T + ids[i] * C, static_cast<size_t>(C) * sizeof(float));
  }
  return y;
}

}  // namespace websd
