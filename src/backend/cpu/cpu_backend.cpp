#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace websd {
namespace {

struct CpuBuffer : DeviceBuffer {
  std::vector<float> data;
};

Tensor make(const Shape& shape) {
  auto buf = std::make_shared<CpuBuffer>();
  buf->data.resize(static_cast<size_t>(numel(shape)));
  return Tensor{shape, buf};
}

const float* in(const Tensor& t) {
  auto* b = dynamic_cast<CpuBuffer*>(t.buffer.get());
  if (!b) throw Error("cpu backend: tensor " + shape_str(t.shape) + " does not live on the cpu backend");
  return b->data.data();
}

float* out(Tensor& t) { return static_cast<CpuBuffer*>(t.buffer.get())->data.data(); }

void check(bool ok, const char* op, const std::string& what) {
  if (!ok) throw Error(std::string("cpu backend: ") + op + ": " + what);
}

float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

}  // namespace

Tensor CpuBackend::upload(const Shape& shape, std::span<const float> data) {
  check(static_cast<int64_t>(data.size()) == numel(shape), "upload", "data size does not match " + shape_str(shape));
  Tensor t = make(shape);
  std::copy(data.begin(), data.end(), out(t));
  return t;
}

std::vector<float> CpuBackend::download(const Tensor& t) {
  const float* p = in(t);
  return std::vector<float>(p, p + t.numel());
}

Tensor CpuBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t K = x.shape.back(), N = w.dim(0);
  check(w.shape.size() == 2 && w.dim(1) == K, "linear", "weight " + shape_str(w.shape) + " vs input " + shape_str(x.shape));
  const int64_t M = x.numel() / K;
  Shape os = x.shape;
  os.back() = N;
  Tensor y = make(os);
  const float *X = in(x), *W = in(w), *B = b ? in(*b) : nullptr;
  float* Y = out(y);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = X + m * K;
      const float* wr = W + n * K;
      float acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += xr[k] * wr[k];
      Y[m * N + n] = acc + (B ? B[n] : 0.0f);
    }
  return y;
}

Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p) {
  check(x.shape.size() == 4 && w.shape.size() == 4 && w.dim(1) == x.dim(1), "conv2d",
        "weight " + shape_str(w.shape) + " vs input " + shape_str(x.shape));
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t O = w.dim(0), KH = w.dim(2), KW = w.dim(3);
  const int64_t OH = (H + p.pad_top + p.pad_bottom - KH) / p.stride + 1;
  const int64_t OW = (W + p.pad_left + p.pad_right - KW) / p.stride + 1;
  Tensor y = make({N, O, OH, OW});
  const float *X = in(x), *Wt = in(w), *B = b ? in(*b) : nullptr;
  float* Y = out(y);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      float* yp = Y + (n * O + o) * OH * OW;
      for (int64_t i = 0; i < OH * OW; ++i) yp[i] = B ? B[o] : 0.0f;
      for (int64_t c = 0; c < C; ++c) {
        const float* xp = X + (n * C + c) * H * W;
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw) {
            const float wv = Wt[((o * C + c) * KH + kh) * KW + kw];
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * p.stride - p.pad_top + kh;
              if (ih < 0 || ih >= H) continue;
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t iw = ow * p.stride - p.pad_left + kw;
                if (iw < 0 || iw >= W) continue;
                yp[oh * OW + ow] += wv * xp[ih * W + iw];
              }
            }
          }
      }
    }
  return y;
}

Tensor CpuBackend::group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int groups, float eps,
                              bool silu) {
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C);
  check(C % groups == 0, "group_norm", std::to_string(C) + " channels do not split into " + std::to_string(groups) + " groups");
  Tensor y = make(x.shape);
  const float *X = in(x), *G = in(gamma), *Bt = in(beta);
  float* Y = out(y);
  const int64_t cg = C / groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const float* xp = X + (n * C + g * cg) * S;
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < cg * S; ++i) sum += xp[i];
      const double mean = sum / static_cast<double>(cg * S);
      for (int64_t i = 0; i < cg * S; ++i) sq += (xp[i] - mean) * (xp[i] - mean);
      const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(cg * S) + eps));
      for (int64_t c = 0; c < cg; ++c) {
        const int64_t ch = g * cg + c;
        float* yp = Y + (n * C + ch) * S;
        const float* xc = xp + c * S;
        for (int64_t i = 0; i < S; ++i) {
          float v = (xc[i] - static_cast<float>(mean)) * inv * G[ch] + Bt[ch];
          yp[i] = silu ? v / (1.0f + std::exp(-v)) : v;
        }
      }
    }
  return y;
}

