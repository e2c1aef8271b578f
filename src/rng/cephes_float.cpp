#include "rng/cephes_float.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/bit_cast.h"

// torch's kernel is built with FMA contraction (GCC, -mfma), so each multiply-add that GCC fuses
// there is an explicit std::fma here and every other operation must round on its own.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace websd::cephes {
namespace {

// The coefficients are given as doubles and rounded to float, as the reference kernel stores them.
constexpr float f(double v) { return static_cast<float>(v); }

constexpr float kSqrtHalf = f(0.707106781186547524);
constexpr float kLogP[] = {f(7.0376836292E-2),  f(-1.1514610310E-1), f(1.1676998740E-1),
                           f(-1.2420140846E-1), f(1.4249322787E-1),  f(-1.6668057665E-1),
                           f(2.0000714765E-1),  f(-2.4999993993E-1), f(3.3333331174E-1)};
constexpr float kLogQ1 = f(-2.12194440e-4);
constexpr float kLogQ2 = f(0.693359375);

constexpr float kFourOverPi = f(1.27323954473516);
constexpr float kMinusDp1 = f(-0.78515625);
constexpr float kMinusDp2 = f(-2.4187564849853515625e-4);
constexpr float kMinusDp3 = f(-3.77489497744594108e-8);
constexpr float kSinP[] = {f(-1.9515295891E-4), f(8.3321608736E-3), f(-1.6666654611E-1)};
constexpr float kCosP[] = {f(2.443315711809948E-005), f(-1.388731625493765E-003), f(4.166664568298827E-002)};

constexpr uint32_t kExponentMask = 0x7f800000u;
constexpr uint32_t kSignMask = 0x80000000u;

float flip_sign_if(float v, bool flip) {
  return flip ? websd::bit_cast<float>(websd::bit_cast<uint32_t>(v) ^ kSignMask) : v;
}

}  // namespace

float log(float x) {
  if (!(x > 0.0f)) return std::numeric_limits<float>::quiet_NaN();
  uint32_t bits = websd::bit_cast<uint32_t>(std::max(x, std::numeric_limits<float>::min()));
  int exponent = static_cast<int>(bits >> 23) - 0x7f;
  // Mantissa scaled into [0.5, 1).
  float m = websd::bit_cast<float>((bits & ~kExponentMask) | websd::bit_cast<uint32_t>(0.5f));
  float e = static_cast<float>(exponent) + 1.0f;
  bool below = m < kSqrtHalf;
  float keep = below ? m : 0.0f;
  m = m - 1.0f;
  e = e - (below ? 1.0f : 0.0f);
  m = m + keep;

  float z = m * m;
  float y = kLogP[0];
  for (int i = 1; i < 9; ++i) y = std::fma(y, m, kLogP[i]);
  y = y * m;
  y = std::fma(y, z, e * kLogQ1);
  y = std::fma(-z, 0.5f, y);
  return std::fma(e, kLogQ2, m + y);
}

void sincos(float x, float* sin_out, float* cos_out) {
  bool negative = std::signbit(x);
  x = std::fabs(x);
  // Reduce to octant j (made even) and the remainder against pi/4 in three extended-precision parts.
  int32_t j = static_cast<int32_t>(x * kFourOverPi);
  j = (j + 1) & ~1;
  float y = static_cast<float>(j);
  bool sin_negative = negative != ((j & 4) != 0);
  bool cos_negative = ((~(j - 2)) & 4) != 0;
  bool sin_uses_sin_poly = (j & 2) == 0;
  x = std::fma(y, kMinusDp1, x);
  x = std::fma(y, kMinusDp2, x);
  x = std::fma(y, kMinusDp3, x);

  float z = x * x;
  float cos_poly = std::fma(kCosP[0], z, kCosP[1]);
  cos_poly = std::fma(cos_poly, z, kCosP[2]);
  cos_poly = cos_poly * z;
  cos_poly = std::fma(cos_poly, z, -(z * 0.5f));
  cos_poly = cos_poly + 1.0f;

  float sin_poly = std::fma(kSinP[0], z, kSinP[1]);
  sin_poly = std::fma(sin_poly, z, kSinP[2]);
  sin_poly = sin_poly * z;
  sin_poly = std::fma(sin_poly, x, x);

  *sin_out = flip_sign_if(sin_uses_sin_poly ? sin_poly : cos_poly, sin_negative);
  *cos_out = flip_sign_if(sin_uses_sin_poly ? cos_poly : sin_poly, cos_negative);
}

}  // namespace websd::cephes
