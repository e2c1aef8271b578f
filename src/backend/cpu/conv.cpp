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
    const Conv2dParams& p = g_.params;
    const int64_t taps = g_.kernel_h * g_.kernel_w;
    for (int64_t j = 0; j < nc; j += kGemmNR, dst += kc * kGemmNR) {
      // Input coordinates of each column's receptive field corner; padding columns past nc
      // get a corner no tap can bring back inside the image.
      int64_t top[kGemmNR], left[kGemmNR];
      for (int64_t x = 0; x < kGemmNR; ++x) {
        const int64_t n = n0 + j + x;
        top[x] = j + x < nc ? n / g_.out_w * p.stride - p.pad_top : -g_.kernel_h;
        left[x] = n % g_.out_w * p.stride - p.pad_left;
      }
      for (int64_t k = 0; k < kc; ++k) {
        const int64_t channel = (k0 + k) / taps, tap = (k0 + k) % taps;
        const int64_t di = tap / g_.kernel_w, dj = tap % g_.kernel_w;
        const float* plane = image_ + channel * g_.in_h * g_.in_w;
        float* d = dst + k * kGemmNR;
        for (int64_t x = 0; x < kGemmNR; ++x) {
          const int64_t ih = top[x] + di, iw = left[x] + dj;
          d[x] = ih >= 0 && ih < g_.in_h && iw >= 0 && iw < g_.in_w ? plane[ih * g_.in_w + iw] : 0.0f;
        }
      }
    }
  }

 private:
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
