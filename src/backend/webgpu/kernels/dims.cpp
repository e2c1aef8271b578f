#include "backend/webgpu/kernels/dims.h"

#include <cstring>

#include "core/error.h"

namespace websd::wgsl {

uint32_t f32_bits(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

Dims& Dims::add(const char* name, uint32_t value) {
  dims_.push_back({name, value});
  return *this;
}

void Dims::set(const char* name, uint32_t value) {
  for (Dim& d : dims_) {
    if (std::strcmp(d.name, name) == 0) {
      d.value = value;
      return;
    }
  }
  throw Error(std::string("webgpu backend: a kernel's uniform has no field ") + name);
}

std::string Dims::declare(uint32_t binding) const {
  std::string src = "struct Dims {";
  for (const Dim& d : dims_) src.append(" ").append(d.name).append(": u32,");
  return src + " }\n@group(0) @binding(" + std::to_string(binding) + ") var<uniform> d: Dims;\n";
}

std::span<const uint8_t> Dims::bytes() const {
  values_.clear();
  for (const Dim& d : dims_) values_.push_back(d.value);
  return {reinterpret_cast<const uint8_t*>(values_.data()), values_.size() * sizeof(uint32_t)};
}

}  // namespace websd::wgsl
