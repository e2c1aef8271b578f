#pragma once
#include <algorithm>
#include <cstdint>

#include "core/bit_cast.h"

namespace websd::cpu {

// A signed integer that orders like the float it is made from (flips the magnitude bits of
// negatives); applying it twice gives the bits back.
inline int32_t float_order_key(int32_t bits) {
  const int32_t sign_mask = -static_cast<int32_t>(static_cast<uint32_t>(bits) >> 31);  // 0 or all ones
  return bits ^ (sign_mask & 0x7fffffff);
}

// x clamped to [lo, hi] with integer min/max. A float compare would do, but GCC then threads the
// constant-clamped case into its own branch and, as float ops "may trap", no longer vectorises
// the loop around it.
inline float clamp_vectorizable(float x, float lo, float hi) {
  const int32_t k = std::clamp(float_order_key(websd::bit_cast<int32_t>(x)), float_order_key(websd::bit_cast<int32_t>(lo)),
                               float_order_key(websd::bit_cast<int32_t>(hi)));
  return websd::bit_cast<float>(float_order_key(k));
}

// e^x to within 1 ulp for x in [-87, 88]; inputs beyond give e^-87 (1.6e-38) or e^88, NaN gives
// NaN. std::exp is a library call that keeps a loop scalar; this is plain arithmetic without
// branches, so loops over it vectorise (softmax and SiLU spend their time here).
inline float exp_approx(float in) {
  const float x = clamp_vectorizable(in, -87.0f, 88.0f);
  // x = n·ln2 + r with |r| <= ln2/2. Adding 1.5·2^23 rounds x·log2(e) to the integer n, which
  // then sits in the low bits of t (no rounding instruction needed: SSE2 has none); ln2 is split
  // in two so that n·ln2 is exact.
  constexpr float kShift = 12582912.0f;
  const float t = x * 1.44269504089f + kShift;
  const float n = t - kShift;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  // Minimax polynomial for e^r on that interval (Cephes' expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  // Multiply by 2^n, built from its exponent bits.
  const int32_t n_int = websd::bit_cast<int32_t>(t) - websd::bit_cast<int32_t>(kShift);
  const float y = p * websd::bit_cast<float>((n_int + 127) << 23);
  // Let a NaN through, selecting with integer masks for the same reason as the clamp.
  const int32_t in_bits = websd::bit_cast<int32_t>(in);
  const int32_t nan_mask = -static_cast<int32_t>((in_bits & 0x7fffffff) > 0x7f800000);
  return websd::bit_cast<float>((websd::bit_cast<int32_t>(y) & ~nan_mask) | (in_bits & nan_mask));
}

// x · sigmoid(k·x): SiLU for k = 1, QuickGELU for k = 1.702.
inline float x_sigmoid(float x, float k) { return x / (1.0f + exp_approx(-k * x)); }

}  // namespace websd::cpu
