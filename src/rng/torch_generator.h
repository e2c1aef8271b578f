#pragma once
#include <cstdint>
#include <optional>
#include <random>

#include "core/tensor.h"

namespace websd {

// Reproduces torch.Generator("cpu").manual_seed(seed) and torch.randn(shape, generator=...) bit for
// bit (float32), so that a seed gives the same latents as a diffusers pipeline. Successive calls
// consume the generator's state exactly as torch does, including the Box-Muller sample that torch
// caches between calls on the small-tensor path.
class TorchGenerator {
 public:
  explicit TorchGenerator(uint64_t seed);

  HostTensor randn(const Shape& shape);

 private:
  // torch splits every draw into two paths: tensors of 16+ elements are filled in blocks of 16
  // from 24-bit float uniforms; smaller ones draw one double-precision normal per element.
  void fill_blocks(float* data, size_t size);
  void fill_block16(float* block);
  float next_float_uniform();
  double next_double_uniform();
  double next_double_normal();

  std::mt19937 engine_;  // torch's CPU engine is the standard MT19937, seeded with the low 32 bits
  std::optional<double> cached_normal_;
};

}  // namespace websd
