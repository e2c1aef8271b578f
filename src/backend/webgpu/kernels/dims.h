#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace websd::wgsl {

// The sizes a kernel reads at run time from a uniform block rather than baking into its source, so
// that one pipeline serves every shape of an op: the first picture waits on compiling pipelines,
// one per distinct source (docs/performance.md, "One pipeline for every shape"). What the source
// still bakes in (tile shapes, kernel taps, fused ops, bindings) is what its cache key names.
// The source declares `struct Dims` and `var<uniform> d: Dims` (u32 fields, read as d.NAME); each
// dispatch passes the values of the same fields in the same order.
// A float32 value as a u32 field (the kernel reads it back with bitcast<f32>), or as the bits of
// a literal: a decimal literal would be rounded again.
uint32_t f32_bits(float value);

struct Dim {
  const char* name;
  uint32_t value;
};

class Dims {
 public:
  Dims() = default;
  Dims(std::initializer_list<Dim> dims) : dims_(dims) {}
  Dims& add(const char* name, uint32_t value);
  void set(const char* name, uint32_t value);  // a field added before (a range's first row, say)
  // The struct, and the uniform at `binding` of group 0.
  std::string declare(uint32_t binding) const;
  // The values as the uniform's bytes (valid while this Dims lives and is not changed).
  std::span<const uint8_t> bytes() const;

 private:
  std::vector<Dim> dims_;
  mutable std::vector<uint32_t> values_;
};

}  // namespace websd::wgsl