Tensor CpuBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  const int64_t D = x.shape.back(), M = x.numel() / D;
  Tensor y = make(x.shape);
  const float *X = in(x), *G = in(gamma), *Bt = in(beta);
  float* Y = out(y);
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = X + m * D;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < D; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(D);
    for (int64_t i = 0; i < D; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(D) + eps));
    for (int64_t i = 0; i < D; ++i) Y[m * D + i] = (xr[i] - static_cast<float>(mean)) * inv * G[i] + Bt[i];
  }
  return y;
}

Tensor CpuBackend::unary(const Tensor& x, UnaryOp op) {
  Tensor y = make(x.shape);
  const float* X = in(x);
  float* Y = out(y);
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float v = X[i];
    switch (op) {
      case UnaryOp::SiLU: Y[i] = v / (1.0f + std::exp(-v)); break;
      case UnaryOp::GELU: Y[i] = gelu(v); break;
      case UnaryOp::QuickGELU: Y[i] = v / (1.0f + std::exp(-1.702f * v)); break;
    }
  }
  return y;
}

Tensor CpuBackend::add(const Tensor& a, const Tensor& b) {
  const int64_t n = a.numel(), m = b.numel();
  bool suffix = b.shape.size() <= a.shape.size() &&
                std::equal(b.shape.rbegin(), b.shape.rend(), a.shape.rbegin());
  check(suffix && m > 0, "add", shape_str(b.shape) + " does not broadcast to " + shape_str(a.shape));
  Tensor y = make(a.shape);
  const float *A = in(a), *B = in(b);
  float* Y = out(y);
  for (int64_t i = 0; i < n; ++i) Y[i] = A[i] + B[i % m];
  return y;
}

Tensor CpuBackend::add_channel(const Tensor& x, const Tensor& v) {
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / (N * C);
  check(v.numel() == N * C, "add_channel", shape_str(v.shape) + " vs " + shape_str(x.shape));
  Tensor y = make(x.shape);
  const float *X = in(x), *V = in(v);
  float* Y = out(y);
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < S; ++i) Y[nc * S + i] = X[nc * S + i] + V[nc];
  return y;
}

Tensor CpuBackend::scale(const Tensor& x, float s) {
  Tensor y = make(x.shape);
  const float* X = in(x);
  float* Y = out(y);
  for (int64_t i = 0; i < x.numel(); ++i) Y[i] = X[i] * s;
  return y;
}

Tensor CpuBackend::geglu(const Tensor& x) {
  const int64_t D2 = x.shape.back(), D = D2 / 2, M = x.numel() / D2;
  Shape os = x.shape;
  os.back() = D;
  Tensor y = make(os);
  const float* X = in(x);
  float* Y = out(y);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < D; ++i) Y[m * D + i] = X[m * D2 + i] * gelu(X[m * D2 + D + i]);
  return y;
}

Tensor CpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  const int64_t B = q.dim(0), Lq = q.dim(1), C = q.dim(2), Lk = k.dim(1), Cv = v.dim(2);
  check(C % heads == 0 && k.dim(2) == C && v.dim(1) == Lk, "attention",
        "q " + shape_str(q.shape) + ", k " + shape_str(k.shape) + ", v " + shape_str(v.shape));
  const int64_t d = C / heads, dv = Cv / heads;
  Tensor y = make({B, Lq, Cv});
  const float *Q = in(q), *K = in(k), *V = in(v);
  float* Y = out(y);
  const float sc = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> s(static_cast<size_t>(Lk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < Lq; ++i) {
        const float* qr = Q + (b * Lq + i) * C + h * d;
        const int64_t len = causal ? std::min(i + 1, Lk) : Lk;
        float mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) {
          const float* kr = K + (b * Lk + j) * C + h * d;
          float acc = 0;
          for (int64_t t = 0; t < d; ++t) acc += qr[t] * kr[t];
          s[j] = acc * sc;
          mx = std::max(mx, s[j]);
        }
        float sum = 0;
        for (int64_t j = 0; j < len; ++j) {
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
        }
        float* yr = Y + (b * Lq + i) * Cv + h * dv;
        for (int64_t t = 0; t < dv; ++t) yr[t] = 0;
        for (int64_t j = 0; j < len; ++j) {
          const float p = s[j] / sum;
          const float* vr = V + (b * Lk + j) * Cv + h * dv;
          for (int64_t t = 0; t < dv; ++t) yr[t] += p * vr[t];
        }
      }
  return y;
}

