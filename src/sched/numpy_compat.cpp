#include "sched/numpy_compat.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/bit_cast.h"

// numpy rounds every operation on its own; a compiler free to fuse multiply-adds would not.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace websd::sched::np {

std::vector<double> linspace(double start, double stop, int num) {
  if (num <= 1) return linspace_open(start, stop, num);
  double step = (stop - start) / (num - 1);
  std::vector<double> out(num);
  for (int i = 0; i < num; ++i) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

std::vector<double> linspace_open(double start, double stop, int num) {
  std::vector<double> out(num > 0 ? num : 0);
  double step = (stop - start) / num;
  for (int i = 0; i < num; ++i) out[i] = i * step + start;
  return out;
}

std::vector<double> arange(double start, double stop, double step) {
  double length = std::ceil((stop - start) / step);
  std::vector<double> out;
  if (!(length > 0)) return out;
  out.resize(static_cast<size_t>(length));
  out[0] = start;
  if (out.size() == 1) return out;
  double delta = (start + step) - start;
  for (size_t i = 1; i < out.size(); ++i) out[i] = start + static_cast<double>(i) * delta;
  return out;
}

double round(double x) {
  // nearbyint follows the current rounding mode, which is round-half-to-even unless changed.
  return std::nearbyint(x);
}

double interp(double x, const std::vector<float>& fp) {
  size_t n = fp.size();
  if (x <= 0.0) return fp[0];
  if (x >= static_cast<double>(n - 1)) return fp[n - 1];
  size_t j = static_cast<size_t>(std::floor(x));
  if (static_cast<double>(j) == x) return fp[j];
  // The knots are one apart, so numpy's slope is just the difference of neighbours.
  double slope = static_cast<double>(fp[j + 1]) - fp[j];
  return slope * (x - static_cast<double>(j)) + fp[j];
}

float log_f32(float x) {
  if (x == 0.0f) return -std::numeric_limits<float>::infinity();
  // x = m * 2^e with m in (sqrt(1/2), sqrt(2)]; log(m) = P(m - 1) / Q(m - 1), evaluated with
  // fused multiply-adds as the kernel does.
  static constexpr float kP[] = {0.0f, 9.999999999999998702752e-01f, 2.112677543073053063722e+00f,
                                 1.480000633576506585156e+00f, 3.808837741388407920751e-01f,
                                 2.589979117907922693523e-02f};
  static constexpr float kQ[] = {1.0f, 2.612677543073109236779e+00f, 2.453006071784736363091e+00f,
                                 9.864942958519418960339e-01f, 1.546476374983906719538e-01f,
                                 5.875095403124574342950e-03f};
  uint32_t bits = websd::bit_cast<uint32_t>(x);
  float exponent = static_cast<float>(static_cast<int32_t>(bits >> 23) - 126);
  float m = websd::bit_cast<float>((bits & 0x7fffffu) | (126u << 23));
  if (m <= 0.707106781186547524400844362104849039f) {
    m = m + m;
    exponent = exponent - 1.0f;
  }
  float y = m - 1.0f;
  float num = kP[5], den = kQ[5];
  for (int i = 4; i >= 0; --i) {
    num = std::fma(num, y, kP[i]);
    den = std::fma(den, y, kQ[i]);
  }
  return std::fma(exponent, 0.693147180559945309417232121458176568f, num / den);
}

}  // namespace websd::sched::np
