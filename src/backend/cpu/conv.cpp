// Convolution as a matrix product per image: weights [out, in·kh·kw] times the image's im2col
// matrix [in·kh·kw, out_h·out_w] gives the output [out, out_h·out_w], already in NCHW order.
#include <algorithm>

#include "backend/cpu/kernels.h"
#include "backend/cpu/sgemm.h"

namespace websd::cpu {
namespace {

// The im2col matrix of one image, built strip by strip as sgemm packs it (a full one would be
// kh·kw times the image: 47 MB for a 3x3 conv over 320 channels at 64x64). Row (c, di, dj) holds,
// for each output pixel, the input pixel under kernel tap (di, dj) of channel c, zero in the padding.
class Im2colB final : public GemmB {
 public:
  Im2colB(const ConvGeometry& g, const float* image) : g_(g), image_(image) {}

  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const override {
    for (int64_t j = 0; j < nc; j += kGemmNR, dst += kc * kGemmNR) {
      // The strip's output pixels fall into runs along one output row, each a strided slice of an
      // input row per tap. Columns past nc are padding.
      int64_t x = 0;
      while (x < kGemmNR && j + x < nc) {
        const int64_t n = n0 + j + x, oh = n / g_.out_w, ow = n % g_.out_w;
        const int64_t len = std::min({kGemmNR - x, g_.out_w - ow, nc - j - x});
        pack_run(k0, kc, oh, ow, len, dst + x);
        x += len;
      }
      for (int64_t k = 0; k < kc; ++k) std::fill(dst + k * kGemmNR + x, dst + (k + 1) * kGemmNR, 0.0f);
    }
  }

 private:
  // Rows [k0, k0 + kc) of the output pixels (oh, ow .. ow + len) into columns of dst (row stride
  // kGemmNR). Taps are walked incrementally rather than divided out per row.
  void pack_run(int64_t k0, int64_t kc, int64_t oh, int64_t ow, int64_t len, float* dst) const {
    const Conv2dParams& p = g_.params;
    const int64_t taps = g_.kernel_h * g_.kernel_w;
    int64_t channel = k0 / taps, di = k0 % taps / g_.kernel_w, dj = k0 % g_.kernel_w;
    for (int64_t k = 0; k < kc; ++k, dst += kGemmNR) {
      const int64_t ih = oh * p.stride - p.pad_top + di, iw0 = ow * p.stride - p.pad_left + dj;
      if (ih < 0 || ih >= g_.in_h) {
        std::fill(dst, dst + len, 0.0f);
      } else if (const float* row = image_ + (channel * g_.in_h + ih) * g_.in_w;
                 iw0 >= 0 && iw0 + (len - 1) * p.stride < g_.in_w) {  // inside the image: a plain copy
        for (int64_t x = 0; x < len; ++x) dst[x] = row[iw0 + x * p.stride];
      } else {
        for (int64_t x = 0; x < len; ++x) {
          const int64_t iw = iw0 + x * p.stride;
          dst[x] = iw >= 0 && iw < g_.in_w ? row[iw] : 0.0f;
        }
      }
      if (++dj == g_.kernel_w) {
        dj = 0;
        if (++di == g_.kernel_h) {
          di = 0;
          ++channel;
        }
      }
    }
  }

  const ConvGeometry& g_;
  const float* image_;
};

}  // namespace

void conv2d(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const Conv2dParams& p = g.params;
  const int64_t K = g.in_channels * g.kernel_h * g.kernel_w, N = g.out_h * g.out_w;
  // A 1x1 convolution without stride or padding multiplies by the image itself: no im2col.
  const bool pointwise = g.kernel_h == 1 && g.kernel_w == 1 && p.stride == 1 && p.pad_top == 0 &&
                         p.pad_bottom == 0 && p.pad_left == 0 && p.pad_right == 0;
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* image = x + n * g.in_channels * g.in_h * g.in_w;
    const GemmOut out{y + n * g.out_channels * N, N, false, bias, nullptr};
    if (pointwise)
      sgemm(g.out_channels, N, K, w, K, StridedB(image, N, 1), out);
    else
      sgemm(g.out_channels, N, K, w, K, Im2colB(g, image), out);
  }
}

}  // namespace websd::cpu
