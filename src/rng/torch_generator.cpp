#include "rng/torch_generator.h"

#include <cmath>
#include <numbers>

#include "rng/cephes_float.h"

namespace websd {

TorchGenerator::TorchGenerator(uint64_t seed) : engine_(static_cast<uint32_t>(seed)) {}

float TorchGenerator::next_float_uniform() {
  // torch keeps the low 24 bits (float's mantissa) of one 32-bit draw.
  return static_cast<float>(engine_() & 0xFFFFFFu) * (1.0f / 16777216.0f);
}

double TorchGenerator::next_double_uniform() {
  // Two 32-bit draws make one 64-bit value (first draw high); torch keeps the low 53 bits.
  uint64_t hi = engine_();
  uint64_t lo = engine_();
  uint64_t bits = (hi << 32) | lo;
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double TorchGenerator::next_double_normal() {
  if (cached_normal_) {
    double value = *cached_normal_;
    cached_normal_.reset();
    return value;
  }
  double u1 = next_double_uniform();
  double u2 = next_double_uniform();
  double radius = std::sqrt(-2.0 * std::log1p(-u2));
  double theta = 2.0 * std::numbers::pi * u1;
  cached_normal_ = radius * std::sin(theta);
  return radius * std::cos(theta);
}

void TorchGenerator::fill_block16(float* block) {
  // Mirrors torch's AVX2 kernel (the one x86 builds run): float arithmetic throughout, with the
  // Cephes log/sincos approximations.
  const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
  for (int j = 0; j < 8; ++j) {
    float u1 = 1.0f - block[j];  // [0, 1) -> (0, 1] so the log is finite
    float u2 = block[j + 8];
    float radius = std::sqrt(-2.0f * cephes::log(u1));
    float sin_theta, cos_theta;
    cephes::sincos(two_pi * u2, &sin_theta, &cos_theta);
    block[j] = radius * cos_theta;
    block[j + 8] = radius * sin_theta;
  }
}

void TorchGenerator::fill_blocks(float* data, size_t size) {
  for (size_t i = 0; i < size; ++i) data[i] = next_float_uniform();
  for (size_t i = 0; i + 16 <= size; i += 16) fill_block16(data + i);
  if (size % 16 != 0) {
    // torch redraws the whole last block of 16 (overlapping values already done) from fresh uniforms.
    float* tail = data + size - 16;
    for (size_t i = 0; i < 16; ++i) tail[i] = next_float_uniform();
    fill_block16(tail);
  }
}

HostTensor TorchGenerator::randn(const Shape& shape) {
  HostTensor out(shape);
  size_t size = out.data.size();
  if (size >= 16) {
    fill_blocks(out.data.data(), size);
  } else {
    for (float& v : out.data) v = static_cast<float>(next_double_normal());
  }
  return out;
}

}  // namespace websd