Tensor CpuBackend::nchw_to_nlc(const Tensor& x) {
  const int64_t N = x.dim(0), C = x.dim(1), S = x.dim(2) * x.dim(3);
  Tensor y = make({N, S, C});
  const float* X = in(x);
  float* Y = out(y);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) Y[(n * S + s) * C + c] = X[(n * C + c) * S + s];
  return y;
}

Tensor CpuBackend::nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  const int64_t N = x.dim(0), S = x.dim(1), C = x.dim(2);
  check(S == h * w, "nlc_to_nchw", shape_str(x.shape) + " is not " + std::to_string(h) + "x" + std::to_string(w));
  Tensor y = make({N, C, h, w});
  const float* X = in(x);
  float* Y = out(y);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t c = 0; c < C; ++c) Y[(n * C + c) * S + s] = X[(n * S + s) * C + c];
  return y;
}

// torch's nearest: source = floor(dst · in/out) with the scale in float32, clamped to the input.
static int64_t nearest_source(int64_t dst, int64_t in_size, int64_t out_size) {
  if (out_size == 2 * in_size) return dst >> 1;
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(dst) * scale)), in_size - 1);
}

Tensor CpuBackend::upsample_nearest(const Tensor& x, int64_t out_h, int64_t out_w) {
  const int64_t NC = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor y = make({x.dim(0), x.dim(1), out_h, out_w});
  const float* X = in(x);
  float* Y = out(y);
  for (int64_t nc = 0; nc < NC; ++nc)
    for (int64_t i = 0; i < out_h; ++i) {
      const float* xr = X + (nc * H + nearest_source(i, H, out_h)) * W;
      for (int64_t j = 0; j < out_w; ++j) Y[(nc * out_h + i) * out_w + j] = xr[nearest_source(j, W, out_w)];
    }
  return y;
}

Tensor CpuBackend::concat_channels(const Tensor& a, const Tensor& b) {
  check(a.dim(0) == b.dim(0) && a.numel() / (a.dim(0) * a.dim(1)) == b.numel() / (b.dim(0) * b.dim(1)),
        "concat_channels", shape_str(a.shape) + " and " + shape_str(b.shape));
  Shape os = a.shape;
  os[1] += b.dim(1);
  Tensor y = make(os);
  const int64_t N = a.dim(0), sa = a.numel() / N, sb = b.numel() / N;
  const float *A = in(a), *B = in(b);
  float* Y = out(y);
  for (int64_t n = 0; n < N; ++n) {
    std::memcpy(Y + n * (sa + sb), A + n * sa, static_cast<size_t>(sa) * 4);
    std::memcpy(Y + n * (sa + sb) + sa, B + n * sb, static_cast<size_t>(sb) * 4);
  }
  return y;
}

Tensor CpuBackend::embedding(const Tensor& table, std::span<const int> ids) {
  const int64_t V = table.dim(0), C = table.dim(1);
  Tensor y = make({static_cast<int64_t>(ids.size()), C});
  const float* T = in(table);
  float* Y = out(y);
  for (size_t i = 0; i < ids.size(); ++i) {
    check(ids[i] >= 0 && ids[i] < V, "embedding", "token id " + std::to_string(ids[i]) + " outside the vocabulary of " + std::to_string(V));
    std::memcpy(Y + static_cast<int64_t>(i) * C, T + ids[i] * C, static_cast<size_t>(C) * 4);
  }
  return y;
}

}  // namespace websd
